package smtptest_test

import (
	"context"
	"fmt"
	"net/textproto"
	"strings"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// A test starts a server, talks to it over an in-memory pipe (any SMTP
// client works; net/textproto here) and checks what arrived.
func Example() {
	srv := smtptest.NewServer(smtptest.Config{})
	defer srv.Close()

	c := textproto.NewConn(srv.Pipe())
	defer c.Close()
	c.ReadResponse(220)
	for _, cmd := range []struct {
		line string
		code int
	}{
		{"EHLO client.example", 250},
		{"MAIL FROM:<alice@example.org>", 250},
		{"RCPT TO:<bob@example.org>", 250},
		{"DATA", 354},
	} {
		c.PrintfLine("%s", cmd.line)
		if _, _, err := c.ReadResponse(cmd.code); err != nil {
			fmt.Println(err)
			return
		}
	}
	w := c.DotWriter()
	fmt.Fprint(w, "Subject: hello\r\n\r\n.signature\r\n")
	w.Close()
	_, msg, err := c.ReadResponse(250)
	fmt.Println(msg, err)

	for _, m := range srv.Messages() {
		fmt.Printf("from %s to %v: %q\n", m.From, m.To, m.Data)
	}
	// Output:
	// 2.0.0 OK: message queued <nil>
	// from alice@example.org to [bob@example.org]: "Subject: hello\r\n\r\n.signature\r\n"
}

// A hook scripts failures: here the server drops the connection with 421
// when the client sends MAIL.
func ExampleConfig_hook() {
	srv := smtptest.NewServer(smtptest.Config{
		Hook: func(ev smtptest.HookEvent) smtptest.Action {
			if ev.Verb == "MAIL" {
				return smtptest.Action{Raw: "421 4.3.2 going down\r\n", Disconnect: true}
			}
			return smtptest.Action{} // behave normally
		},
	})
	defer srv.Close()

	c := textproto.NewConn(srv.Pipe())
	defer c.Close()
	c.ReadResponse(220)
	c.PrintfLine("HELO client.example")
	c.ReadResponse(250)
	c.PrintfLine("MAIL FROM:<alice@example.org>")
	code, msg, _ := c.ReadResponse(250)
	fmt.Println(code, msg)
	_, err := c.ReadLine()
	fmt.Println(err)
	// Output:
	// 421 4.3.2 going down
	// EOF
}

// Reply.String gives the wire form of a reply, multiline included.
func ExampleReply() {
	fmt.Printf("%q\n", smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no such user\nhere"})
	// Output:
	// "550-5.1.1 no such user\r\n550 5.1.1 here\r\n"
}

// A server on loopback TCP, as a long-running test server: Addr is what a
// client dials, and MaxMessages keeps only the newest messages.
func ExampleServer_Addr() {
	srv := smtptest.NewServer(smtptest.Config{MaxMessages: 2})
	defer srv.Close()
	if _, err := srv.Listen("tcp", "127.0.0.1:0"); err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	c, err := session.Dial(ctx, srv.Addr(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	for i := 1; i <= 3; i++ {
		body := strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nhello\r\n", i))
		if _, err := c.SendMail(ctx, "alice@example.org", []string{"bob@example.org"}, body, nil); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, m := range srv.Messages() {
		fmt.Printf("%q\n", m.Data[:len("Subject: 1")])
	}
	// Output:
	// "Subject: 2"
	// "Subject: 3"
}
