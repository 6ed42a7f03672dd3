//go:build interop

package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/session"
)

// TestSinkHangupAfterDot: smtp-sink -q . closes the connection after the final dot without
// replying. Delivery is then unknown, never success, and the client is closed.
func TestSinkHangupAfterDot(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_SINK_HANGUP")
	for _, large := range []bool{false, true} {
		name := "small"
		if large {
			name = "large"
		}
		t.Run(name, func(t *testing.T) {
			c, _ := dialSink(t, addr, nil)
			ctx := testContext(t)
			sender := uniqueSender("sink-hangup")
			rcpts := []string{"u1@example.net", "u2@example.net"}
			raw := []byte(header("\r\n", sender, rcpts, "hangup") + "the server hangs up after the dot\r\n")
			body := bytes.NewReader(raw)
			if large {
				raw = largeBody(header("\r\n", sender, rcpts, "hangup"), 5<<20)
				body = bytes.NewReader(raw)
			}
			res, err := c.SendMail(ctx, sender, rcpts, body, nil)
			var ude *session.UnknownDeliveryError
			if !errors.As(err, &ude) || !errors.Is(err, session.ErrDeliveryUnknown) {
				t.Fatalf("SendMail: %v, want *UnknownDeliveryError", err)
			}
			if d := cmp.Diff(rcpts, ude.Recipients); d != "" {
				t.Errorf("UnknownDeliveryError.Recipients (-want +got):\n%s", d)
			}
			if res == nil {
				t.Fatal("nil SendResult after the message was sent")
			}
			for _, r := range res.Recipients {
				if !errors.Is(r.Err, session.ErrDeliveryUnknown) {
					t.Errorf("recipient %s: %v, want ErrDeliveryUnknown", r.Recipient, r.Err)
				}
			}
			if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
				t.Errorf("Noop afterwards: %v, want ErrClosed", err)
			}
		})
	}

	t.Run("batch", func(t *testing.T) {
		c, _ := dialSink(t, addr, nil)
		ctx := testContext(t)
		var envs []session.Envelope
		for range 3 {
			sender := uniqueSender("sink-hangup-batch")
			envs = append(envs, session.Envelope{From: sender, To: []string{"b@example.net"},
				Body: bytes.NewReader([]byte(header("\r\n", sender, []string{"b@example.net"}, "batch hangup") + "x\r\n"))})
		}
		res := c.SendBatch(ctx, envs)
		if len(res) != 3 {
			t.Fatalf("SendBatch: %d results", len(res))
		}
		if !errors.Is(res[0].Err, session.ErrDeliveryUnknown) {
			t.Errorf("first message: %v, want ErrDeliveryUnknown", res[0].Err)
		}
		for i, r := range res[1:] {
			// The later messages may have been pipelined behind the first dot: they
			// were never accepted, and must not be reported as delivered.
			if r.Err == nil {
				t.Errorf("message %d: no error after the server hung up", i+1)
			}
		}
	})
}

// TestSink421: smtp-sink -Q RCPT answers RCPT with 421 and disconnects.
func TestSink421(t *testing.T) {
	c, _ := dialSink(t, mustEnv(t, "POSTWIRE_INTEROP_SINK_421"), nil)
	ctx := testContext(t)
	sender := uniqueSender("sink-421")
	_, err := c.SendMail(ctx, sender, []string{"x@example.net"}, bytes.NewReader([]byte("Subject: 421\r\n\r\nx\r\n")), nil)
	var re *session.ReplyError
	if !errors.Is(err, session.ErrServerDisconnected) || !errors.As(err, &re) || re.Code != 421 {
		t.Errorf("SendMail: %v, want ErrServerDisconnected with the 421 *ReplyError", err)
	}
	if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Noop afterwards: %v, want ErrClosed", err)
	}
}

// TestSinkAbortAfterDataStart: smtp-sink -A 0 answers DATA with 354 and at once with 550,
// then reads nothing more. A small message: the client sees the 550 as the message's
// reply, a *DataError.
func TestSinkAbortAfterDataStart(t *testing.T) {
	c, _ := dialSink(t, mustEnv(t, "POSTWIRE_INTEROP_SINK_ABORT"), nil)
	ctx := testContext(t)
	sender := uniqueSender("sink-abort")
	_, err := c.SendMail(ctx, sender, []string{"x@example.net"}, bytes.NewReader([]byte("Subject: abort\r\n\r\nx\r\n")), nil)
	var de *session.DataError
	if !errors.As(err, &de) || de.Reply.Code != 550 {
		t.Errorf("SendMail: %v, want a 550 *DataError", err)
	}
}

// failingReader returns the first n bytes of b, then err.
type failingReader struct {
	b     []byte
	n     int
	err   error
	after func() // called instead of failing, when set
}

var errBodyBroke = errors.New("interop: the body reader broke")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		if r.after != nil {
			r.after()
			r.after = nil
		} else {
			return 0, r.err
		}
	}
	k := min(len(p), r.n, len(r.b), 8192)
	if k == 0 {
		return 0, io.EOF
	}
	copy(p, r.b[:k])
	r.b, r.n = r.b[k:], r.n-k
	return k, nil
}

// TestBodyReaderFails: the body reader fails after 1 MiB. With DATA (aiosmtpd) the partial
// message must not be completed: the connection is closed. With BDAT (Dovecot) the session
// sends RSET: the connection stays usable and nothing is delivered.
func TestBodyReaderFails(t *testing.T) {
	t.Run("DATA/aiosmtpd", func(t *testing.T) {
		ctx := testContext(t)
		c := dialPlain(t, ctx, mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN"))
		sender := uniqueSender("aio-broken-body")
		raw := largeBody(header("\r\n", sender, []string{"x@example.org"}, "broken"), 3<<20)
		_, err := c.SendMail(ctx, sender, []string{"x@example.org"}, &failingReader{b: raw, n: 1 << 20, err: errBodyBroke}, nil)
		if !errors.Is(err, errBodyBroke) || errors.Is(err, session.ErrDeliveryUnknown) {
			t.Errorf("SendMail: %v, want the reader's error", err)
		}
		if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
			t.Errorf("Noop afterwards: %v, want ErrClosed", err)
		}
	})
	t.Run("BDAT/Dovecot", func(t *testing.T) {
		ctx := testContext(t)
		c, err := session.DialLMTP(ctx, mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_SOCKET"), &session.Options{LocalName: "client.postwire.test"})
		if err != nil {
			t.Fatalf("DialLMTP: %v", err)
		}
		defer c.Close()
		broken := uniqueSender("dovecot-broken-body")
		raw := largeBody(header("\r\n", broken, []string{"alice@example.org"}, "broken"), 3<<20)
		_, err = c.SendMail(ctx, broken, []string{"alice@example.org"}, &failingReader{b: raw, n: 1 << 20, err: errBodyBroke}, nil)
		if !errors.Is(err, errBodyBroke) || errors.Is(err, session.ErrDeliveryUnknown) {
			t.Errorf("SendMail: %v, want the reader's error", err)
		}
		// The same connection delivers the next message; the broken one must not be in
		// the mailbox (Dovecot delivers in order on one connection).
		sender := uniqueSender("dovecot-after-broken")
		ok := []byte(header("\r\n", sender, []string{"alice@example.org"}, "after broken") + "fine\r\n")
		if _, err := c.SendMail(ctx, sender, []string{"alice@example.org"}, bytes.NewReader(ok), nil); err != nil {
			t.Fatalf("SendMail after the broken body: %v", err)
		}
		checkBytes(t, "after broken", ok, dovecotStored(t, "alice", sender, "alice@example.org"))
		if found := mailboxHolds(t, "alice", broken); found {
			t.Error("the message whose body broke was delivered")
		}
		if _, err := c.Quit(ctx); err != nil {
			t.Errorf("Quit: %v", err)
		}
	})
}

// TestContextCancelMidBody: the context is cancelled while the body streams (from inside
// the reader, so the moment is exact): the call returns context.Canceled, not an unknown
// delivery (the final dot never left), and the client is closed.
func TestContextCancelMidBody(t *testing.T) {
	ctx := testContext(t)
	c := dialPlain(t, ctx, mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN"))
	sendCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sender := uniqueSender("aio-cancelled")
	raw := largeBody(header("\r\n", sender, []string{"x@example.org"}, "cancelled"), 3<<20)
	_, err := c.SendMail(sendCtx, sender, []string{"x@example.org"}, &failingReader{b: raw, n: 1 << 20, after: cancel}, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, session.ErrDeliveryUnknown) {
		t.Errorf("SendMail: %v, want context.Canceled", err)
	}
	if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Noop afterwards: %v, want ErrClosed", err)
	}
}

// mailboxHolds reports whether user's Maildir holds a message from sender (no waiting).
func mailboxHolds(t *testing.T, user, sender string) bool {
	t.Helper()
	root := filepath.Join(mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_MAIL"), user, "Maildir")
	for _, sub := range []string{"new", "cur", "tmp"} {
		names, _ := filepath.Glob(filepath.Join(root, sub, "*"))
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err == nil && bytes.Contains(data[:min(len(data), 4096)], []byte("<"+sender+">")) {
				return true
			}
		}
	}
	return false
}

// TestSinkAbortLargeBody: smtp-sink -A 0 answers DATA with 354, then 550, and closes the
// connection while a 16 MiB body is being written. The message cannot have been delivered
// (the final dot never left): the call fails with the 550 (*DataError) or with
// ErrServerDisconnected, never with success or "delivery unknown".
func TestSinkAbortLargeBody(t *testing.T) {
	c, _ := dialSink(t, mustEnv(t, "POSTWIRE_INTEROP_SINK_ABORT"), nil)
	ctx := testContext(t)
	sender := uniqueSender("sink-abort-large")
	raw := largeBody(header("\r\n", sender, []string{"x@example.net"}, "abort"), 16<<20)
	_, err := c.SendMail(ctx, sender, []string{"x@example.net"}, bytes.NewReader(raw), nil)
	var de *session.DataError
	switch {
	case err == nil:
		t.Fatal("SendMail succeeded although the server refused the message")
	case errors.Is(err, session.ErrDeliveryUnknown):
		t.Errorf("SendMail: %v; the final dot was never sent, so delivery is known: it failed", err)
	case errors.As(err, &de):
		if de.Reply.Code != 550 {
			t.Errorf("SendMail: %v, want the 550", err)
		}
	case !errors.Is(err, session.ErrServerDisconnected):
		t.Errorf("SendMail: %v, want a 550 *DataError or ErrServerDisconnected", err)
	}
	t.Logf("SendMail: %v", err)
}

// TestCloseMidBody: Close from inside the body reader (so the moment is exact) aborts the
// call with an error matching ErrClosed.
func TestCloseMidBody(t *testing.T) {
	ctx := testContext(t)
	c, err := session.Dial(ctx, mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN"), &session.Options{LocalName: "client.postwire.test"})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	sender := uniqueSender("aio-closed")
	raw := largeBody(header("\r\n", sender, []string{"x@example.org"}, "closed"), 3<<20)
	_, err = c.SendMail(ctx, sender, []string{"x@example.org"}, &failingReader{b: raw, n: 1 << 20, after: func() { c.Close() }}, nil)
	if !errors.Is(err, session.ErrClosed) || errors.Is(err, session.ErrDeliveryUnknown) {
		t.Errorf("SendMail: %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestTLSPolicyWithoutSTARTTLS: against a server without STARTTLS, TLSOpportunistic stays in
// cleartext and delivers; TLSRequired fails before anything is sent.
func TestTLSPolicyWithoutSTARTTLS(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN")
	ctx := testContext(t)
	c, err := session.Dial(ctx, addr, &session.Options{LocalName: "client.postwire.test", TLSPolicy: session.TLSOpportunistic, TLSConfig: tlsConfig(t)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	sender := uniqueSender("aio-opportunistic")
	raw := []byte("Subject: opportunistic\r\n\r\ncleartext\r\n")
	if _, err := c.SendMail(ctx, sender, []string{"o@example.org"}, bytes.NewReader(raw), nil); err != nil {
		t.Fatalf("SendMail with TLSOpportunistic: %v", err)
	}
	rec, stored := aiosmtpdStored(t, "plain", sender)
	checkBytes(t, "opportunistic", raw, stored)
	if rec.TLS || c.TLS() {
		t.Errorf("TLS: server %v, client %v; want cleartext", rec.TLS, c.TLS())
	}

	r, err := session.Dial(ctx, addr, &session.Options{LocalName: "client.postwire.test", TLSPolicy: session.TLSRequired, TLSConfig: tlsConfig(t)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer r.Close()
	sender = uniqueSender("aio-required")
	_, err = r.SendMail(ctx, sender, []string{"r@example.org"}, bytes.NewReader(raw), nil)
	var nse *session.NotSupportedError
	if !errors.As(err, &nse) || nse.Extension != "STARTTLS" {
		t.Errorf("SendMail with TLSRequired: %v, want *NotSupportedError{STARTTLS}", err)
	}
}

// TestSinkSlowDATA: smtp-sink -w 30 waits 30 s before answering DATA. It writes its replies
// to a pipelined group together, so with PIPELINING the MAIL reply is held back as well and
// the MAIL time-out applies; without PIPELINING the MAIL and RCPT replies come at once and
// the DATA time-out applies. Each (300 ms here), and a context deadline, ends the call long
// before the 30 s with its own error, and closes the connection.
//
// (smtp-sink's -W RCPT:n is no use here: with pipelined commands it answers DATA before the
// delayed RCPT, so the replies come out of order.)
func TestSinkSlowDATA(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_SINK_SLOW")
	for _, tc := range []struct {
		name string
		o    session.Options
	}{
		{"PIPELINING/Timeouts.Mail", session.Options{Timeouts: session.Timeouts{Mail: 300 * time.Millisecond}}},
		{"DisablePipelining/Timeouts.DataInit", session.Options{DisablePipelining: true, Timeouts: session.Timeouts{DataInit: 300 * time.Millisecond}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := dialSink(t, addr, &tc.o)
			ctx := testContext(t)
			_, err := c.SendMail(ctx, uniqueSender("sink-slow"), []string{"s@example.net"}, bytes.NewReader([]byte("x\r\n")), nil)
			if !errors.Is(err, session.ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, session.ErrDeliveryUnknown) {
				t.Errorf("SendMail: %v, want ErrTimeout and os.ErrDeadlineExceeded", err)
			}
			if _, err := c.Noop(ctx); !errors.Is(err, session.ErrClosed) {
				t.Errorf("Noop afterwards: %v, want ErrClosed", err)
			}
		})
	}
	t.Run("context", func(t *testing.T) {
		c, _ := dialSink(t, addr, nil)
		ctx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
		defer cancel()
		_, err := c.SendMail(ctx, uniqueSender("sink-slow-ctx"), []string{"s@example.net"}, bytes.NewReader([]byte("x\r\n")), nil)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, session.ErrDeliveryUnknown) {
			t.Errorf("SendMail: %v, want context.DeadlineExceeded", err)
		}
		if _, err := c.Noop(testContext(t)); !errors.Is(err, session.ErrClosed) {
			t.Errorf("Noop afterwards: %v, want ErrClosed", err)
		}
	})
}

// TestBatchInvariant: batches mixing good messages with ones that fail in different ways.
// Whatever the session decides to do after a failure, a message reported as sent (Err nil)
// must be stored exactly, and a message reported as failed (other than "unknown") must not
// be stored at all.
func TestBatchInvariant(t *testing.T) {
	// ok: a good message; broken: its body reader fails; refused: every recipient refused.
	kinds := []string{"ok", "broken", "ok", "refused", "ok", "broken", "ok"}
	for _, srv := range []struct {
		name   string
		dial   func(t *testing.T) *session.Client
		good   string // a recipient that is accepted
		bad    string // a recipient that is refused
		stored func(t *testing.T, sender string) []byte
		holds  func(t *testing.T, sender string) bool
	}{
		{
			name: "aiosmtpd-DATA",
			dial: func(t *testing.T) *session.Client {
				c, err := session.Dial(testContext(t), mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN"), &session.Options{LocalName: "client.postwire.test"})
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				return c
			},
			good: "good@example.org", bad: "refuse-batch@example.org",
			stored: func(t *testing.T, sender string) []byte { _, b := aiosmtpdStored(t, "plain", sender); return b },
			holds:  func(t *testing.T, sender string) bool { return aiosmtpdHolds(t, "plain", sender) },
		},
		{
			name: "Dovecot-BDAT",
			dial: func(t *testing.T) *session.Client {
				c, err := session.DialLMTP(testContext(t), mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_SOCKET"), &session.Options{LocalName: "client.postwire.test"})
				if err != nil {
					t.Fatalf("DialLMTP: %v", err)
				}
				return c
			},
			good: "bob@example.org", bad: "nosuch@example.org",
			stored: func(t *testing.T, sender string) []byte { return dovecotStored(t, "bob", sender, "bob@example.org") },
			holds:  func(t *testing.T, sender string) bool { return mailboxHolds(t, "bob", sender) },
		},
	} {
		t.Run(srv.name, func(t *testing.T) {
			c := srv.dial(t)
			defer c.Close()
			ctx := testContext(t)
			var envs []session.Envelope
			var raws [][]byte
			for i, k := range kinds {
				sender := uniqueSender("batch-invariant-" + k)
				raw := largeBody(header("\r\n", sender, []string{srv.good}, fmt.Sprintf("batch %d %s", i, k)), 200<<10)
				to := []string{srv.good}
				var body io.Reader = bytes.NewReader(raw)
				switch k {
				case "broken":
					body = &failingReader{b: raw, n: 100 << 10, err: errBodyBroke}
				case "refused":
					to = []string{srv.bad}
				}
				envs = append(envs, session.Envelope{From: sender, To: to, Body: body})
				raws = append(raws, raw)
			}
			results := c.SendBatch(ctx, envs)
			if len(results) != len(envs) {
				t.Fatalf("SendBatch: %d results for %d messages", len(results), len(envs))
			}
			var summary []string
			for i, r := range results {
				summary = append(summary, fmt.Sprintf("%d %s: %v", i, kinds[i], r.Err))
				switch {
				case r.Err == nil:
					if kinds[i] != "ok" {
						t.Errorf("message %d (%s) reported as sent", i, kinds[i])
						continue
					}
					checkBytes(t, fmt.Sprintf("message %d", i), arrived(raws[i]), srv.stored(t, envs[i].From))
				case errors.Is(r.Err, session.ErrDeliveryUnknown):
					t.Errorf("message %d (%s): %v: no reason for an unknown outcome here", i, kinds[i], r.Err)
				default:
					if kinds[i] == "broken" && !errors.Is(r.Err, errBodyBroke) && !errors.Is(r.Err, session.ErrClosed) {
						t.Errorf("message %d (broken body): %v, want the reader's error", i, r.Err)
					}
					if kinds[i] == "ok" && i == 0 {
						t.Errorf("message 0 (ok): %v", r.Err)
					}
				}
			}
			// Failed messages must not have been delivered; checked after a final message
			// on a fresh connection, so everything before it has been processed.
			fence := uniqueSender("batch-invariant-fence")
			f := srv.dial(t)
			defer f.Close()
			fraw := []byte("From: <" + fence + ">\r\nSubject: fence\r\n\r\nfence\r\n")
			if _, err := f.SendMail(ctx, fence, []string{srv.good}, bytes.NewReader(fraw), nil); err != nil {
				t.Fatalf("fence: %v", err)
			}
			srv.stored(t, fence)
			for i, r := range results {
				if r.Err != nil && srv.holds(t, envs[i].From) {
					t.Errorf("message %d (%s) failed with %v but was delivered", i, kinds[i], r.Err)
				}
			}
			t.Logf("results:\n%s", strings.Join(summary, "\n"))
		})
	}
}

// aiosmtpdHolds reports whether listener stored a message from sender (no waiting).
func aiosmtpdHolds(t *testing.T, listener, sender string) bool {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_DIR"), listener, "*.json"))
	for _, n := range names {
		js, err := os.ReadFile(n)
		if err == nil && bytes.Contains(js, []byte(`"mail_from": "`+sender+`"`)) {
			return true
		}
	}
	return false
}
