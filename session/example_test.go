package session_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

func ExampleClient_SendMail() {
	ctx := context.Background()
	srv := smtptest.NewServer(smtptest.Config{
		Hostname: "mx.example",
		RcptFunc: func(addr string) smtptest.Reply {
			if addr == "nobody@example.net" {
				return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no such user"}
			}
			return smtptest.Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 1, Detail: 5}, Text: "ok"}
		},
	})
	defer srv.Close()

	// Dial("mx.example:25", ...) for a real server; here an in-memory pipe.
	c, err := session.NewClient(ctx, srv.Pipe(), "mx.example", &session.Options{LocalName: "client.example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	body := strings.NewReader("Subject: hello\r\n\r\nHi there.\r\n")
	res, err := c.SendMail(ctx, "me@example.com", []string{"you@example.net", "nobody@example.net"}, body, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("final reply:", res.Reply.Code)
	for _, r := range res.Refused {
		fmt.Println("refused:", r.Recipient, r.Reply.Code, r.Reply.Enhanced)
	}
	c.Quit(ctx)
	fmt.Printf("stored: %q\n", srv.Messages()[0].Data)
	// Output:
	// final reply: 250
	// refused: nobody@example.net 550 5.1.1
	// stored: "Subject: hello\r\n\r\nHi there.\r\n"
}

func ExampleClient_SendMessage() {
	ctx := context.Background()
	srv := smtptest.NewServer(smtptest.Config{})
	defer srv.Close()
	c, err := session.NewClient(ctx, srv.Pipe(), "mx.example", &session.Options{LocalName: "client.example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	msg := "From: Me <me@example.com>\r\n" +
		"To: you@example.net\r\n" +
		"Bcc: boss@example.com\r\n" +
		"Subject: report\r\n" +
		"\r\n" +
		"See attached.\r\n"
	if _, err := c.SendMessage(ctx, strings.NewReader(msg), nil); err != nil {
		fmt.Println(err)
		return
	}
	c.Quit(ctx)
	m := srv.Messages()[0]
	fmt.Println("from:", m.From)
	fmt.Println("to:", m.To)
	fmt.Println("Bcc transmitted:", strings.Contains(string(m.Data), "Bcc"))
	// Output:
	// from: me@example.com
	// to: [you@example.net boss@example.com]
	// Bcc transmitted: false
}

// An LMTP server answers for each recipient after the data. DialLMTP
// connects to "/var/run/dovecot/lmtp" or "host:24"; this example uses an
// in-memory pipe and Options.LMTP instead.
func ExampleDialLMTP() {
	ctx := context.Background()
	srv := smtptest.NewServer(smtptest.Config{
		LMTP: true,
		LMTPFunc: func(rcpt string, _ *smtptest.Message) smtptest.Reply {
			if rcpt == "full@example.net" {
				return smtptest.Reply{Code: 452, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 2, Detail: 2}, Text: "mailbox full"}
			}
			return smtptest.Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 0, Detail: 0}, Text: "delivered"}
		},
	})
	defer srv.Close()
	c, err := session.NewClient(ctx, srv.Pipe(), "localhost", &session.Options{LMTP: true, LocalName: "client.example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	to := []string{"a@example.net", "full@example.net", "a@example.net"}
	res, err := c.SendMail(ctx, "me@example.com", to, strings.NewReader("hi\r\n"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Recipients {
		fmt.Println(r.Recipient, r.Reply.Code, r.Err == nil)
	}
	c.Quit(ctx)
	// Output:
	// a@example.net 250 true
	// full@example.net 452 false
	// a@example.net 250 true
}

func ExampleClient_StartTLS() {
	ctx := context.Background()
	serverTLS, clientTLS, err := smtptest.TLSConfigs("mx.example")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := smtptest.NewServer(smtptest.Config{TLS: serverTLS, Users: map[string]string{"me": "secret"}})
	defer srv.Close()

	// clientTLS trusts the test certificate; with nil, the system roots
	// are used and the certificate is checked against "mx.example".
	c, err := session.NewClient(ctx, srv.Pipe(), "mx.example", &session.Options{LocalName: "client.example", TLSConfig: clientTLS})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if _, err := c.StartTLS(ctx, nil); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.Login(ctx, "me", "secret"); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.SendMail(ctx, "me@example.com", []string{"you@example.net"}, strings.NewReader("hi\r\n"), nil); err != nil {
		fmt.Println(err)
		return
	}
	c.Quit(ctx)
	m := srv.Messages()[0]
	fmt.Println("encrypted:", c.TLS(), m.TLS)
	fmt.Println("authenticated as:", m.AuthUser)
	// Output:
	// encrypted: true true
	// authenticated as: me
}

func ExampleClient_SendBatch() {
	ctx := context.Background()
	srv := smtptest.NewServer(smtptest.Config{})
	defer srv.Close()
	c, err := session.NewClient(ctx, srv.Pipe(), "mx.example", &session.Options{LocalName: "client.example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	// With PIPELINING, each message's envelope travels with the previous
	// message's end of data: one round trip per message.
	var batch []session.Envelope
	for _, to := range []string{"a@example.net", "b@example.net", "c@example.net"} {
		batch = append(batch, session.Envelope{
			From: "me@example.com",
			To:   []string{to},
			Body: strings.NewReader("Subject: news\r\n\r\nHello " + to + "\r\n"),
		})
	}
	for i, r := range c.SendBatch(ctx, batch) {
		fmt.Println(i, r.Err, r.Result.Reply.Code)
	}
	c.Quit(ctx)
	fmt.Println("stored:", len(srv.Messages()))
	// Output:
	// 0 <nil> 250
	// 1 <nil> 250
	// 2 <nil> 250
	// stored: 3
}
