package protocol_test

import (
	"errors"
	"fmt"

	"github.com/postwire/postwire/protocol"
)

func ExampleClient() {
	c := protocol.NewClient(protocol.Config{})
	c.Receive([]byte("220 mx.example ESMTP\r\n"))
	ev, _ := c.NextEvent()
	fmt.Println(ev.Kind, ev.Reply.Code, c.State())

	c.Send(protocol.Ehlo("client.example"))
	fmt.Printf("%q\n", c.Outgoing())
	c.Advance(len(c.Outgoing())) // written to the connection

	c.Receive([]byte("250-mx.example\r\n250-SIZE 1000000\r\n250 STARTTLS\r\n"))
	ev, _ = c.NextEvent()
	size, _ := c.Extensions().Size()
	fmt.Println(ev.Cmd.Verb, ev.Reply.Code, c.Extensions().Has("starttls"), size)

	// Nothing more has arrived.
	_, err := c.NextEvent()
	fmt.Println(errors.Is(err, protocol.ErrNeedData))
	// Output:
	// Greeting 220 Hello
	// "EHLO client.example\r\n"
	// EHLO 250 true 1000000
	// true
}

func Example_pipelining() {
	c := protocol.NewClient(protocol.Config{})
	c.Receive([]byte("220 mx.example ESMTP\r\n"))
	c.NextEvent()
	c.Send(protocol.Ehlo("client.example"))
	c.Advance(len(c.Outgoing()))
	c.Receive([]byte("250-mx.example\r\n250 PIPELINING\r\n"))
	c.NextEvent()

	// With PIPELINING the whole envelope goes in one write.
	c.Send(protocol.Mail("alice@example.com"))
	c.Send(protocol.Rcpt("bob@example.org"))
	c.Send(protocol.Rcpt("nobody@example.org"))
	c.Send(protocol.Data())
	fmt.Printf("%q\n", c.Outgoing())
	c.Advance(len(c.Outgoing()))
	// DATA ends the group: the next command waits for its reply.
	_, err := c.Send(protocol.Noop())
	fmt.Println(errors.Is(err, protocol.ErrMustWait), c.Pending())

	// Each reply is matched to its command, in order.
	c.Receive([]byte("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 unknown user\r\n354 go ahead\r\n"))
	for {
		ev, err := c.NextEvent()
		if err != nil {
			break
		}
		fmt.Println(ev.Cmd, "->", ev.Reply)
	}
	c.SendBody([]byte("Subject: hi\n\n.dot\n"))
	c.EndBody()
	fmt.Printf("%q %v\n", c.Outgoing(), c.State())
	// Output:
	// "MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n"
	// true 4
	// MAIL FROM:<alice@example.com> -> 250 2.1.0 Ok
	// RCPT TO:<bob@example.org> -> 250 2.1.5 Ok
	// RCPT TO:<nobody@example.org> -> 550 5.1.1 unknown user
	// DATA -> 354 go ahead
	// "Subject: hi\r\n\r\n..dot\r\n.\r\n" BodyDone
}

func ExampleClient_lmtp() {
	c := protocol.NewClient(protocol.Config{LMTP: true})
	c.Receive([]byte("220 lmtp.example\r\n"))
	c.NextEvent()
	for _, step := range []struct {
		cmd   protocol.Command
		reply string
	}{
		{protocol.Lhlo("client.example"), "250 lmtp.example\r\n"},
		{protocol.Mail("alice@example.com"), "250 ok\r\n"},
		{protocol.Rcpt("bob@example.org"), "250 ok\r\n"},
		{protocol.Rcpt("carol@example.org"), "250 ok\r\n"},
		{protocol.Data(), "354 go\r\n"},
	} {
		c.Send(step.cmd)
		c.Advance(len(c.Outgoing())) // written: only then can it be answered
		c.Receive([]byte(step.reply))
		c.NextEvent()
	}
	c.SendBody([]byte("hello\r\n"))
	c.EndBody()
	c.Advance(len(c.Outgoing()))
	c.Receive([]byte("250 2.0.0 saved\r\n452 4.2.2 over quota\r\n"))
	for {
		ev, err := c.NextEvent()
		if err != nil {
			break
		}
		fmt.Println(ev.Rcpt, ev.Reply.Code)
	}
	// Output:
	// bob@example.org 250
	// carol@example.org 452
}
