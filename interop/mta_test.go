//go:build interop

package interop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/transport"
)

// mta is a full MTA under test: Postfix or Exim, each on a loopback port, delivering every
// accepted recipient's copy into one Maildir (see maildir_test.go).
type mta struct {
	name string
	addr string
	box  *maildir
	// stored is how a message that arrived as want is stored: Postfix writes LF line
	// endings, Exim CRLF.
	stored func(want []byte) []byte
	// proto names the protocol the Received header records.
	proto func(tls, auth, utf8 bool) string
	// received returns the Received pattern for a protocol name.
	received func(proto string) receivedCheck
	// refusedEnhanced is the enhanced code of the 550 refusing a refuse* recipient.
	refusedEnhanced string
}

func mtas(t *testing.T) []mta {
	return []mta{
		{
			name: "Postfix", addr: mustEnv(t, "POSTWIRE_INTEROP_POSTFIX"),
			box:    maildirOf(t, postfixServer, "POSTWIRE_INTEROP_POSTFIX_MAILDIR"),
			stored: asDumped,
			proto: func(tls, auth, utf8 bool) string {
				p := "ESMTP"
				if utf8 {
					p = "UTF8SMTP"
				}
				return p + ifs(tls, "S") + ifs(auth, "A")
			},
			received: postfixReceived, refusedEnhanced: "5.1.1",
		},
		{
			name: "Exim", addr: mustEnv(t, "POSTWIRE_INTEROP_EXIM"),
			box:    maildirOf(t, eximServer, "POSTWIRE_INTEROP_EXIM_MAILDIR"),
			stored: func(want []byte) []byte { return want },
			proto: func(tls, auth, utf8 bool) string {
				return ifs(utf8, "utf8") + "esmtp" + ifs(tls, "s") + ifs(auth, "a")
			},
			received: eximReceived, refusedEnhanced: "5.1.1",
		},
	}
}

func ifs(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

// check reads back every copy of the message from sender (one per recipient), checks the
// prepended headers, and compares the message with what must have arrived.
func (s mta) check(t *testing.T, what, sender string, rcpts []string, proto string, want []byte) {
	t.Helper()
	got := s.box.takeOne(t, sender, rcpts, s.received(proto))
	s.box.count(1, len(rcpts), bytes.Equal(s.stored(want), got))
	checkBytes(t, s.name+" "+what, s.stored(want), got)
}

// TestMain prints, after the tests, how many messages each MTA accepted and how many of the
// files it delivered were checked and byte-identical.
func TestMain(m *testing.M) {
	code := m.Run()
	maildirsMu.Lock()
	for _, b := range maildirs {
		fmt.Printf("interop: %s: %d messages accepted and read back, %d files (one per recipient), %d byte-identical\n",
			b.server.name, b.messages.Load(), b.files.Load(), b.identical.Load())
	}
	maildirsMu.Unlock()
	os.Exit(code)
}

// chunkModes are the two ways the body goes: BDAT (both servers offer CHUNKING) and DATA.
var chunkModes = []struct {
	name    string
	noChunk bool
}{{"BDAT", false}, {"DATA", true}}

// bodyCommands counts the BDAT and DATA commands in a session's debug log.
func bodyCommands(log *lineLog) (bdat, data int) {
	for _, l := range log.Sent() {
		switch {
		case strings.HasPrefix(l, "BDAT "):
			bdat++
		case l == "DATA":
			data++
		}
	}
	return bdat, data
}

// checkBodyCommands fails unless the body went only by BDAT, or with noChunk only by DATA.
func checkBodyCommands(t *testing.T, log *lineLog, noChunk bool) {
	t.Helper()
	bdat, data := bodyCommands(log)
	if noChunk && (bdat != 0 || data == 0) || !noChunk && (data != 0 || bdat == 0) {
		t.Errorf("sent %d BDAT and %d DATA commands with DisableChunking=%v", bdat, data, noChunk)
	}
}

// TestMTACorpus sends the corpus to two recipients with SendMail and SendMessage, by BDAT and
// by DATA, and checks both copies each server delivered.
func TestMTACorpus(t *testing.T) {
	for _, s := range mtas(t) {
		for _, mode := range chunkModes {
			t.Run(s.name+"/"+mode.name, func(t *testing.T) {
				ctx := testContext(t)
				conn, err := transport.Dial(ctx, "tcp", s.addr, transport.Options{})
				if err != nil {
					t.Fatalf("transport.Dial: %v", err)
				}
				wire := &wireLog{Conn: conn}
				log := &lineLog{}
				c, err := session.NewClient(ctx, wire, "127.0.0.1", &session.Options{
					LocalName: "client.postwire.test", DisableChunking: mode.noChunk, Logger: slog.New(log)})
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				defer c.Close()
				if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
					t.Fatalf("EHLO: %v", err)
				}
				for kw, want := range map[string]bool{"PIPELINING": true, "CHUNKING": true, "8BITMIME": true,
					"SMTPUTF8": true, "SIZE": true, "STARTTLS": true, "AUTH": false} {
					if got := c.HasExtension(kw); got != want {
						t.Errorf("HasExtension(%s) = %v, want %v", kw, got, want)
					}
				}
				rcpts := []string{"alice@example.org", "bob@example.org"}
				for _, way := range sendWays {
					for i := range corpus("x@x", rcpts, true) {
						sender := uniqueSender(s.name + "-" + mode.name + "-" + way.name)
						m := corpus(sender, rcpts, true)[i]
						t.Run(way.name+"/"+m.name, func(t *testing.T) {
							res := way.send(t, c, sender, rcpts, m)
							checkAccepted(t, res, rcpts)
							s.check(t, m.name, sender, rcpts, s.proto(false, false, false), m.want)
							// PIPELINING: MAIL, both RCPTs (and DATA) in one write.
							w := wire.writeWith("MAIL FROM:<" + sender + ">")
							need := []string{"RCPT TO:<alice@example.org>", "RCPT TO:<bob@example.org>"}
							if mode.noChunk {
								need = append(need, "DATA\r\n")
							}
							for _, n := range need {
								if !bytes.Contains(w, []byte(n)) {
									t.Errorf("pipelined write %q lacks %q", head(w), n)
								}
							}
						})
					}
				}
				checkBodyCommands(t, log, mode.noChunk)
				if _, err := c.Quit(ctx); err != nil {
					t.Errorf("Quit: %v", err)
				}
			})
		}
	}
}

// TestMTASMTPUTF8 sends with internationalised addresses (the session adds SMTPUTF8 by
// itself); the servers record it in the protocol name.
func TestMTASMTPUTF8(t *testing.T) {
	for _, s := range mtas(t) {
		t.Run(s.name, func(t *testing.T) {
			ctx := testContext(t)
			c := dialPlain(t, ctx, s.addr)
			rcpts := []string{"日本語@例え.jp", "ascii@example.org", "χρήστης@παράδειγμα.δοκιμή"}
			for _, way := range sendWays {
				t.Run(way.name, func(t *testing.T) {
					sender := "jösé-" + strings.TrimSuffix(uniqueSender(s.name+"-utf8-"+way.name), "@postwire.test") + "@bücher.example"
					raw := header("\r\n", sender, rcpts, "SMTPUTF8 Grüße", "MIME-Version: 1.0",
						"Content-Type: text/plain; charset=utf-8") + "Unicode everywhere: ✉️ → 📬\r\n"
					m := message{name: "smtputf8", raw: []byte(raw), want: arrived([]byte(raw))}
					checkAccepted(t, way.send(t, c, sender, rcpts, m), rcpts)
					s.check(t, m.name, sender, rcpts, s.proto(false, false, true), m.want)
				})
			}
			if _, err := c.Quit(ctx); err != nil {
				t.Errorf("Quit: %v", err)
			}
		})
	}
}

// TestMTARefusedRecipient: one recipient of three refused at RCPT (both servers refuse
// refuse*), over BDAT and DATA; then every recipient refused, and the connection goes on.
func TestMTARefusedRecipient(t *testing.T) {
	for _, s := range mtas(t) {
		for _, mode := range chunkModes {
			t.Run(s.name+"/"+mode.name, func(t *testing.T) {
				ctx := testContext(t)
				c, err := session.Dial(ctx, s.addr, &session.Options{LocalName: "client.postwire.test", DisableChunking: mode.noChunk})
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				sender := uniqueSender(s.name + "-refused")
				rcpts := []string{"first@example.org", "refuse-me@example.org", "last@example.org"}
				raw := []byte(header("\r\n", sender, rcpts, "one refused") + "to first and last only\r\n")
				res, err := c.SendMail(ctx, sender, rcpts, bytes.NewReader(raw), nil)
				if err != nil {
					t.Fatalf("SendMail: %v", err)
				}
				type refusal struct {
					Recipient string
					Code      int
					Enhanced  string
				}
				var got []refusal
				for _, r := range res.Refused {
					got = append(got, refusal{r.Recipient, r.Reply.Code, r.Reply.Enhanced.String()})
				}
				if d := cmp.Diff([]refusal{{"refuse-me@example.org", 550, s.refusedEnhanced}}, got); d != "" {
					t.Errorf("Refused (-want +got):\n%s", d)
				}
				if !res.Reply.Positive() {
					t.Errorf("final reply %v, want 2xx", res.Reply)
				}
				s.check(t, "one refused", sender, []string{"first@example.org", "last@example.org"}, s.proto(false, false, false), raw)

				_, err = c.SendMail(ctx, uniqueSender(s.name+"-all-refused"), []string{"refuse-a@example.org", "refuse-b@example.org"},
					strings.NewReader("x\r\n"), nil)
				var rre *session.RecipientsRefusedError
				if !errors.As(err, &rre) || len(rre.Refused) != 2 || rre.Recipient("refuse-b@example.org") == nil ||
					rre.Recipient("refuse-b@example.org").Code != 550 {
					t.Errorf("SendMail to refused recipients: %v, want *RecipientsRefusedError with two 550s", err)
				}
				if _, err := c.Noop(ctx); err != nil {
					t.Errorf("NOOP after the refused transaction: %v", err)
				}
				if _, err := c.Quit(ctx); err != nil {
					t.Errorf("Quit: %v", err)
				}
			})
		}
	}
}

// TestMTALarge streams a 20 MiB message (size hidden, odd-sized reads, dots and bare line
// endings across the chunk boundaries) by BDAT and by DATA.
func TestMTALarge(t *testing.T) {
	for _, s := range mtas(t) {
		for _, mode := range chunkModes {
			t.Run(s.name+"/"+mode.name, func(t *testing.T) {
				ctx := testContext(t)
				log := &lineLog{}
				c, err := session.Dial(ctx, s.addr, &session.Options{LocalName: "client.postwire.test",
					DisableChunking: mode.noChunk, Logger: slog.New(log)})
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				sender := uniqueSender(s.name + "-20mib-" + mode.name)
				rcpts := []string{"large@example.org"}
				raw := largeBody(header("\r\n", sender, rcpts, "20 MiB streamed"), 20<<20)
				res, err := c.SendMail(ctx, sender, rcpts, &oddReader{b: raw}, nil)
				if err != nil {
					t.Fatalf("SendMail: %v", err)
				}
				checkAccepted(t, res, rcpts)
				s.check(t, "20 MiB", sender, rcpts, s.proto(false, false, false), arrived(raw))
				checkBodyCommands(t, log, mode.noChunk)
				if _, err := c.Quit(ctx); err != nil {
					t.Errorf("Quit: %v", err)
				}
			})
		}
	}
}

// TestMTAStartTLSAuth: STARTTLS verified against the test CA; AUTH offered only after it
// (Postfix checks the password with Dovecot's auth service, Exim itself); a wrong password
// gets 535; PLAIN through Login and LOGIN through Auth; then messages, recorded as sent
// with TLS and AUTH.
func TestMTAStartTLSAuth(t *testing.T) {
	user, pass := mustEnv(t, "POSTWIRE_INTEROP_USER"), mustEnv(t, "POSTWIRE_INTEROP_PASSWORD")
	for _, s := range mtas(t) {
		t.Run(s.name, func(t *testing.T) {
			ctx := testContext(t)
			c, err := session.Dial(ctx, s.addr, &session.Options{LocalName: "client.postwire.test", TLSConfig: tlsConfig(t)})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Login(ctx, user, pass); !errors.Is(err, session.ErrNotSupported) {
				t.Errorf("Login before STARTTLS: %v, want ErrNotSupported (no AUTH in cleartext)", err)
			}
			if _, err := c.StartTLS(ctx, nil); err != nil {
				t.Fatalf("StartTLS: %v", err)
			}
			if !c.TLS() || c.HasExtension("STARTTLS") {
				t.Errorf("after StartTLS: TLS() %v, STARTTLS offered %v", c.TLS(), c.HasExtension("STARTTLS"))
			}
			if d := cmp.Diff([]string{"LOGIN", "PLAIN"}, sorted(c.Extensions().Auth())); d != "" {
				t.Errorf("AUTH mechanisms (-want +got):\n%s", d)
			}
			var ae *session.AuthError
			var re *session.ReplyError
			if _, err := c.Auth(ctx, auth.Login(user, "wrong")); !errors.As(err, &ae) || !errors.As(err, &re) || re.Code != 535 {
				t.Errorf("Auth with a wrong password: %v, want *AuthError with a 535", err)
			}
			if _, err := c.Login(ctx, user, pass); err != nil {
				t.Fatalf("Login: %v", err)
			}
			rcpts := []string{"tls@example.org"}
			for i := range smallCorpus("x@x", rcpts, true) {
				sender := uniqueSender(s.name + "-tls")
				m := smallCorpus(sender, rcpts, true)[i]
				t.Run(m.name, func(t *testing.T) {
					checkAccepted(t, sendWays[i%2].send(t, c, sender, rcpts, m), rcpts)
					s.check(t, m.name, sender, rcpts, s.proto(true, true, false), m.want)
				})
			}
			if _, err := c.Quit(ctx); err != nil {
				t.Errorf("Quit: %v", err)
			}

			// AUTH LOGIN through Auth, on a second connection.
			c2, err := session.Dial(ctx, s.addr, &session.Options{LocalName: "client.postwire.test", TLSConfig: tlsConfig(t)})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c2.Close()
			if _, err := c2.StartTLS(ctx, nil); err != nil {
				t.Fatalf("StartTLS: %v", err)
			}
			if _, err := c2.Auth(ctx, auth.Login(user, pass)); err != nil {
				t.Fatalf("Auth LOGIN: %v", err)
			}
			sender := uniqueSender(s.name + "-login")
			raw := []byte(header("\r\n", sender, rcpts, "AUTH LOGIN") + "authenticated with LOGIN\r\n")
			if _, err := c2.SendMail(ctx, sender, rcpts, bytes.NewReader(raw), nil); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			s.check(t, "AUTH LOGIN", sender, rcpts, s.proto(true, true, false), raw)
			if _, err := c2.Quit(ctx); err != nil {
				t.Errorf("Quit: %v", err)
			}
		})
	}
}

// TestMTABareLFPremise checks what the Postfix reader relies on: its files end lines with LF,
// so they cannot show a bare LF, but Postfix refuses one on the wire (a client sending it is
// caught). Sent over a raw connection, since postwire never sends a bare LF.
func TestMTABareLFPremise(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_POSTFIX")
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	// reply reads one (possibly multi-line) reply and returns its last line.
	reply := func() string {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading a reply: %v", err)
			}
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimRight(line, "\r\n")
			}
		}
	}
	reply() // greeting
	sender := uniqueSender("postfix-bare-lf")
	for _, step := range []struct{ send, want string }{
		{"EHLO client.postwire.test\r\n", "250 "},
		{"MAIL FROM:<" + sender + ">\r\n", "250 "},
		{"RCPT TO:<bare@example.org>\r\n", "250 "},
		{"DATA\r\n", "354 "},
		{"Subject: bare LF\r\n\r\nline one\nline two\r\n.\r\n", "550 5.5.2 "},
	} {
		if _, err := conn.Write([]byte(step.send)); err != nil {
			t.Fatal(err)
		}
		if got := reply(); !strings.HasPrefix(got, step.want) {
			t.Fatalf("after %q: reply %q, want %s", step.send, got, step.want)
		}
	}
}
