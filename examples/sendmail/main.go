// Sendmail sends the message on its standard input to an SMTP server, or
// to an LMTP server on a Unix socket, like a small sendmail(8):
//
//	go run ./examples/sendmail -server mx.example.com:25 -from me@example.com -to you@example.net < msg.eml
//	POSTWIRE_PASSWORD=secret go run ./examples/sendmail -server smtp.example.com:587 -user me@example.com < msg.eml
//	go run ./examples/sendmail -lmtp /var/run/dovecot/lmtp -from me@example.com -to a@example.net,b@example.net < msg.eml
//
// With -from and -to the message is sent as it is. Without them, the sender
// and the recipients come from the message's headers (From or Sender; To,
// Cc and Bcc, whose Bcc line is then not transmitted), as Python's smtplib
// send_message does. The message is streamed, never read into memory whole.
//
// -tls says how the connection is protected:
//
//	auto           (default) implicit TLS on port 465; otherwise STARTTLS,
//	               required unless the server is on this host (loopback or
//	               a Unix socket), where it is used when offered (never on a
//	               Unix socket)
//	starttls       STARTTLS required: nothing is sent in cleartext after EHLO
//	opportunistic  STARTTLS when the server offers it
//	implicit       TLS from the first byte (SMTPS, port 465)
//	none           cleartext
//
// Certificates are verified against the system's roots, plus the PEM
// certificates of -cafile. With -user, the password is taken from the
// POSTWIRE_PASSWORD environment variable, or asked for on the terminal
// (/dev/tty, echo turned off with stty); without a terminal the variable is
// required. -v writes the conversation to standard error, with the AUTH
// exchange redacted.
//
// One line per recipient goes to standard output. The exit status is 0 when
// every recipient was accepted, 1 when some were refused (they are listed),
// 2 when the message was not sent (with a one-line reason on standard
// error, e.g. "sendmail: mx.example.com:25: authentication failed: 535 5.7.8
// bad credentials").
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	"github.com/postwire/postwire/transport"
)

// Exit statuses.
const (
	exitOK      = 0 // every recipient accepted
	exitRefused = 1 // some recipients refused
	exitFailed  = 2 // nothing sent, or the outcome is unknown
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], stdio{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		getenv: os.Getenv, askPassword: ttyPassword,
	})
	stop()
	os.Exit(code)
}

// stdio is the program's view of its process, replaceable in tests.
type stdio struct {
	in          io.Reader // the message
	out, err    io.Writer
	getenv      func(string) string
	askPassword func(ctx context.Context, prompt string) (string, error)
}

// config is what the flags say.
type config struct {
	server, lmtp   string
	from           string
	to             addrList
	tls            string
	user, password string
	cafile         string
	helo           string
	verbose        bool
}

// addrList is a flag that may be repeated and may hold a comma list.
type addrList []string

func (l *addrList) String() string { return strings.Join(*l, ",") }

func (l *addrList) Set(s string) error {
	for a := range strings.SplitSeq(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			*l = append(*l, a)
		}
	}
	return nil
}

func run(ctx context.Context, args []string, sio stdio) int {
	fs := flag.NewFlagSet("sendmail", flag.ContinueOnError)
	fs.SetOutput(sio.err)
	var c config
	fs.StringVar(&c.server, "server", "", "SMTP server `host:port` (port 25 by default)")
	fs.StringVar(&c.lmtp, "lmtp", "", "deliver by LMTP to the Unix socket at this absolute `path` instead")
	fs.StringVar(&c.from, "from", "", "envelope sender `address` (needs -to)")
	fs.Var(&c.to, "to", "recipient `addresses`, comma-separated or repeated; none: from the headers")
	fs.StringVar(&c.tls, "tls", "auto", "TLS `mode`: auto, starttls, opportunistic, implicit or none")
	fs.StringVar(&c.user, "user", "", "authenticate as `name` (password: $POSTWIRE_PASSWORD or prompt)")
	fs.StringVar(&c.cafile, "cafile", "", "PEM `file` of certificate authorities to trust besides the system's")
	fs.StringVar(&c.helo, "helo", "", "`name` to send in EHLO (default: this host's name)")
	fs.BoolVar(&c.verbose, "v", false, "write the conversation to standard error")
	if err := fs.Parse(args); err != nil {
		return exitFailed
	}
	fail := func(err error) int {
		fmt.Fprintln(sio.err, "sendmail: "+cli.Describe(err))
		return exitFailed
	}
	if err := c.check(fs.NArg()); err != nil {
		return fail(err)
	}
	if c.user != "" {
		c.password = sio.getenv("POSTWIRE_PASSWORD")
		if c.password == "" {
			p, err := sio.askPassword(ctx, "Password for "+c.user+": ")
			if err != nil {
				return fail(err)
			}
			c.password = p
		}
	}

	res, err := send(ctx, c, sio)
	if res != nil {
		for _, r := range res.Recipients {
			switch {
			case r.Err == nil:
				fmt.Fprintf(sio.out, "%s: accepted: %s\n", r.Recipient, r.Reply)
			case res.Refusal(r.Recipient) != nil:
				fmt.Fprintf(sio.out, "%s: refused: %s\n", r.Recipient, cli.Reply(res.Refusal(r.Recipient)))
			case errors.Is(r.Err, session.ErrDeliveryUnknown):
				fmt.Fprintf(sio.out, "%s: %s\n", r.Recipient, cli.Describe(r.Err))
			default:
				fmt.Fprintf(sio.out, "%s: not delivered: %s\n", r.Recipient, cli.Describe(r.Err))
			}
		}
	}
	if err != nil {
		return fail(&cli.ServerError{Addr: c.addr(), Err: err})
	}
	if len(res.Refused) > 0 {
		fmt.Fprintf(sio.err, "sendmail: %s: %d of %d recipients refused\n", c.addr(), len(res.Refused), len(res.Recipients))
		return exitRefused
	}
	return exitOK
}

// check validates the flags together.
func (c *config) check(nargs int) error {
	switch {
	case nargs > 0:
		return errors.New("unexpected arguments (recipients go in -to)")
	case c.server == "" && c.lmtp == "":
		return errors.New("-server or -lmtp is required")
	case c.server != "" && c.lmtp != "":
		return errors.New("-server and -lmtp exclude each other")
	case c.from != "" && len(c.to) == 0:
		return errors.New("-from needs -to: without -to, sender and recipients both come from the message's headers")
	case c.from == "" && len(c.to) > 0:
		return errors.New("-to needs -from")
	case c.lmtp != "" && c.tls == "implicit":
		return errors.New("-tls implicit does not apply to -lmtp")
	}
	switch c.tls {
	case "auto", "starttls", "opportunistic", "implicit", "none":
		return nil
	}
	return fmt.Errorf("unknown -tls mode %q (want auto, starttls, opportunistic, implicit or none)", c.tls)
}

func (c *config) addr() string {
	if c.lmtp != "" {
		return c.lmtp
	}
	return c.server
}

// send connects, secures the connection as -tls says, authenticates and
// sends the message. The result is non-nil whenever the server was asked
// to take the message.
func send(ctx context.Context, c config, sio stdio) (*session.SendResult, error) {
	opts := &session.Options{LocalName: c.helo, ConnectTimeout: 30 * time.Second}
	if c.verbose {
		opts.Logger = cli.Logger(sio.err)
	}
	if c.cafile != "" {
		pool, err := loadCAs(c.cafile)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = &tls.Config{RootCAs: pool}
	}
	mode := c.tls
	if mode == "auto" && c.lmtp == "" && strings.HasSuffix(c.server, ":465") {
		mode = "implicit"
	}

	var client *session.Client
	var err error
	switch {
	case c.lmtp != "":
		client, err = session.DialLMTP(ctx, c.lmtp, opts)
	case mode == "implicit":
		client, err = session.DialTLS(ctx, c.server, opts)
	default:
		client, err = session.Dial(ctx, c.server, opts)
	}
	if err != nil {
		return nil, err
	}
	defer client.Close()

	if err := client.EhloOrHeloIfNeeded(ctx); err != nil {
		return nil, err
	}
	if err := secure(ctx, client, mode, c.lmtp != ""); err != nil {
		return nil, err
	}
	if c.user != "" {
		if err := client.Login(ctx, c.user, c.password); err != nil {
			return nil, err
		}
	}

	var res *session.SendResult
	if len(c.to) > 0 {
		res, err = client.SendMail(ctx, c.from, c.to, sio.in, nil)
	} else {
		res, err = client.SendMessage(ctx, sio.in, nil)
	}
	if err == nil {
		client.Quit(ctx) // the message is accepted; a failing QUIT changes nothing
	}
	return res, err
}

// secure applies the -tls mode to a greeted client ("implicit" and "none"
// need nothing more).
func secure(ctx context.Context, client *session.Client, mode string, unixSocket bool) error {
	if mode == "auto" {
		switch {
		case unixSocket:
			mode = "none"
		case transport.IsLoopback(client.Conn()):
			mode = "opportunistic"
		default:
			mode = "starttls"
		}
	}
	switch {
	case mode == "starttls", mode == "opportunistic" && client.HasExtension("STARTTLS"):
		return client.StartTLS(ctx, nil) // a *NotSupportedError when STARTTLS is not offered
	}
	return nil
}

// loadCAs returns the system's roots plus the certificates in file.
func loadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate found", file)
	}
	return pool, nil
}
