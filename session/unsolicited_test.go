package session_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
)

// rawServer is a scripted SMTP/LMTP server written from RFC 5321, 3030
// and 2033, sharing nothing with the client or smtptest: it reads command
// lines (and DATA bodies, BDAT chunks), answers each with a fixed reply,
// and glues extra bytes (an early or unsolicited reply) to the reply of
// one chosen command. It records every message it took in full.
type rawServer struct {
	ln   net.Listener
	ext  []string // EHLO keywords
	lmtp bool
	// glueTo is the command ("GREETING", "MAIL", "DATA" (the 354), "BDAT"
	// (the first chunk's reply), "END" (the final reply), "QUIT") whose reply
	// gets extra appended, in the same write.
	glueTo, extra string

	mu       sync.Mutex
	stored   int    // messages received with their terminator (or BDAT LAST)
	afterEnd string // bytes read after the extra was sent
	glued    bool
	conn     net.Conn
	done     chan struct{}
}

func newRawServer(t *testing.T, ext []string, lmtp bool, glueTo, extra string) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, ext: ext, lmtp: lmtp, glueTo: glueTo, extra: extra, done: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
		<-s.done
	})
	return s
}

func (s *rawServer) serve() {
	defer close(s.done)
	conn, err := s.ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	r := bufio.NewReader(conn)
	w := func(cmd, reply string) {
		s.mu.Lock()
		if cmd == s.glueTo && !s.glued {
			reply += s.extra
			s.glued = true
		}
		s.mu.Unlock()
		io.WriteString(conn, reply)
	}
	w("GREETING", "220 raw.test ESMTP\r\n")
	rcpts, firstChunk := 0, true
	for {
		line, err := r.ReadString('\n')
		s.note(line)
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.ToUpper(strings.TrimRight(line, "\r\n")), " ")
		switch verb {
		case "EHLO", "LHLO":
			verb = "EHLO"
			reply := "250-raw.test\r\n"
			for i, e := range s.ext {
				sep := "-"
				if i == len(s.ext)-1 {
					sep = " "
				}
				reply += "250" + sep + e + "\r\n"
			}
			if len(s.ext) == 0 {
				reply = "250 raw.test\r\n"
			}
			w(verb, reply)
		case "MAIL":
			rcpts, firstChunk = 0, true
			w("MAIL", "250 2.1.0 ok\r\n")
		case "RCPT":
			rcpts++
			w("RCPT", "250 2.1.5 ok\r\n")
		case "DATA":
			w("DATA", "354 go\r\n")
			body, err := readDot(r)
			s.note(body)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.stored++
			s.mu.Unlock()
			w("END", s.finals(rcpts))
		case "BDAT":
			size, rest, _ := strings.Cut(arg, " ")
			n, _ := strconv.Atoi(size)
			data := make([]byte, n)
			if _, err := io.ReadFull(r, data); err != nil {
				return
			}
			s.note(string(data))
			if strings.Contains(rest, "LAST") {
				s.mu.Lock()
				s.stored++
				s.mu.Unlock()
				w("END", s.finals(rcpts))
				continue
			}
			cmd := ""
			if firstChunk {
				cmd = "BDAT"
			}
			firstChunk = false
			w(cmd, "250 2.0.0 chunk ok\r\n")
		case "QUIT":
			w("QUIT", "221 2.0.0 bye\r\n")
			return
		default:
			w(verb, "250 2.0.0 ok\r\n")
		}
	}
}

// finals is the reply to the end of data: one, or one per recipient (LMTP).
func (s *rawServer) finals(rcpts int) string {
	if !s.lmtp {
		return "250 2.0.0 queued\r\n"
	}
	return strings.Repeat("250 2.0.0 saved\r\n", max(rcpts, 1))
}

func (s *rawServer) note(b string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.glued {
		s.afterEnd += b
	}
}

func readDot(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == ".\r\n" {
			return b.String(), nil
		}
	}
}

func (s *rawServer) result() (stored int, after string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored, s.afterEnd
}

// Early and unsolicited replies, at every position, in every mode: a
// reply the server sends before it can have read the command it seems to
// answer is never taken as that answer. The message is never reported
// delivered unless the server stored it, the call gets a *PeerError
// (ErrUnsolicited), and no message is completed after the extra reply.
func TestUnsolicitedReplies(t *testing.T) {
	const body = "Subject: x\r\n\r\n" + "0123456789abcdef0123456789abcdef\r\n"
	modes := []struct {
		name  string
		ext   []string
		lmtp  bool
		batch bool
	}{
		{"plain", []string{"8BITMIME"}, false, false},
		{"pipelining", []string{"PIPELINING"}, false, false},
		{"chunking", []string{"CHUNKING"}, false, false},
		{"pipelining+chunking", []string{"PIPELINING", "CHUNKING"}, false, false},
		{"lmtp", []string{"PIPELINING"}, true, false},
		{"lmtp+chunking", []string{"PIPELINING", "CHUNKING"}, true, false},
		{"batch", []string{"PIPELINING"}, false, true},
		{"batch+chunking", []string{"PIPELINING", "CHUNKING"}, false, true},
	}
	positions := []struct {
		glueTo, extra string
		data, bdat    bool // applies with DATA, with BDAT
		delivers      bool // the server had stored the message before the extra
		// pipelined: with PIPELINING the client has already written the
		// next command when the extra arrives, so the extra is
		// indistinguishable from that command's reply (the one case no
		// client can detect, see the protocol package doc); only the
		// promise (nothing reported delivered that was not stored) holds.
		pipelined bool
	}{
		{"GREETING", "250 extra\r\n", true, true, false, false},
		{"EHLO", "250 extra\r\n", true, true, false, false},
		{"MAIL", "250 2.1.5 early rcpt ok\r\n", true, true, false, true},
		{"DATA", "250 2.0.0 queued early\r\n", true, false, false, false},
		{"DATA", "550 5.7.1 no\r\n", true, false, false, false},
		{"BDAT", "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 2.0.0 queued early\r\n", false, true, false, true},
		{"END", "250 extra\r\n", true, true, true, true},
	}
	for _, m := range modes {
		for _, p := range positions {
			chunked := strings.Contains(m.name, "chunking")
			if chunked && !p.bdat || !chunked && !p.data {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s/%q", m.name, p.glueTo, p.extra), func(t *testing.T) {
				s := newRawServer(t, m.ext, m.lmtp, p.glueTo, p.extra)
				ctx := ctxTimeout(t)
				o := opts()
				o.LMTP = m.lmtp
				o.ChunkSize = 16 // several chunks
				var d net.Dialer
				conn, err := d.DialContext(ctx, "tcp", s.ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				c, err := session.NewClient(ctx, conn, "raw.test", o)
				if p.glueTo == "GREETING" {
					if !errors.Is(err, protocol.ErrUnsolicited) {
						t.Fatalf("NewClient = %v, want ErrUnsolicited", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				defer c.Close()
				envs := []session.Envelope{{From: "a@x.test", To: []string{"b@y.test", "c@y.test"}, Body: strings.NewReader(body)}}
				if m.batch {
					envs = append(envs, session.Envelope{From: "d@x.test", To: []string{"e@y.test"}, Body: strings.NewReader(body)})
				}
				res := c.SendBatch(ctx, envs)
				delivered := 0
				for _, r := range res {
					if r.Err == nil {
						delivered++
					}
				}
				ambiguous := p.pipelined && slices.Contains(m.ext, "PIPELINING") && (p.glueTo != "END" || m.batch)
				var noopErr error
				if !ambiguous {
					_, noopErr = c.Noop(ctx)
				}
				// Let the server take in everything the client wrote
				// before its store is read.
				c.Close()
				s.ln.Close()
				s.mu.Lock()
				if s.conn != nil {
					s.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				}
				s.mu.Unlock()
				<-s.done
				stored, after := s.result()
				if delivered > stored {
					t.Fatalf("%d messages reported delivered, the server stored %d: %+v", delivered, stored, res)
				}
				switch {
				case ambiguous:
					// Only the promise, checked above, can be asked for.
				case p.delivers:
					// The extra came after the message's own replies: the
					// message was delivered; the next call must fail.
					if !errors.Is(noopErr, protocol.ErrUnsolicited) && !errors.Is(noopErr, session.ErrClosed) {
						t.Fatalf("Noop after the unsolicited reply = %v, want the PeerError", noopErr)
					}
				case delivered != 0 || !errors.Is(res[0].Err, protocol.ErrUnsolicited):
					t.Fatalf("first message: %v, want ErrUnsolicited and nothing delivered", res[0].Err)
				}
				if !ambiguous && (strings.Contains(after, "\r\n.\r\n") || strings.Contains(after, " LAST")) {
					t.Fatalf("the client completed a message after the unsolicited reply: %q", after)
				}
				if noopErr == nil && !ambiguous {
					t.Fatal("the client went on talking after the unsolicited reply")
				}
			})
		}
	}
}
