package session_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// patternReader yields n bytes of text lines, some starting with a dot.
type patternReader struct {
	n, off int
}

const patternLine = ".dotted line of text 0123456789\r\nplain line\r\n"

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := 0
	for k < len(b) && p.off < p.n {
		b[k] = patternLine[p.off%len(patternLine)]
		k++
		p.off++
	}
	return k, nil
}

func TestSendMailLarge(t *testing.T) {
	const size = 3 * len(patternLine) << 14 // about 2 MiB, whole lines
	want := make([]byte, size)
	if _, err := io.ReadFull(&patternReader{n: size}, want); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  smtptest.Config
		o    session.Options
	}{
		{"DATA", smtptest.Config{DisableChunking: true}, session.Options{}},
		{"BDAT pipelined", smtptest.Config{}, session.Options{ChunkSize: 16 << 10}},
		{"BDAT lock-step", smtptest.Config{DisablePipelining: true}, session.Options{ChunkSize: 256 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr transportKind) {
				s := newServer(t, tt.cfg)
				o := tt.o
				o.LocalName = "client.test"
				c := connect(t, tr, s, &o)
				ctx := ctxTimeout(t)
				if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, &patternReader{n: size}, nil); err != nil {
					t.Fatalf("SendMail: %v", err)
				}
				msgs := s.Messages()
				if len(msgs) != 1 || !bytes.Equal(msgs[0].Data, want) {
					t.Fatalf("stored message differs from the body sent (%d messages)", len(msgs))
				}
			})
		})
	}
}

func TestSendMailTooLargeForServer(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		t.Run(map[bool]string{false: "DATA", true: "BDAT"}[chunking], func(t *testing.T) {
			s := newServer(t, smtptest.Config{DisableChunking: !chunking, MaxMessageBytes: 1000})
			o := opts()
			o.ChunkSize = 128
			c := connect(t, transports[0], s, o)
			ctx := ctxTimeout(t)
			_, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, &patternReader{n: 5000}, nil)
			var de *session.DataError
			if !errors.As(err, &de) || de.Reply.Code != 552 {
				t.Fatalf("SendMail = %v, want a 552 *DataError", err)
			}
			// The connection is still in step with the server.
			if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("small\r\n"), nil); err != nil {
				t.Fatalf("SendMail after the refusal: %v", err)
			}
			if n := len(s.Messages()); n != 1 {
				t.Errorf("stored %d messages, want 1", n)
			}
		})
	}
}

func TestDataTermTimeout(t *testing.T) {
	defer test.CheckRoutines(t)()
	s := smtptest.NewServer(smtptest.Config{DisableChunking: true, Hook: func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Kind == smtptest.HookDataEnd {
			return smtptest.Action{Delay: time.Minute}
		}
		return smtptest.Action{}
	}})
	defer s.Close()
	o := opts()
	o.Timeouts.DataTerm = 20 * time.Millisecond
	c, err := session.NewClient(context.Background(), s.Pipe(), serverName, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.SendMail(context.Background(), "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil)
	if !errors.Is(err, session.ErrDeliveryUnknown) || !errors.Is(err, session.ErrTimeout) {
		t.Fatalf("SendMail = %v, want delivery unknown after a time-out", err)
	}
}

func TestLMTPOverTCP(t *testing.T) {
	s := newServer(t, smtptest.Config{LMTP: true})
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t)
	c, err := session.DialLMTP(ctx, addr.String(), opts())
	if err != nil {
		t.Fatalf("DialLMTP: %v", err)
	}
	defer c.Close()
	res, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("x\r\n"), nil)
	if err != nil || len(res.Recipients) != 1 || res.Recipients[0].Err != nil {
		t.Fatalf("SendMail = %+v, %v", res, err)
	}
}

func TestNilContext(t *testing.T) {
	s := newServer(t, smtptest.Config{})
	//lint:ignore SA1012 testing the nil-context guard
	if _, err := session.NewClient(nil, s.Pipe(), serverName, opts()); !errors.Is(err, session.ErrNilContext) { //nolint:staticcheck
		t.Errorf("NewClient(nil ctx) = %v, want ErrNilContext", err)
	}
	c := connect(t, transports[0], s, nil)
	//lint:ignore SA1012 testing the nil-context guard
	if _, err := c.Noop(nil); !errors.Is(err, session.ErrNilContext) { //nolint:staticcheck
		t.Errorf("Noop(nil ctx) = %v, want ErrNilContext", err)
	}
}

// TestSendMailStreams checks that a body is streamed: sending 8 MiB over
// loopback TCP to a server that discards it allocates far less than the
// body's size (the whole process is measured, server included).
func TestSendMailStreams(t *testing.T) {
	const size = 8 << 20
	for _, chunking := range []bool{false, true} {
		t.Run(map[bool]string{false: "DATA", true: "BDAT"}[chunking], func(t *testing.T) {
			s := newServer(t, smtptest.Config{DisableChunking: !chunking, Discard: true})
			c := connect(t, transports[1], s, nil)
			ctx := ctxTimeout(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, &patternReader{n: size}, nil); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			runtime.ReadMemStats(&after)
			grew := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %d KiB for a %d KiB message", grew>>10, size>>10)
			if grew > size/4 {
				t.Errorf("allocated %d bytes to send %d: the body is not streamed", grew, size)
			}
			if msgs := s.Messages(); len(msgs) != 1 || msgs[0].Size < size {
				t.Errorf("server saw %+v", msgs)
			}
		})
	}
}
