package session_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// stored is the part of a smtptest.Message the tests compare.
type stored struct {
	From       string
	MailParams []string
	To         []string
	RcptParams [][]string
	Data       string
	Chunked    bool
}

func storedOf(msgs []smtptest.Message) []stored {
	var out []stored
	for _, m := range msgs {
		out = append(out, stored{m.From, m.MailParams, m.To, m.RcptParams, string(m.Data), m.Chunked})
	}
	return out
}

// refusedView flattens refused recipients for cmp.
type refusedView struct {
	Recipient string
	Code      int
}

func refusedOf(r []session.RecipientError) []refusedView {
	var out []refusedView
	for _, e := range r {
		out = append(out, refusedView{e.Recipient, e.Reply.Code})
	}
	return out
}

// onlyReader hides a reader's type so that its length is unknown.
type onlyReader struct{ io.Reader }

func TestSendMail(t *testing.T) {
	const body = "Subject: hi\r\n\r\nhello\r\n"
	tests := []struct {
		name string
		cfg  smtptest.Config
		o    session.Options
		body func() io.Reader
		want stored
	}{
		{"pipelining+chunking", smtptest.Config{MaxSize: 1000}, session.Options{},
			func() io.Reader { return strings.NewReader(body) },
			stored{"a@x.test", []string{"SIZE=22"}, []string{"b@y.test", "c@y.test"}, [][]string{nil, nil}, body, true}},
		{"data, size unknown", smtptest.Config{DisableChunking: true}, session.Options{},
			func() io.Reader { return onlyReader{strings.NewReader(body)} },
			stored{"a@x.test", nil, []string{"b@y.test", "c@y.test"}, [][]string{nil, nil}, body, false}},
		{"no pipelining", smtptest.Config{DisablePipelining: true, DisableChunking: true, MaxSize: 1000}, session.Options{},
			func() io.Reader { return bytes.NewReader([]byte(body)) },
			stored{"a@x.test", []string{"SIZE=22"}, []string{"b@y.test", "c@y.test"}, [][]string{nil, nil}, body, false}},
		{"chunking disabled by the client", smtptest.Config{}, session.Options{DisableChunking: true, DisablePipelining: true},
			func() io.Reader { return onlyReader{strings.NewReader(body)} },
			stored{"a@x.test", nil, []string{"b@y.test", "c@y.test"}, [][]string{nil, nil}, body, false}},
		{"bare line endings and dots, DATA", smtptest.Config{DisableChunking: true}, session.Options{},
			func() io.Reader { return onlyReader{strings.NewReader("a\n.b\r..c\r\nend")} },
			stored{"a@x.test", nil, []string{"b@y.test", "c@y.test"}, [][]string{nil, nil}, "a\r\n.b\r\n..c\r\nend\r\n", false}},
		{"bare line endings, BDAT, small chunks", smtptest.Config{}, session.Options{ChunkSize: 3},
			func() io.Reader { return onlyReader{iotest.OneByteReader(strings.NewReader("a\n.b\r..c\r\nend"))} },
			stored{"a@x.test", nil, []string{"b@y.test", "c@y.test"}, [][]string{nil, nil}, "a\r\n.b\r\n..c\r\nend\r\n", true}},
		{"chunk size divides the body", smtptest.Config{}, session.Options{ChunkSize: 4},
			func() io.Reader { return onlyReader{strings.NewReader("abc\r\n12\r\n")} },
			stored{"a@x.test", nil, []string{"b@y.test", "c@y.test"}, [][]string{nil, nil}, "abc\r\n12\r\n", true}},
		{"empty body", smtptest.Config{DisableChunking: true}, session.Options{},
			func() io.Reader { return onlyReader{strings.NewReader("")} },
			stored{"a@x.test", nil, []string{"b@y.test", "c@y.test"}, [][]string{nil, nil}, "", false}},
		{"HELO fallback", smtptest.Config{DisableEHLO: true}, session.Options{},
			func() io.Reader { return strings.NewReader(body) },
			stored{"a@x.test", nil, []string{"b@y.test", "c@y.test"}, [][]string{nil, nil}, body, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr transportKind) {
				s := newServer(t, tt.cfg)
				o := tt.o
				o.LocalName = "client.test"
				c := connect(t, tr, s, &o)
				ctx := ctxTimeout(t)
				res, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test", "c@y.test"}, tt.body(), nil)
				if err != nil {
					t.Fatalf("SendMail: %v", err)
				}
				if len(res.Refused) != 0 || res.Reply.Code != 250 {
					t.Errorf("result = %+v, want 250 and nothing refused", res)
				}
				for _, r := range res.Recipients {
					if r.Err != nil || r.Reply.Code != 250 {
						t.Errorf("recipient %s: %v %v", r.Recipient, r.Reply, r.Err)
					}
				}
				if _, err := c.Quit(ctx); err != nil {
					t.Errorf("Quit: %v", err)
					for _, cr := range s.Conns() {
						t.Logf("conn %d: err %v\nreceived %q\nsent %q", cr.ID, cr.Err, cr.Received, cr.Sent)
					}
				}
				if diff := cmp.Diff([]stored{tt.want}, storedOf(s.Messages()), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("stored message (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestSendMailRefusals(t *testing.T) {
	refuse := func(addr string) smtptest.Reply {
		switch addr {
		case "busy@y.test":
			return smtptest.Reply{Code: 452, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 2, Detail: 2}, Text: "mailbox full"}
		case "bad@y.test", "worse@y.test":
			return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no such user"}
		}
		return smtptest.Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 1, Detail: 5}, Text: "ok"}
	}
	mailRefused := func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Verb == "MAIL" {
			return smtptest.Action{Raw: "550 5.7.1 sender blocked\r\n"}
		}
		return smtptest.Action{}
	}
	tests := []struct {
		name        string
		cfg         smtptest.Config
		to          []string
		wantRefused []refusedView
		wantErr     error // matched with errors.Is
		wantAs      func(error) bool
		wantStored  int
		wantRset    bool
	}{
		{"some refused", smtptest.Config{RcptFunc: refuse}, []string{"bad@y.test", "ok@y.test", "busy@y.test"},
			[]refusedView{{"bad@y.test", 550}, {"busy@y.test", 452}}, nil, nil, 1, false},
		{"all refused", smtptest.Config{RcptFunc: refuse}, []string{"bad@y.test", "worse@y.test", "bad@y.test"},
			[]refusedView{{"bad@y.test", 550}, {"worse@y.test", 550}, {"bad@y.test", 550}}, nil,
			func(err error) bool {
				var e *session.RecipientsRefusedError
				return errors.As(err, &e) && len(e.Refused) == 3 && e.Recipient("worse@y.test").Code == 550
			}, 0, true},
		{"all refused, lock-step", smtptest.Config{RcptFunc: refuse, DisablePipelining: true, DisableChunking: true}, []string{"bad@y.test"},
			[]refusedView{{"bad@y.test", 550}}, nil,
			func(err error) bool { var e *session.RecipientsRefusedError; return errors.As(err, &e) }, 0, true},
		{"sender refused", smtptest.Config{Hook: mailRefused}, []string{"ok@y.test"}, nil, nil,
			func(err error) bool {
				var e *session.SenderRefusedError
				return errors.As(err, &e) && e.Sender == "a@x.test" && e.Reply.Code == 550 && e.Reply.Enhanced == protocol.EnhancedCode{Class: 5, Subject: 7, Detail: 1}
			}, 0, true},
		{"sender refused, lock-step", smtptest.Config{Hook: mailRefused, DisablePipelining: true}, []string{"ok@y.test"}, nil, nil,
			func(err error) bool { var e *session.SenderRefusedError; return errors.As(err, &e) }, 0, true},
		{"data refused", smtptest.Config{DisableChunking: true, DataFunc: func(*smtptest.Message) smtptest.Reply {
			return smtptest.Reply{Code: 554, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 6, Detail: 0}, Text: "content rejected"}
		}}, []string{"ok@y.test"}, nil, nil,
			func(err error) bool { var e *session.DataError; return errors.As(err, &e) && e.Reply.Code == 554 }, 0, false},
		{"BDAT refused", smtptest.Config{DataFunc: func(*smtptest.Message) smtptest.Reply {
			return smtptest.Reply{Code: 554, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 6, Detail: 0}, Text: "content rejected"}
		}}, []string{"ok@y.test"}, nil, nil,
			func(err error) bool { var e *session.DataError; return errors.As(err, &e) && e.Reply.Code == 554 }, 0, true}, // the server may keep the transaction after a refused BDAT LAST
		{"DATA command refused", smtptest.Config{DisableChunking: true, Hook: func(ev smtptest.HookEvent) smtptest.Action {
			if ev.Verb == "DATA" {
				return smtptest.Action{Raw: "451 4.3.0 not now\r\n"}
			}
			return smtptest.Action{}
		}}, []string{"ok@y.test"}, nil, nil,
			func(err error) bool { var e *session.DataError; return errors.As(err, &e) && e.Reply.Temporary() }, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr transportKind) {
				s := newServer(t, tt.cfg)
				c := connect(t, tr, s, nil)
				ctx := ctxTimeout(t)
				res, err := c.SendMail(ctx, "a@x.test", tt.to, strings.NewReader("hi\r\n"), nil)
				if tt.wantAs == nil && err != nil {
					t.Fatalf("SendMail: %v", err)
				}
				if tt.wantAs != nil && !tt.wantAs(err) {
					t.Fatalf("SendMail error = %v (%T), not the expected kind", err, err)
				}
				if res == nil {
					t.Fatalf("SendMail returned a nil result")
				}
				if diff := cmp.Diff(tt.wantRefused, refusedOf(res.Refused), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("refused (-want +got):\n%s", diff)
				}
				for _, r := range tt.wantRefused {
					if got := res.Refusal(r.Recipient); got == nil || got.Code != r.Code {
						t.Errorf("Refusal(%q) = %v, want code %d", r.Recipient, got, r.Code)
					}
				}
				// The connection is still usable.
				if _, err := c.Noop(ctx); err != nil {
					t.Fatalf("Noop after SendMail: %v", err)
				}
				if got := len(s.Messages()); got != tt.wantStored {
					t.Errorf("stored %d messages, want %d", got, tt.wantStored)
				}
				if got := bytes.Contains(s.Received(), []byte("RSET\r\n")); got != tt.wantRset {
					t.Errorf("RSET sent = %v, want %v; received:\n%s", got, tt.wantRset, s.Received())
				}
			})
		})
	}
}

func TestSendMailOptions(t *testing.T) {
	full := &session.SendOptions{
		Return: session.ReturnHeaders, EnvelopeID: "id+1=x", Notify: []session.DSNNotify{session.NotifySuccess, session.NotifyFailure},
		OriginalRecipients: true, EightBitMIME: true,
	}
	tests := []struct {
		name    string
		cfg     smtptest.Config
		from    string
		to      []string
		o       *session.SendOptions
		body    io.Reader
		want    []stored
		wantExt string // a *NotSupportedError for this extension, nothing sent
		wantErr error
	}{
		{"DSN and 8BITMIME", smtptest.Config{DisableChunking: true, MaxSize: 1000}, "a@x.test", []string{"b@y.test"}, full, strings.NewReader("x\r\n"),
			[]stored{{"a@x.test", []string{"SIZE=3", "BODY=8BITMIME", "RET=HDRS", "ENVID=id+2B1+3Dx"}, []string{"b@y.test"},
				[][]string{{"NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;b@y.test"}}, "x\r\n", false}}, "", nil},
		{"explicit size", smtptest.Config{DisableChunking: true, MaxSize: 100000}, "a@x.test", []string{"b@y.test"}, &session.SendOptions{Size: 1234}, onlyReader{strings.NewReader("x\r\n")},
			[]stored{{"a@x.test", []string{"SIZE=1234"}, []string{"b@y.test"}, [][]string{nil}, "x\r\n", false}}, "", nil},
		{"SMTPUTF8 needed and offered", smtptest.Config{DisableChunking: true}, "jörg@x.test", []string{"用户@例子.test"}, nil, onlyReader{strings.NewReader("x\r\n")},
			[]stored{{"jörg@x.test", []string{"BODY=8BITMIME", "SMTPUTF8"}, []string{"用户@例子.test"}, [][]string{nil}, "x\r\n", false}}, "", nil},
		{"SMTPUTF8 needed, not offered", smtptest.Config{DisableSMTPUTF8: true}, "a@x.test", []string{"用户@例子.test"}, nil, strings.NewReader("x\r\n"),
			nil, "SMTPUTF8", nil},
		{"DSN demanded, not offered", smtptest.Config{DisableDSN: true}, "a@x.test", []string{"b@y.test"}, &session.SendOptions{Notify: []session.DSNNotify{session.NotifyNever}}, strings.NewReader("x"),
			nil, "DSN", nil},
		{"8BITMIME demanded, not offered", smtptest.Config{Disable8BITMIME: true}, "a@x.test", []string{"b@y.test"}, &session.SendOptions{EightBitMIME: true}, strings.NewReader("x"),
			nil, "8BITMIME", nil},
		{"REQUIRETLS demanded, not offered", smtptest.Config{}, "a@x.test", []string{"b@y.test"}, &session.SendOptions{RequireTLS: true}, strings.NewReader("x"),
			nil, "REQUIRETLS", nil},
		{"raw MAIL param of an unoffered extension", smtptest.Config{DisableDSN: true}, "a@x.test", []string{"b@y.test"}, &session.SendOptions{MailParams: []protocol.Param{{Key: "RET", Value: "FULL"}}}, strings.NewReader("x"),
			nil, "DSN", nil},
		{"too large for SIZE", smtptest.Config{MaxSize: 10}, "a@x.test", []string{"b@y.test"}, nil, strings.NewReader(strings.Repeat("x", 11)),
			nil, "", session.ErrMessageTooLarge},
		{"no recipients", smtptest.Config{}, "a@x.test", nil, nil, strings.NewReader("x"),
			nil, "", session.ErrNoRecipients},
		{"line break in recipient", smtptest.Config{}, "a@x.test", []string{"b@y.test", "c@y.test\r\nRCPT TO:<evil@z.test>"}, nil, strings.NewReader("x"),
			nil, "", protocol.ErrLineBreak},
		{"line break in sender", smtptest.Config{}, "a@x.test\nDATA", []string{"b@y.test"}, nil, strings.NewReader("x"),
			nil, "", protocol.ErrLineBreak},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.cfg)
			c := connect(t, transports[0], s, nil)
			ctx := ctxTimeout(t)
			_, err := c.SendMail(ctx, tt.from, tt.to, tt.body, tt.o)
			switch {
			case tt.wantExt != "":
				var ns *session.NotSupportedError
				if !errors.As(err, &ns) || ns.Extension != tt.wantExt || !errors.Is(err, session.ErrNotSupported) {
					t.Fatalf("SendMail error = %v, want NotSupportedError{%s}", err, tt.wantExt)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("SendMail error = %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("SendMail: %v", err)
			}
			if tt.want == nil && bytes.Contains(s.Received(), []byte("MAIL")) {
				t.Errorf("MAIL sent although the message was refused locally:\n%s", s.Received())
			}
			if _, err := c.Quit(ctx); err != nil {
				t.Errorf("Quit: %v", err)
			}
			if diff := cmp.Diff(tt.want, storedOf(s.Messages()), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendMailBodyReadError(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		t.Run(map[bool]string{false: "DATA", true: "BDAT"}[chunking], func(t *testing.T) {
			s := newServer(t, smtptest.Config{DisableChunking: !chunking})
			c := connect(t, transports[0], s, nil)
			boom := errors.New("disk on fire")
			body := io.MultiReader(strings.NewReader("partial line\r\n"), iotest.ErrReader(boom))
			res, err := c.SendMail(ctxTimeout(t), "a@x.test", []string{"b@y.test"}, onlyReader{body}, nil)
			if !errors.Is(err, boom) {
				t.Fatalf("SendMail error = %v, want the reader's error", err)
			}
			if errors.Is(err, session.ErrDeliveryUnknown) {
				t.Errorf("a partial message is reported as possibly delivered: %v", err)
			}
			if res == nil || res.Recipients[0].Err == nil {
				t.Errorf("recipient result %+v claims delivery", res)
			}
			if n := len(s.Messages()); n != 0 {
				t.Errorf("the server stored %d messages from a failed body", n)
			}
		})
	}
}
