// Lmtp delivers one message by LMTP (RFC 2033) over a Unix socket and
// prints, for each recipient in RCPT order, what the server answered after
// the data: an LMTP server gives every recipient its own final reply, so
// one mailbox can be full while the others get the message.
//
// With no flags it starts postwire's in-process server in LMTP mode on a
// socket in a temporary directory and delivers to three recipients, one of
// whom is refused:
//
//	go run ./examples/lmtp
//
// To deliver to a real LMTP server, such as Dovecot's:
//
//	go run ./examples/lmtp -socket /var/run/dovecot/lmtp -from me@example.com -to alice@example.net,bob@example.net
//
// -v writes the conversation to standard error. The exit status is 0 when
// the delivery ran (with the built-in server, the refusal is part of the
// show); with -socket it is 0 when every recipient got the message, 1 when
// some did not, and 2 when the delivery failed, with a one-line error.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lmtp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "", "absolute `path` of a real LMTP server's socket (default: a built-in server)")
	from := fs.String("from", "postmaster@example.com", "sender `address`")
	to := fs.String("to", "alice@example.net,full@example.net,bob@example.net", "comma-separated recipient `addresses`")
	verbose := fs.Bool("v", false, "write the conversation to standard error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var logTo io.Writer
	if *verbose {
		logTo = stderr
	}
	refused, err := deliver(ctx, *socket, *from, strings.Split(*to, ","), stdout, logTo)
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "lmtp: "+cli.Describe(err))
		return 2
	case refused > 0 && *socket != "":
		return 1
	}
	return 0
}

// deliver sends one message to every recipient in to and prints each
// recipient's outcome. It returns how many were refused.
func deliver(ctx context.Context, socket, from string, to []string, out, logTo io.Writer) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	opts := &session.Options{}
	if socket == "" {
		srv, path, cleanup, err := startServer()
		if err != nil {
			return 0, err
		}
		defer cleanup()
		defer srv.Close()
		socket = path
		opts.LocalName = "client.example" // LHLO name; by default this host's name
	}
	if logTo != nil {
		opts.Logger = cli.Logger(logTo)
	}
	client, err := session.DialLMTP(ctx, socket, opts) // a path: Unix socket; LHLO
	if err != nil {
		return 0, &cli.ServerError{Addr: socket, Err: err}
	}
	defer client.Close()

	msg := "From: <" + from + ">\r\n" +
		"To: undisclosed-recipients:;\r\n" +
		"Subject: Delivered by LMTP\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"\r\n" +
		"Each recipient gets its own reply after the data.\r\n"
	res, err := client.SendMail(ctx, from, to, strings.NewReader(msg), nil)
	refused := 0
	if res != nil {
		fmt.Fprintf(out, "--- delivery through %s\n", socket)
		tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
		for _, r := range res.Recipients {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Recipient, outcome(r), r.Reply)
			if r.Err != nil {
				refused++
			}
		}
		tw.Flush()
	}
	if err != nil {
		return refused, &cli.ServerError{Addr: socket, Err: err}
	}
	client.Quit(ctx)
	return refused, nil
}

// outcome says in a word or two what happened to one recipient.
func outcome(r session.RecipientResult) string {
	switch {
	case r.Err == nil:
		return "delivered"
	case r.Reply.Transient():
		return "refused for now"
	case r.Reply.Permanent():
		return "refused"
	}
	return "unknown: " + cli.Describe(r.Err)
}

// startServer starts the built-in LMTP server on a socket in a new
// temporary directory. Its mailbox full@example.net is full.
func startServer() (*smtptest.Server, string, func(), error) {
	dir, err := os.MkdirTemp("", "postwire-lmtp-")
	if err != nil {
		return nil, "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	srv := smtptest.NewServer(smtptest.Config{
		Hostname: "lmtp.demo.example",
		LMTP:     true,
		LMTPFunc: func(rcpt string, _ *smtptest.Message) smtptest.Reply {
			if rcpt == "full@example.net" {
				return smtptest.Reply{Code: 452, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 2, Detail: 2}, Text: "mailbox full"}
			}
			return smtptest.Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 0, Detail: 0}, Text: "delivered to INBOX"}
		},
	})
	path := filepath.Join(dir, "lmtp.sock")
	if _, err := srv.Listen("unix", path); err != nil {
		srv.Close()
		cleanup()
		return nil, "", nil, err
	}
	return srv, path, cleanup, nil
}
