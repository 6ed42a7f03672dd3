package session_test

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postwire/postwire/session"
)

// sinkConn is an in-memory server with no goroutine and no allocation of
// its own once warm: every command line written gets a canned positive
// reply (DATA: 354, then the body is skipped to its dot; BDAT n: the n
// bytes are skipped), so that testing.AllocsPerRun counts the client's
// allocations alone.
type sinkConn struct {
	in     []byte // partial line
	out    bytes.Buffer
	skip   int
	inData bool
	ehlo   string
}

func newSinkConn(ext string) *sinkConn {
	c := &sinkConn{ehlo: "250-sink.test\r\n" + ext}
	c.out.WriteString("220 sink.test ESMTP\r\n")
	return c
}

func (c *sinkConn) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if c.skip > 0 {
			k := min(c.skip, len(p))
			c.skip -= k
			p = p[k:]
			if c.skip == 0 {
				c.out.WriteString("250 2.0.0 ok\r\n")
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.in = append(c.in, p...)
			break
		}
		c.in = append(c.in, p[:i+1]...)
		p = p[i+1:]
		c.line(c.in)
		c.in = c.in[:0]
	}
	return n, nil
}

func (c *sinkConn) line(l []byte) {
	if c.inData {
		if string(l) == ".\r\n" {
			c.inData = false
			c.out.WriteString("250 2.0.0 queued\r\n")
		}
		return
	}
	switch {
	case bytes.HasPrefix(l, []byte("EHLO")):
		c.out.WriteString(c.ehlo)
	case bytes.HasPrefix(l, []byte("DATA")):
		c.inData = true
		c.out.WriteString("354 go\r\n")
	case bytes.HasPrefix(l, []byte("BDAT ")):
		f := bytes.Fields(l)
		n, _ := strconv.Atoi(string(f[1]))
		c.skip = n
		if n == 0 {
			c.out.WriteString("250 2.0.0 ok\r\n")
		}
	case bytes.HasPrefix(l, []byte("QUIT")):
		c.out.WriteString("221 bye\r\n")
	default:
		c.out.WriteString("250 2.1.0 ok\r\n")
	}
}

func (c *sinkConn) Read(p []byte) (int, error) {
	if c.out.Len() == 0 {
		return 0, nil
	}
	return c.out.Read(p)
}

func (c *sinkConn) Close() error                       { return nil }
func (c *sinkConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *sinkConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25} }
func (c *sinkConn) SetDeadline(t time.Time) error      { return nil }
func (c *sinkConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *sinkConn) SetWriteDeadline(t time.Time) error { return nil }

// allocsPerMessage is what one SendMail costs the client in allocations.
func allocsPerMessage(t *testing.T, ext string, rcpts int, body string) float64 {
	t.Helper()
	ctx := context.Background()
	c, err := session.NewClient(ctx, newSinkConn(ext), "sink.test", &session.Options{LocalName: "client.test"})
	if err != nil {
		t.Fatal(err)
	}
	to := make([]string, rcpts)
	for i := range to {
		to[i] = "rcpt" + strconv.Itoa(i) + "@example.org"
	}
	r := strings.NewReader(body)
	send := func() {
		r.Reset(body)
		if _, err := c.SendMail(ctx, "sender@example.com", to, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	send() // greets, warms the buffers
	return testing.AllocsPerRun(200, send)
}

// The allocation budget of issue 9: at most 10 allocations per message at
// one recipient and 20 at ten, on DATA and on BDAT.
func TestAllocationBudget(t *testing.T) {
	body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 16) // 1 KiB
	for _, tt := range []struct {
		name   string
		ext    string
		rcpts  int
		budget float64
	}{
		{"BDAT 1 rcpt", "250-PIPELINING\r\n250 CHUNKING\r\n", 1, 10},
		{"BDAT 10 rcpt", "250-PIPELINING\r\n250 CHUNKING\r\n", 10, 20},
		{"DATA 1 rcpt", "250 PIPELINING\r\n", 1, 10},
		{"DATA 10 rcpt", "250 PIPELINING\r\n", 10, 20},
	} {
		if got := allocsPerMessage(t, tt.ext, tt.rcpts, body); got > tt.budget {
			t.Errorf("%s: %.1f allocations per message, budget %.0f", tt.name, got, tt.budget)
		} else {
			t.Logf("%s: %.1f allocations per message (budget %.0f)", tt.name, got, tt.budget)
		}
	}
}
