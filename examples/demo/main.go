// Demo sends one message over STARTTLS and AUTH and prints the whole
// conversation, then the message as the server stored it. With no flags it
// needs nothing but Go: it starts postwire's in-process test server
// (session/smtptest) on 127.0.0.1 with a freshly generated certificate and
// a demo user, and talks to it over loopback TCP.
//
//	go run ./examples/demo
//
// The same steps against a real server (the password is read from the
// POSTWIRE_PASSWORD environment variable):
//
//	POSTWIRE_PASSWORD=secret go run ./examples/demo -addr smtp.example.com:587 \
//		-user me@example.com -from me@example.com -to you@example.net
//
// -tls chooses how the connection is protected: starttls (the default:
// STARTTLS is required), opportunistic (STARTTLS when offered), implicit
// (TLS from the start, port 465) or none. Certificates are always verified:
// the built-in server's against the certificate authority generated with it.
//
// The exit status is 0 when the message was accepted, 1 otherwise, with a
// one-line error on stderr.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// config is what the flags say.
type config struct {
	addr, from, to, tls, user, password string
}

// run is the whole program: main only adds the process around it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.addr, "addr", "", "`host:port` of a real server to use instead of the built-in one")
	fs.StringVar(&c.from, "from", "alice@example.com", "sender `address`")
	fs.StringVar(&c.to, "to", "bob@example.net", "recipient `address`")
	fs.StringVar(&c.tls, "tls", "starttls", "TLS `mode`: starttls, opportunistic, implicit or none")
	fs.StringVar(&c.user, "user", "", "`name` to authenticate as (password in $POSTWIRE_PASSWORD); the built-in server's user is \"demo\"")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c.password = getenv("POSTWIRE_PASSWORD")
	if err := demo(ctx, c, stdout); err != nil {
		fmt.Fprintln(stderr, "demo: "+cli.Describe(err))
		return 1
	}
	return 0
}

func demo(ctx context.Context, c config, out io.Writer) error {
	switch c.tls {
	case "starttls", "opportunistic", "implicit", "none":
	default:
		return fmt.Errorf("unknown -tls mode %q (want starttls, opportunistic, implicit or none)", c.tls)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	// Every command and reply goes to the transcript (AUTH redacted).
	opts := &session.Options{Logger: cli.Logger(out)}

	var srv *smtptest.Server
	if c.addr == "" {
		var err error
		srv, c, opts.TLSConfig, err = startServer(c)
		if err != nil {
			return err
		}
		defer srv.Close()
		opts.LocalName = "client.example" // EHLO name; by default this host's name
	} else if c.user != "" && c.password == "" {
		return errors.New("-user needs the password in the POSTWIRE_PASSWORD environment variable")
	}

	fmt.Fprintf(out, "--- conversation with %s\n", c.addr)
	if err := converse(ctx, c, opts, out); err != nil {
		return &cli.ServerError{Addr: c.addr, Err: err}
	}
	if srv != nil {
		for _, m := range srv.Messages() {
			fmt.Fprintf(out, "--- message stored by the server (from <%s> to %v, TLS %v, user %q):\n%s",
				m.From, m.To, m.TLS, m.AuthUser, m.Data)
		}
	}
	return nil
}

// converse is the conversation itself: connect, EHLO, STARTTLS, AUTH, send, QUIT.
func converse(ctx context.Context, c config, opts *session.Options, out io.Writer) error {
	dial := session.Dial
	if c.tls == "implicit" {
		dial = session.DialTLS
	}
	client, err := dial(ctx, c.addr, opts) // reads the greeting
	if err != nil {
		return err
	}
	defer client.Close()

	if _, err := client.Ehlo(ctx, ""); err != nil {
		return err
	}
	if c.tls == "starttls" || c.tls == "opportunistic" && client.HasExtension("STARTTLS") {
		// Upgrades the connection, verifies the certificate, greets again.
		if _, err := client.StartTLS(ctx, nil); err != nil {
			return err
		}
	}
	if c.user != "" {
		// Login picks the strongest mechanism both sides know (SCRAM here).
		if _, err := client.Login(ctx, c.user, c.password); err != nil {
			return err
		}
	}

	msg := "From: <" + c.from + ">\r\n" +
		"To: <" + c.to + ">\r\n" +
		"Subject: Hello from postwire\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"\r\n" +
		"This is postwire's demo message.\r\n"
	// SendMessage takes the envelope (MAIL FROM, RCPT TO) from the headers.
	res, err := client.SendMessage(ctx, strings.NewReader(msg), nil)
	if err != nil {
		return err
	}
	_, err = client.Quit(ctx)
	fmt.Fprintf(out, "--- accepted: %s\n", res.Reply)
	return err
}

// startServer starts the built-in server on loopback TCP with a new
// certificate and one user, and returns c pointing at it together with the
// client's TLS configuration, which trusts that certificate and nothing else.
func startServer(c config) (*smtptest.Server, config, *tls.Config, error) {
	cert, pool, err := smtptest.NewCertificate() // for localhost, 127.0.0.1 and ::1
	if err != nil {
		return nil, c, nil, err
	}
	if c.user == "" {
		c.user = "demo"
	}
	if c.password == "" {
		c.password = "correct horse battery staple"
	}
	srv := smtptest.NewServer(smtptest.Config{
		Hostname:    "mx.demo.example",
		TLS:         &tls.Config{Certificates: []tls.Certificate{cert}},
		ImplicitTLS: c.tls == "implicit",
		Users:       map[string]string{c.user: c.password},
	})
	addr, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, c, nil, err
	}
	c.addr = addr.String()
	return srv, c, &tls.Config{RootCAs: pool}, nil
}
