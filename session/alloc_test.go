package session_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
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
	rcpts  int
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
		n := 0
		for _, b := range l[len("BDAT "):] {
			if b < '0' || b > '9' {
				break
			}
			n = n*10 + int(b-'0')
		}
		c.skip = n
		if n == 0 {
			c.out.WriteString("250 2.0.0 ok\r\n")
		}
	case bytes.HasPrefix(l, []byte("QUIT")):
		c.out.WriteString("221 bye\r\n")
	case bytes.HasPrefix(l, []byte("RCPT")):
		// Each recipient its own reply text (as sendmail gives), so that
		// no two replies in a row are the same bytes.
		c.rcpts++
		c.out.WriteString("250 2.1.5 recipient ")
		c.out.WriteString(strconv.Itoa(c.rcpts % 100))
		c.out.WriteString(" ok\r\n")
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

// patternBody is n bytes of 76-character lines, made on the fly.
type patternBody struct{ n, off int }

func (b *patternBody) Read(p []byte) (int, error) {
	if b.off >= b.n {
		return 0, io.EOF
	}
	k := min(len(p), b.n-b.off)
	for i := range p[:k] {
		if (b.off+i)%78 >= 76 {
			p[i] = "\r\n"[(b.off+i)%78-76]
		} else {
			p[i] = 'a' + byte((b.off+i)%26)
		}
	}
	b.off += k
	return k, nil
}

// A 100 MiB body streams in bounded memory: at most 100 allocations and
// less than 0.25 MiB of heap growth, on DATA and on BDAT.
func TestLargeBodyMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MiB through the client; run without -short")
	}
	for _, tt := range []struct{ name, ext string }{
		{"BDAT", "250-PIPELINING\r\n250 CHUNKING\r\n"},
		{"DATA", "250 PIPELINING\r\n"},
	} {
		ctx := context.Background()
		c, err := session.NewClient(ctx, newSinkConn(tt.ext), "sink.test", &session.Options{LocalName: "client.test"})
		if err != nil {
			t.Fatal(err)
		}
		// Warm the buffers with a first, small message.
		if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, &patternBody{n: 200 << 10}, nil); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, &patternBody{n: 100 << 20}, nil); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		mallocs := after.Mallocs - before.Mallocs
		growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		t.Logf("%s: 100 MiB body: %d mallocs, heap growth %d bytes", tt.name, mallocs, growth)
		if mallocs > 100 || growth >= 256<<10 {
			t.Errorf("%s: 100 MiB body: %d mallocs (budget 100), heap growth %d bytes (budget < 256 KiB)", tt.name, mallocs, growth)
		}
	}
}
