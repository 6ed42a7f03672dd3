package session_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// recipientView flattens a RecipientResult for cmp.
type recipientView struct {
	Recipient string
	Code      int
	Refused   bool // Err is a *RecipientError
	OK        bool // Err is nil
}

func recipientsOf(rs []session.RecipientResult) []recipientView {
	var out []recipientView
	for _, r := range rs {
		var re *session.RecipientError
		out = append(out, recipientView{r.Recipient, r.Reply.Code, errors.As(r.Err, &re), r.Err == nil})
	}
	return out
}

// lmtpServer listens on a Unix socket in a temporary directory.
func lmtpServer(t *testing.T, cfg smtptest.Config) (*smtptest.Server, string) {
	t.Helper()
	cfg.LMTP = true
	s := newServer(t, cfg)
	path := filepath.Join(t.TempDir(), "lmtp.sock")
	if _, err := s.Listen("unix", path); err != nil {
		t.Fatalf("Listen unix: %v", err)
	}
	return s, path
}

func TestLMTPMixedResults(t *testing.T) {
	rcpt := func(addr string) smtptest.Reply {
		if strings.HasPrefix(addr, "unknown@") {
			return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no such user"}
		}
		return smtptest.Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 1, Detail: 5}, Text: "ok"}
	}
	deliver := func(addr string, _ *smtptest.Message) smtptest.Reply {
		switch {
		case strings.HasPrefix(addr, "full@"):
			return smtptest.Reply{Code: 452, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 2, Detail: 2}, Text: "mailbox full"}
		case strings.HasPrefix(addr, "bad@"):
			return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 2, Detail: 1}, Text: "mailbox disabled"}
		}
		return smtptest.Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 0, Detail: 0}, Text: "delivered to " + addr}
	}
	to := []string{"ok@y.test", "full@y.test", "unknown@y.test", "bad@y.test", "ok@y.test"}
	want := []recipientView{
		{"ok@y.test", 250, false, true},
		{"full@y.test", 452, true, false},
		{"unknown@y.test", 550, true, false},
		{"bad@y.test", 550, true, false},
		{"ok@y.test", 250, false, true},
	}
	for _, chunking := range []bool{false, true} {
		t.Run(map[bool]string{false: "DATA", true: "BDAT"}[chunking], func(t *testing.T) {
			s, path := lmtpServer(t, smtptest.Config{DisableChunking: !chunking, RcptFunc: rcpt, LMTPFunc: deliver})
			ctx := ctxTimeout(t)
			c, err := session.DialLMTP(ctx, path, opts())
			if err != nil {
				t.Fatalf("DialLMTP: %v", err)
			}
			defer c.Close()
			if !c.LMTP() {
				t.Errorf("LMTP() = false")
			}
			res, err := c.SendMail(ctx, "a@x.test", to, strings.NewReader("hello\r\n"), nil)
			if err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			if diff := cmp.Diff(want, recipientsOf(res.Recipients)); diff != "" {
				t.Errorf("recipients (-want +got):\n%s", diff)
			}
			wantRefused := []refusedView{{"full@y.test", 452}, {"unknown@y.test", 550}, {"bad@y.test", 550}}
			if diff := cmp.Diff(wantRefused, refusedOf(res.Refused)); diff != "" {
				t.Errorf("refused (-want +got):\n%s", diff)
			}
			if got := res.Recipients[0].Reply.Text(); got != "delivered to ok@y.test" {
				t.Errorf("first reply text %q", got)
			}
			if _, err := c.Quit(ctx); err != nil {
				t.Errorf("Quit: %v", err)
			}
			if !strings.Contains(string(s.Received()), "LHLO client.test\r\n") {
				t.Errorf("no LHLO sent:\n%s", s.Received())
			}
			msgs := s.Messages()
			if len(msgs) != 1 || msgs[0].Chunked != chunking {
				t.Errorf("messages %+v", msgs)
			}
		})
	}
}

func TestLMTPFailures(t *testing.T) {
	refuseAll := func(string, *smtptest.Message) smtptest.Reply {
		return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 2, Detail: 1}, Text: "no"}
	}
	dropAtEnd := func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Kind == smtptest.HookDataEnd {
			return smtptest.Action{Disconnect: true}
		}
		return smtptest.Action{}
	}
	t.Run("all refused after the data", func(t *testing.T) {
		_, path := lmtpServer(t, smtptest.Config{LMTPFunc: refuseAll})
		ctx := ctxTimeout(t)
		c, err := session.DialLMTP(ctx, path, opts())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.SendMail(ctx, "a@x.test", []string{"a@y.test", "b@y.test"}, strings.NewReader("x\r\n"), nil)
		var rr *session.RecipientsRefusedError
		if !errors.As(err, &rr) || len(rr.Refused) != 2 {
			t.Fatalf("SendMail error = %v, want *RecipientsRefusedError with 2 recipients", err)
		}
		if diff := cmp.Diff([]refusedView{{"a@y.test", 550}, {"b@y.test", 550}}, refusedOf(res.Refused), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("refused (-want +got):\n%s", diff)
		}
	})
	t.Run("connection lost before the replies", func(t *testing.T) {
		_, path := lmtpServer(t, smtptest.Config{Hook: dropAtEnd})
		ctx := ctxTimeout(t)
		c, err := session.DialLMTP(ctx, path, opts())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.SendMail(ctx, "a@x.test", []string{"a@y.test", "b@y.test"}, strings.NewReader("x\r\n"), nil)
		var ue *session.UnknownDeliveryError
		if !errors.As(err, &ue) || !errors.Is(err, session.ErrServerDisconnected) {
			t.Fatalf("SendMail error = %v, want *UnknownDeliveryError after a disconnect", err)
		}
		if diff := cmp.Diff([]string{"a@y.test", "b@y.test"}, ue.Recipients); diff != "" {
			t.Errorf("unknown recipients (-want +got):\n%s", diff)
		}
		for _, r := range res.Recipients {
			if !errors.Is(r.Err, session.ErrDeliveryUnknown) {
				t.Errorf("recipient %s: %v, want unknown", r.Recipient, r.Err)
			}
		}
	})
	t.Run("low-level Data", func(t *testing.T) {
		_, path := lmtpServer(t, smtptest.Config{LMTPFunc: func(addr string, _ *smtptest.Message) smtptest.Reply {
			if addr == "b@y.test" {
				return smtptest.Reply{Code: 452, Text: "full"}
			}
			return smtptest.Reply{Code: 250, Text: "ok"}
		}})
		ctx := ctxTimeout(t)
		c, err := session.DialLMTP(ctx, path, opts())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Mail(ctx, "a@x.test"); err != nil {
			t.Fatal(err)
		}
		for _, to := range []string{"a@y.test", "b@y.test"} {
			if _, err := c.Rcpt(ctx, to); err != nil {
				t.Fatal(err)
			}
		}
		_, err = c.Data(ctx, strings.NewReader("x\r\n"))
		var rr *session.RecipientsRefusedError
		if !errors.As(err, &rr) || rr.Recipient("b@y.test") == nil || rr.Recipient("a@y.test") != nil {
			t.Fatalf("Data error = %v, want b@y.test refused only", err)
		}
	})
}
