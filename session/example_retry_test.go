package session_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// retryAdvice says what a sender should do with one recipient, given the
// error SendMail reported for it (SendResult.Recipients[i].Err, or the
// call's error when there is no result). The order of the cases matters:
// an *UnknownDeliveryError also matches its cause (ErrServerDisconnected,
// ErrTimeout, a context error), so ErrDeliveryUnknown is tested first.
func retryAdvice(err error) string {
	var re *session.ReplyError
	switch {
	case err == nil:
		return "delivered"
	case errors.Is(err, session.ErrDeliveryUnknown):
		// The whole message left; the server may have stored it before the
		// connection failed. Resending blindly risks a duplicate: record
		// it, check (a bounce, the recipient's mailbox, the server's log),
		// or resend only if duplicates are acceptable.
		return "unknown: do not resend blindly"
	case errors.As(err, &re) && re.Temporary():
		// 4xx, 421 included: the same message may succeed later. A 421
		// also closed the connection: use a new one.
		return fmt.Sprintf("retry later (%d %s)", re.Code, re.Enhanced)
	case errors.As(err, &re):
		return fmt.Sprintf("permanent failure, bounce (%d %s)", re.Code, re.Enhanced)
	case errors.Is(err, session.ErrServerDisconnected), errors.Is(err, session.ErrTimeout),
		errors.Is(err, context.DeadlineExceeded):
		// The connection failed before the end of the data: nothing was
		// delivered, so the message can be sent again on a new connection.
		return "retry on a new connection"
	}
	// A *protocol.UsageError, *NotSupportedError, ErrMessageTooLarge, an
	// *AuthError without a reply, the body reader's error...: resending
	// the same message the same way fails the same way.
	return "do not retry: " + err.Error()
}

// Which failures may be retried: per recipient, the reply's class decides
// (4xx: later; 5xx: never); a connection lost before the end of the data
// delivered nothing; a connection lost after it leaves the outcome unknown.
func ExampleClient_SendMail_retry() {
	ctx := context.Background()
	srv := smtptest.NewServer(smtptest.Config{
		// DATA, not BDAT, so that the hook below can hang up at DATA.
		DisableChunking: true,
		RcptFunc: func(addr string) smtptest.Reply {
			switch addr {
			case "busy@example.net":
				return smtptest.Reply{Code: 451, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 2, Detail: 1}, Text: "mailbox busy, try later"}
			case "gone@example.net":
				return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no such user"}
			}
			return smtptest.Reply{}
		},
		Hook: func(ev smtptest.HookEvent) smtptest.Action {
			switch {
			case ev.Kind == smtptest.HookCommand && strings.Contains(ev.Line, "<throttled@"):
				return smtptest.Action{Raw: "421 4.7.0 too many messages, closing\r\n", Disconnect: true}
			case ev.Kind == smtptest.HookCommand && ev.Verb == "DATA" && ev.Conn.ID == 3:
				return smtptest.Action{Disconnect: true} // before the body: nothing stored
			case ev.Kind == smtptest.HookDataEnd && ev.Conn.ID == 4:
				return smtptest.Action{Disconnect: true} // the message was received; no reply
			}
			return smtptest.Action{}
		},
	})
	defer srv.Close()

	send := func(from string, to ...string) {
		c, err := session.NewClient(ctx, srv.Pipe(), "mx.example", &session.Options{LocalName: "client.example"})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer c.Close()
		res, err := c.SendMail(ctx, from, to, strings.NewReader("Subject: hi\r\n\r\nHello.\r\n"), nil)
		if res == nil { // nothing was asked of the server
			fmt.Println("message:", retryAdvice(err))
			return
		}
		for _, r := range res.Recipients {
			fmt.Printf("%s: %s\n", r.Recipient, retryAdvice(r.Err))
		}
		c.Quit(ctx)
	}
	send("me@example.com", "you@example.net", "busy@example.net", "gone@example.net") // connection 1
	send("throttled@example.com", "you@example.net")                                  // 2: 421 to MAIL
	send("me@example.com", "you@example.net")                                         // 3: hang-up at DATA
	send("me@example.com", "you@example.net")                                         // 4: hang-up after the data
	send("me@example.com", "bad\r\naddress@example.net")                              // 5: refused locally
	// Output:
	// you@example.net: delivered
	// busy@example.net: retry later (451 4.2.1)
	// gone@example.net: permanent failure, bounce (550 5.1.1)
	// you@example.net: retry later (421 4.7.0)
	// you@example.net: retry on a new connection
	// you@example.net: unknown: do not resend blindly
	// message: do not retry: protocol: line break in command argument: CR or LF in argument (RCPT in Ready)
}
