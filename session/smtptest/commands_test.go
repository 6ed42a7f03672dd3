package smtptest_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session/smtptest"
)

func TestCommandReplies(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	tests := []struct {
		name  string
		cfg   smtptest.Config
		steps []step
	}{
		{"sequence errors", smtptest.Config{}, []step{
			{"MAIL FROM:<a@x>", "503 5.5.1"},
			{"RCPT TO:<a@x>", "503 5.5.1"},
			{"DATA", "503 5.5.1"},
			{"STARTTLS", "502 5.5.1"},
			{"AUTH PLAIN", "502 5.5.1"},
			{"EHLO c", "250"},
			{"RCPT TO:<a@x>", "503 5.5.1"},
			{"MAIL FROM:<a@x>", "250 2.1.0"},
			{"MAIL FROM:<a@x>", "503 5.5.1"},
			{"DATA", "554 5.5.1"},
			{"RSET", "250 2.0.0"},
			{"RCPT TO:<a@x>", "503 5.5.1"},
		}},
		{"syntax errors", smtptest.Config{}, []step{
			{"EHLO", "501 5.5.4"},
			{"EHLO c", "250"},
			{"MAIL TO:<a@x>", "501 5.5.2"},
			{"MAIL FROM:a@x", "501 5.1.7"},
			{"MAIL FROM:<a@x", "501 5.1.7"},
			{"MAIL FROM:<a b@x>", "501 5.1.7"},
			{"MAIL FROM:<a@x>SIZE=1", "501 5.1.7"},
			{"MAIL FROM:<a@x> SIZE=x", "501 5.5.4"},
			{"MAIL FROM:<a@x> BODY=BINARYMIME", "501 5.5.4"},
			{"MAIL FROM:<a@x> FOO=1", "555 5.5.4"},
			{"MAIL FROM:<\"a>b\"@x> RET=HDRS ENVID=QQ AUTH=<>", "250 2.1.0"},
			{"RCPT TO:<>", "501 5.1.3"},
			{"RCPT TO:<a@x> NOTIFY=SOMETIMES", "501 5.5.4"},
			{"RCPT TO:<a@x> ORCPT=nosemicolon", "501 5.5.4"},
			{"RCPT TO:<a@x> XYZ", "555 5.5.4"},
			{"DATA now", "501 5.5.4"},
			{"FROB", "500 5.5.2"},
			{"VRFY", "501 5.5.4"},
			{"VRFY bob", "252 2.5.0"},
			{"EXPN list", "502 5.5.1"},
			{"HELP", "214 2.0.0"},
			{"NOOP", "250 2.0.0"},
			{"QUIT", "221 2.0.0"},
		}},
		{"SMTPUTF8", smtptest.Config{}, []step{
			{"EHLO c", "250"},
			{"MAIL FROM:<jörg@x>", "553 5.6.7"},
			{"MAIL FROM:<a@x>", "250 2.1.0"},
			{"RCPT TO:<jörg@x>", "553 5.6.7"},
			{"RSET", "250 2.0.0"},
			{"MAIL FROM:<jörg@x> SMTPUTF8", "250 2.1.0"},
			{"RCPT TO:<jörg@x>", "250 2.1.5"},
		}},
		{"disabled extensions", smtptest.Config{DisableSMTPUTF8: true, Disable8BITMIME: true, DisableDSN: true, DisableChunking: true}, []step{
			{"EHLO c", "250"},
			{"MAIL FROM:<a@x> SMTPUTF8", "555 5.5.4"},
			{"MAIL FROM:<a@x> BODY=8BITMIME", "555 5.5.4"},
			{"MAIL FROM:<a@x> RET=FULL", "555 5.5.4"},
			{"MAIL FROM:<a@x> BODY=7BIT", "250 2.1.0"},
			{"RCPT TO:<a@x> NOTIFY=NEVER", "555 5.5.4"},
		}},
		{"extra extension parameters", smtptest.Config{ExtraExtensions: []string{"REQUIRETLS", "MT-PRIORITY MIXER"}}, []step{
			{"EHLO c", "250"},
			{"MAIL FROM:<a@x> REQUIRETLS MT-PRIORITY=3", "250 2.1.0"},
		}},
		{"HELO", smtptest.Config{}, []step{
			{"HELO c", "250"},
			{"MAIL FROM:<a@x> SIZE=10", "555 5.5.4"},
			{"MAIL FROM:<a@x>", "250 2.1.0"},
			{"LHLO c", "500 5.5.1"},
		}},
		{"no EHLO", smtptest.Config{DisableEHLO: true}, []step{
			{"EHLO c", "500 5.5.2"},
			{"HELO c", "250"},
		}},
		{"LMTP greetings", smtptest.Config{LMTP: true}, []step{
			{"EHLO c", "500 5.5.1"},
			{"HELO c", "500 5.5.1"},
			{"LHLO c", "250"},
		}},
		{"recipient limit and RcptFunc", smtptest.Config{MaxRecipients: 2, RcptFunc: func(addr string) smtptest.Reply {
			if strings.HasPrefix(addr, "bad") {
				return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no such user"}
			}
			return smtptest.Reply{}
		}}, []step{
			{"EHLO c", "250"},
			{"MAIL FROM:<a@x>", "250 2.1.0"},
			{"RCPT TO:<bad@x>", "550 5.1.1"},
			{"RCPT TO:<a@x>", "250 2.1.5"},
			{"RCPT TO:<b@x>", "250 2.1.5"},
			{"RCPT TO:<c@x>", "452 4.5.3"},
		}},
		{"rejecting greeting", smtptest.Config{Greeting: "554 5.3.2 no service\r\n"}, []step{
			{"EHLO c", "503 5.5.1"},
			{"MAIL FROM:<a@x>", "503 5.5.1"},
			{"QUIT", "221 2.0.0"},
		}},
		{"no enhanced codes", smtptest.Config{DisableEnhancedCodes: true}, []step{
			{"EHLO c", "250"},
			{"MAIL FROM:<a@x>", "250"},
			{"DATA", "554"},
			{"RCPT TO:<b@x>", "250"},
			{"DATA", "354"},
			{".", "250"},
		}},
		{"line too long", smtptest.Config{MaxLineLength: 64}, []step{
			{"EHLO " + strings.Repeat("x", 100), "500 5.5.2"},
			{"EHLO c", "250"},
		}},
		{"SIZE", smtptest.Config{MaxSize: 100}, []step{
			{"EHLO c", "250"},
			{"MAIL FROM:<a@x> SIZE=101", "552 5.3.4"},
			{"MAIL FROM:<a@x> SIZE=100", "250 2.1.0"},
		}},
		{"AUTH with a custom AUTH line", smtptest.Config{Users: map[string]string{"u": "p"}, ExtraExtensions: []string{"AUTH=PLAIN"}}, []step{
			{"EHLO c", "250"},
			{"AUTH PLAIN AHUAcA==", "235 2.7.0"},
		}},
		{"RequireTLS", smtptest.Config{RequireTLS: true, Users: map[string]string{"u": "p"}}, []step{
			{"EHLO c", "250"},
			{"MAIL FROM:<a@x>", "530 5.7.0"},
			{"AUTH PLAIN AHUAcA==", "530 5.7.0"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.cfg)
			c := newClient(t, s.Pipe())
			c.reply()
			got, want := c.converse(tt.steps)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEHLOExtensions(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	serverTLS, _, err := smtptest.TLSConfigs()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  smtptest.Config
		verb string
		want string
	}{
		{"everything", smtptest.Config{
			Hostname: "mx.test", MaxSize: 1000, TLS: serverTLS,
			Users: map[string]string{"u": "p"}, AuthMechanisms: []string{"PLAIN", "LOGIN", "SCRAM-SHA-256-PLUS"},
			ExtraExtensions: []string{"REQUIRETLS", "BAD\r\nINJECTED", "X-FOO bar"},
		}, "EHLO",
			"250-mx.test greets c\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n" +
				"250-CHUNKING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n" +
				"250-REQUIRETLS\r\n250 X-FOO bar\r\n"},
		{"custom AUTH lines", smtptest.Config{
			DisablePipelining: true, DisableChunking: true, Disable8BITMIME: true, DisableSMTPUTF8: true,
			DisableDSN: true, DisableEnhancedCodes: true,
			Users: map[string]string{"u": "p"}, ExtraExtensions: []string{"AUTH=LOGIN PLAIN"},
		}, "EHLO", "250-smtptest.local greets c\r\n250 AUTH=LOGIN PLAIN\r\n"},
		{"nothing", smtptest.Config{
			DisablePipelining: true, DisableChunking: true, Disable8BITMIME: true, DisableSMTPUTF8: true,
			DisableDSN: true, DisableEnhancedCodes: true, LMTP: true,
		}, "LHLO", "250 smtptest.local greets c\r\n"},
		{"AUTH only after TLS", smtptest.Config{Users: map[string]string{}, AuthOnlyAfterTLS: true, DisablePipelining: true},
			"EHLO", "250-smtptest.local greets c\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.cfg)
			c := newClient(t, s.Pipe())
			c.reply()
			if diff := cmp.Diff(tt.want, c.cmd(tt.verb+" c")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplyString(t *testing.T) {
	tests := []struct {
		r    smtptest.Reply
		want string
	}{
		{smtptest.Reply{Code: 250}, "250 \r\n"},
		{smtptest.Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 0, Detail: 0}}, "250 2.0.0\r\n"},
		{smtptest.Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 0, Detail: 0}, Text: "ok"}, "250 2.0.0 ok\r\n"},
		{smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no\nsuch\r\nuser"}, "550-5.1.1 no\r\n550-5.1.1 such\r\n550 5.1.1 user\r\n"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestHookKindString(t *testing.T) {
	got := []string{smtptest.HookGreeting.String(), smtptest.HookCommand.String(), smtptest.HookAuthResponse.String(), smtptest.HookDataEnd.String(), smtptest.HookKind(9).String()}
	want := []string{"greeting", "command", "auth-response", "data-end", "HookKind(9)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
