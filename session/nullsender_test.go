package session_test

import (
	"strings"
	"testing"

	"github.com/postwire/postwire/session/smtptest"
)

// "<>" as the sender is the null reverse-path (smtplib, every MTA), in
// SendMail as in Mail; "" is too.
func TestNullSender(t *testing.T) {
	for _, from := range []string{"<>", "", " <> "} {
		s := newServer(t, smtptest.Config{})
		c := connect(t, transports[0], s, nil)
		ctx := ctxTimeout(t)
		if _, err := c.SendMail(ctx, from, []string{"b@y.test"}, strings.NewReader("x\r\n"), nil); err != nil {
			t.Fatalf("SendMail(%q): %v", from, err)
		}
		if got := s.Messages()[0].From; got != "" {
			t.Errorf("SendMail(%q): the server saw MAIL FROM:<%s>, want <>", from, got)
		}
	}
}
