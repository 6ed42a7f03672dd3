package session_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

func TestSendMessage(t *testing.T) {
	tests := []struct {
		name    string
		cfg     smtptest.Config
		o       session.Options
		msg     string
		known   bool // pass a *strings.Reader (length known) rather than a plain reader
		want    []stored
		wantErr error
		wantExt string
	}{
		{"To, Cc, Bcc", smtptest.Config{DisableChunking: true}, session.Options{},
			"From: Alice <a@x.test>\r\nTo: b@y.test\r\nCc: Carl <c@y.test>\r\nBcc: secret@z.test\r\nSubject: hi\r\n\r\nbody\r\n", false,
			[]stored{{"a@x.test", nil, []string{"b@y.test", "c@y.test", "secret@z.test"}, [][]string{nil, nil, nil},
				"From: Alice <a@x.test>\r\nTo: b@y.test\r\nCc: Carl <c@y.test>\r\nSubject: hi\r\n\r\nbody\r\n", false}}, nil, ""},
		{"Sender wins, SIZE from the cleaned message", smtptest.Config{MaxSize: 1 << 20}, session.Options{},
			"From: a@x.test\r\nSender: s@x.test\r\nTo: b@y.test\r\nBcc: hidden@z.test\r\n\r\nbody\r\n", true,
			[]stored{{"s@x.test", []string{"SIZE=56"}, []string{"b@y.test", "hidden@z.test"}, [][]string{nil, nil},
				"From: a@x.test\r\nSender: s@x.test\r\nTo: b@y.test\r\n\r\nbody\r\n", true}}, nil, ""},
		{"Resent block", smtptest.Config{DisableChunking: true}, session.Options{},
			"From: a@x.test\r\nTo: b@y.test\r\nResent-Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nResent-From: r@x.test\r\nResent-To: n@y.test\r\nResent-Bcc: rb@z.test\r\n\r\nbody\r\n", false,
			[]stored{{"r@x.test", nil, []string{"n@y.test", "rb@z.test"}, [][]string{nil, nil},
				"From: a@x.test\r\nTo: b@y.test\r\nResent-Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nResent-From: r@x.test\r\nResent-To: n@y.test\r\n\r\nbody\r\n", false}}, nil, ""},
		{"two Resent blocks", smtptest.Config{}, session.Options{},
			"From: a@x.test\r\nTo: b@y.test\r\nResent-Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nResent-From: r@x.test\r\nResent-To: n@y.test\r\nResent-Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nResent-From: q@x.test\r\nResent-To: m@y.test\r\n\r\nbody\r\n", false,
			nil, codec.ErrMultipleResent, ""},
		{"no recipients", smtptest.Config{}, session.Options{},
			"From: a@x.test\r\nSubject: x\r\n\r\nbody\r\n", false, nil, codec.ErrNoRecipients, ""},
		{"SMTPUTF8 offered", smtptest.Config{DisableChunking: true}, session.Options{},
			"From: jörg@x.test\r\nTo: b@y.test\r\n\r\nbody\r\n", false,
			[]stored{{"jörg@x.test", []string{"BODY=8BITMIME", "SMTPUTF8"}, []string{"b@y.test"}, [][]string{nil},
				"From: jörg@x.test\r\nTo: b@y.test\r\n\r\nbody\r\n", false}}, nil, ""},
		{"SMTPUTF8 not offered", smtptest.Config{DisableSMTPUTF8: true}, session.Options{},
			"From: a@x.test\r\nTo: 用户@例子.test\r\n\r\nbody\r\n", false, nil, nil, "SMTPUTF8"},
		{"header too large", smtptest.Config{}, session.Options{MaxHeaderBytes: 64},
			"From: a@x.test\r\nTo: b@y.test\r\nSubject: " + strings.Repeat("long ", 100) + "\r\n\r\nbody\r\n", false, nil, session.ErrHeaderTooLarge, ""},
		{"no body at all", smtptest.Config{DisableChunking: true}, session.Options{},
			"From: a@x.test\r\nTo: b@y.test\r\n", false,
			[]stored{{"a@x.test", nil, []string{"b@y.test"}, [][]string{nil}, "From: a@x.test\r\nTo: b@y.test\r\n\r\n", false}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.cfg)
			o := tt.o
			o.LocalName = "client.test"
			c := connect(t, transports[0], s, &o)
			var msg io.Reader = onlyReader{strings.NewReader(tt.msg)}
			if tt.known {
				msg = strings.NewReader(tt.msg)
			}
			_, err := c.SendMessage(ctxTimeout(t), msg, nil)
			switch {
			case tt.wantExt != "":
				var ns *session.NotSupportedError
				if !errors.As(err, &ns) || ns.Extension != tt.wantExt {
					t.Fatalf("SendMessage = %v, want NotSupportedError{%s}", err, tt.wantExt)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("SendMessage = %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("SendMessage: %v", err)
			}
			if diff := cmp.Diff(tt.want, storedOf(s.Messages()), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			if strings.Contains(string(s.Received()), "Bcc:") {
				t.Errorf("a Bcc header went on the wire")
			}
		})
	}
}

// TestSendMessageStreams checks that SendMessage reads no more than the
// header block before it starts sending: the reader blocks the body until
// the server has seen the envelope.
func TestSendMessageStreams(t *testing.T) {
	saw := make(chan struct{})
	s := newServer(t, smtptest.Config{DisableChunking: true, Hook: func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Verb == "DATA" {
			close(saw)
		}
		return smtptest.Action{}
	}})
	c := connect(t, transports[0], s, nil)
	const head = "From: a@x.test\r\nTo: b@y.test\r\n\r\n"
	body := &gatedReader{head: head, gate: saw, tail: strings.Repeat("line\r\n", 1000)}
	if _, err := c.SendMessage(ctxTimeout(t), body, nil); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if msgs := s.Messages(); len(msgs) != 1 || len(msgs[0].Data) != len(head)+len(body.tail) {
		t.Errorf("stored %+v", msgs)
	}
}

// gatedReader returns head, then waits for gate before returning tail.
type gatedReader struct {
	head, tail string
	gate       chan struct{}
	off        int
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.head != "" {
		n := copy(p, g.head)
		g.head = g.head[n:]
		return n, nil
	}
	<-g.gate
	if g.off >= len(g.tail) {
		return 0, io.EOF
	}
	n := copy(p, g.tail[g.off:])
	g.off += n
	return n, nil
}
