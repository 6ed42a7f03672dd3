package smtptest_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session/smtptest"
)

func TestLMTP(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	for _, how := range []string{"unix", "pipe"} {
		t.Run(how, func(t *testing.T) {
			s := startServer(t, smtptest.Config{
				LMTP: true,
				RcptFunc: func(addr string) smtptest.Reply {
					if addr == "nobody@x" {
						return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "unknown"}
					}
					return smtptest.Reply{}
				},
				LMTPFunc: func(rcpt string, msg *smtptest.Message) smtptest.Reply {
					if rcpt == "full@x" {
						return smtptest.Reply{Code: 452, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 2, Detail: 2}, Text: "mailbox full"}
					}
					return smtptest.Reply{}
				},
			})
			c := dial(t, s, how)
			if got := c.reply(); got != "220 smtptest.local LMTP smtptest\r\n" {
				t.Errorf("greeting %q", got)
			}
			c.cmd("LHLO c")
			got, want := c.converse([]step{
				{"MAIL FROM:<a@x>", "250 2.1.0"},
				{"RCPT TO:<b@x>", "250 2.1.5"},
				{"RCPT TO:<nobody@x>", "550 5.1.1"},
				{"RCPT TO:<full@x>", "250 2.1.5"},
				{"RCPT TO:<b@x>", "250 2.1.5"},
				{"DATA", "354"},
			})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			c.write("hello\r\n.\r\n")
			var lmtp []string
			for range 3 {
				lmtp = append(lmtp, c.reply())
			}
			wantLMTP := []string{"250 2.1.5 <b@x> delivered\r\n", "452 4.2.2 mailbox full\r\n", "250 2.1.5 <b@x> delivered\r\n"}
			if diff := cmp.Diff(wantLMTP, lmtp); diff != "" {
				t.Errorf("per-recipient replies (-want +got):\n%s", diff)
			}
			// BDAT LAST ends the data too.
			c.write("MAIL FROM:<a@x>\r\nRCPT TO:<full@x>\r\nBDAT 4 LAST\r\nabcd")
			lmtp = []string{code(c.reply()), code(c.reply()), code(c.reply())}
			if diff := cmp.Diff([]string{"250 2.1.0", "250 2.1.5", "452 4.2.2"}, lmtp); diff != "" {
				t.Errorf("BDAT (-want +got):\n%s", diff)
			}
			c.cmd("QUIT")
			msgs := s.Messages()
			if len(msgs) != 1 || !cmp.Equal(msgs[0].To, []string{"b@x", "full@x", "b@x"}) || string(msgs[0].Data) != "hello\r\n" {
				t.Errorf("Messages = %+v (a message refused for every recipient must not be recorded)", msgs)
			}
		})
	}
}

func TestDataBody(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	tests := []struct {
		name     string
		wire     string // after 354, up to and including the terminator
		wantData string
		wantBare bool
	}{
		{"empty", ".\r\n", "", false},
		{"plain", "a\r\nb\r\n.\r\n", "a\r\nb\r\n", false},
		{"stuffed", "..\r\n...x\r\n.\r\n", ".\r\n..x\r\n", false},
		{"bare LF dot is not the end", "a\n.\r\nb\r\n.\r\n", "a\n\r\nb\r\n", true},
		{"dot bare LF is not the end", "a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", true},
		{"bare CR", "a\rb\r\n.\r\n", "a\rb\r\n", true},
		{"CR at end of line before LF", "a\r\r\n.\r\n", "a\r\r\n", true},
		{"long line", strings.Repeat("x", 200000) + "\r\n.\r\n", strings.Repeat("x", 200000) + "\r\n", false},
		{"CR at buffer boundary", strings.Repeat("y", 65535) + "\r\n.\r\n", strings.Repeat("y", 65535) + "\r\n", false},
	}
	s := startServer(t, smtptest.Config{})
	c := newClient(t, s.Pipe())
	c.reply()
	c.cmd("EHLO c")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.write("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
			c.reply()
			c.reply()
			c.reply()
			c.write(tt.wire)
			if got := code(c.reply()); got != "250 2.0.0" {
				t.Fatalf("end of data: %s", got)
			}
			msgs := s.Messages()
			if len(msgs) != i+1 {
				t.Fatalf("got %d messages, want %d", len(msgs), i+1)
			}
			m := msgs[i]
			if diff := cmp.Diff(tt.wantData, string(m.Data)); diff != "" || m.BareLineEndings != tt.wantBare || m.Size != int64(len(tt.wantData)) {
				t.Errorf("bare %v size %d; data (-want +got):\n%s", m.BareLineEndings, m.Size, diff)
			}
		})
	}
}

func TestMessageTooBig(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	tests := []struct {
		name string
		cfg  smtptest.Config
	}{
		{"MaxSize", smtptest.Config{MaxSize: 10}},
		{"MaxMessageBytes", smtptest.Config{MaxMessageBytes: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.cfg)
			c := newClient(t, s.Pipe())
			c.reply()
			c.cmd("EHLO c")
			c.write("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
			c.reply()
			c.reply()
			c.reply()
			got := []string{code(c.cmd("0123456789\r\nmore\r\n."))}
			// BDAT: the chunk that passes the limit is refused, later ones too.
			c.write("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 8\r\n01234567BDAT 8\r\n01234567BDAT 1 LAST\r\nx")
			for range 5 {
				got = append(got, code(c.reply()))
			}
			got = append(got, code(c.cmd("MAIL FROM:<a@x>"))) // the transaction was reset by LAST
			want := []string{"552 5.3.4", "250 2.1.0", "250 2.1.5", "250 2.0.0", "552 5.3.4", "503 5.5.1", "250 2.1.0"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if n := len(s.Messages()); n != 0 {
				t.Errorf("%d messages recorded", n)
			}
		})
	}
}

func TestDiscard(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := startServer(t, smtptest.Config{Discard: true})
	c := newClient(t, s.Pipe())
	c.reply()
	c.cmd("EHLO c")
	c.write("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
	c.reply()
	c.reply()
	c.reply()
	c.cmd("abc\r\n.")
	msgs := s.Messages()
	if len(msgs) != 1 || msgs[0].Data != nil || msgs[0].Size != 5 || len(s.Received()) != 0 {
		t.Errorf("Messages %+v, Received %q", msgs, s.Received())
	}
}

// stuff is the test's own dot-stuffer (CRLF input assumed).
func stuff(body string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(body, "\r\n") {
		if strings.HasPrefix(line, ".") {
			b.WriteByte('.')
		}
		b.WriteString(line)
	}
	return b.String() + ".\r\n"
}

// TestDataRoundTrip: any CRLF body, dot-stuffed and sent in arbitrary
// pieces, comes out of Message.Data unchanged.
func TestDataRoundTrip(t *testing.T) {
	s := startServer(t, smtptest.Config{})
	c := newClient(t, s.Pipe())
	c.reply()
	c.cmd("EHLO c")
	line := rapid.StringMatching(`[.a-z \t]{0,20}`)
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		lines := rapid.SliceOfN(line, 0, 10).Draw(rt, "lines")
		body := ""
		if len(lines) > 0 {
			body = strings.Join(lines, "\r\n") + "\r\n"
		}
		wire := []byte("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n" + stuff(body))
		for len(wire) > 0 {
			k := rapid.IntRange(1, len(wire)).Draw(rt, "piece")
			c.write(string(wire[:k]))
			wire = wire[k:]
		}
		for range 4 {
			c.reply()
		}
		n++
		msgs := s.Messages()
		if len(msgs) != n || !bytes.Equal(msgs[n-1].Data, []byte(body)) {
			rt.Fatalf("got %d messages, last %q, want %q", len(msgs), msgs[len(msgs)-1].Data, body)
		}
	})
}
