package session_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// failingBody returns n bytes of message text, then fails its way.
type failingBody struct {
	n    int
	how  string // "eof", "wrapped-eof", "unexpected-eof", "custom", "no-progress", "panic"
	sent int
}

var errCustomBody = errors.New("archive: checksum mismatch")

func (b *failingBody) Read(p []byte) (int, error) {
	if b.sent < b.n {
		k := min(len(p), b.n-b.sent)
		for i := range p[:k] {
			p[i] = "0123456789abcdef\r\n"[(b.sent+i)%18]
		}
		b.sent += k
		return k, nil
	}
	switch b.how {
	case "eof":
		return 0, io.EOF
	case "wrapped-eof":
		return 0, fmt.Errorf("gzip: %w", io.EOF)
	case "unexpected-eof":
		return 0, io.ErrUnexpectedEOF
	case "custom":
		return 0, errCustomBody
	case "no-progress":
		return 0, nil
	}
	panic("body reader exploded")
}

// The body-reader matrix: a message ends only at a bare io.EOF. Every
// other ending of the reader (a wrapped EOF, io.ErrUnexpectedEOF, any
// error, (0, nil) for ever, a panic) abandons it: the server never stores
// a terminated message, and the call fails (or panics, for the panic).
func TestBodyReaderEndings(t *testing.T) {
	for _, how := range []string{"eof", "wrapped-eof", "unexpected-eof", "custom", "no-progress", "panic"} {
		for _, chunking := range []bool{false, true} {
			for _, pipelining := range []bool{false, true} {
				for _, size := range []int{100, 200 << 10} { // one chunk, many
					name := fmt.Sprintf("%s/chunking=%v/pipelining=%v/%d", how, chunking, pipelining, size)
					t.Run(name, func(t *testing.T) {
						s := newServer(t, smtptest.Config{DisableChunking: !chunking, DisablePipelining: !pipelining})
						o := opts()
						o.ChunkSize = 64 << 10
						c := connect(t, transports[0], s, o)
						ctx := ctxTimeout(t)
						body := &failingBody{n: size, how: how}
						var err error
						panicked := func() (p any) {
							defer func() { p = recover() }()
							_, err = c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, body, nil)
							return nil
						}()
						stored := len(s.Messages())
						if how == "eof" {
							if err != nil || stored != 1 {
								t.Fatalf("bare EOF: SendMail = %v, %d stored; want delivered once", err, stored)
							}
							return
						}
						if stored != 0 {
							t.Fatalf("the server stored %d message(s) from a body that ended with %s", stored, how)
						}
						if how == "panic" {
							if panicked == nil {
								t.Fatal("the reader's panic did not go on")
							}
							if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
								t.Fatalf("Noop after a panicking body = %v, want ErrClosed", err)
							}
							return
						}
						if err == nil {
							t.Fatal("SendMail reported success for a broken body")
						}
						want := map[string]error{"wrapped-eof": io.EOF, "unexpected-eof": io.ErrUnexpectedEOF,
							"custom": errCustomBody, "no-progress": io.ErrNoProgress}[how]
						if !errors.Is(err, want) {
							t.Fatalf("SendMail = %v, want it to wrap %v", err, want)
						}
						if chunking {
							// BDAT: the transaction was reset at a chunk
							// boundary; the connection goes on.
							if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("ok\r\n"), nil); err != nil || len(s.Messages()) != 1 {
								t.Fatalf("the next message after a reset: %v, %d stored", err, len(s.Messages()))
							}
						} else if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
							t.Fatalf("DATA: Noop after an abandoned body = %v, want ErrClosed", err)
						}
					})
				}
			}
		}
	}
}
