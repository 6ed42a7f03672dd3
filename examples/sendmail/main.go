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
// An empty message is sent all the same, with a warning.
//
// -subject and -body build a small test message instead, as swaks does
// (Date, From, To, Subject and Message-ID headers, then the body; "This is
// a test mailing" by default), and standard input is not read:
//
//	go run ./examples/sendmail -server localhost:25 -from me@example.com -to you@example.net -subject hello
//
// -pool N -count M sends M copies of the message through a session.Pool of
// up to N connections (copies waiting for the same connection are
// pipelined; a connection the server closes is dialled again) and prints
// the throughput and the connections used: a load test for one's own
// server. The message is then held in memory (16 MiB at most).
//
//	go run ./examples/sendmail -server localhost:2525 -from a@example.com -to b@example.com -body x -pool 8 -count 10000
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
// exchange redacted. -h prints the usage.
//
// One line per recipient goes to standard output (with -count, a summary),
// and a one-line reason for any failure to standard error, e.g.
// "sendmail: mx.example.com:25: authentication failed: 535 5.7.8 bad
// credentials". The exit status comes from sysexits.h, so that a script can
// tell what is worth retrying:
//
//	0   every recipient accepted
//	64  bad flags or arguments (EX_USAGE)
//	65  the message or an address is malformed, or the server refused the message itself with 5xx (EX_DATAERR)
//	66  the -cafile cannot be read (EX_NOINPUT)
//	68  the server's host does not exist (EX_NOHOST)
//	69  refused for good: 5xx to the connection, EHLO, the sender or the recipients; no STARTTLS; certificate not trusted (EX_UNAVAILABLE)
//	74  reading the message failed (EX_IOERR)
//	75  try again later: a 4xx reply, no connection, a time-out, the connection lost, delivery unknown (EX_TEMPFAIL)
//	76  the server broke the SMTP protocol (EX_PROTOCOL)
//	77  authentication failed or is required (530), or no password could be had (EX_NOPERM)
//
// Some recipients refused, others accepted: 69 if a refusal was permanent, else 75.
// Standard output says which recipients have the message, so only the
// others should be retried. After "delivery unknown" (75) the message may
// have arrived: a retry may deliver it twice.
// With -count: the status of the first copy that failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/session"
)

// exitStatuses is the end of the usage text; TestUsageMatchesDoc checks
// that every line of it is in the package comment too.
const exitStatuses = `Exit status (sysexits.h):
  0   every recipient accepted
  64  bad flags or arguments (EX_USAGE)
  65  the message or an address is malformed, or the server refused the message itself with 5xx (EX_DATAERR)
  66  the -cafile cannot be read (EX_NOINPUT)
  68  the server's host does not exist (EX_NOHOST)
  69  refused for good: 5xx to the connection, EHLO, the sender or the recipients; no STARTTLS; certificate not trusted (EX_UNAVAILABLE)
  74  reading the message failed (EX_IOERR)
  75  try again later: a 4xx reply, no connection, a time-out, the connection lost, delivery unknown (EX_TEMPFAIL)
  76  the server broke the SMTP protocol (EX_PROTOCOL)
  77  authentication failed or is required (530), or no password could be had (EX_NOPERM)
Some recipients refused, others accepted: 69 if a refusal was permanent, else 75.
With -count: the status of the first copy that failed.
`

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
	subject, body  string
	build          bool // -subject or -body given: build a test message
	pool, count    int
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

func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("sendmail", flag.ContinueOnError)
	fs.StringVar(&c.server, "server", "", "SMTP server `host:port` (port 25 by default)")
	fs.StringVar(&c.lmtp, "lmtp", "", "deliver by LMTP to the Unix socket at this absolute `path` instead")
	fs.StringVar(&c.from, "from", "", "envelope sender `address` (needs -to)")
	fs.Var(&c.to, "to", "recipient `addresses`, comma-separated or repeated; none: from the headers")
	fs.StringVar(&c.tls, "tls", "auto", "TLS `mode`: auto, starttls, opportunistic, implicit or none")
	fs.StringVar(&c.user, "user", "", "authenticate as `name` (password: $POSTWIRE_PASSWORD or prompt)")
	fs.StringVar(&c.cafile, "cafile", "", "PEM `file` of certificate authorities to trust besides the system's")
	fs.StringVar(&c.helo, "helo", "", "`name` to send in EHLO (default: this host's name)")
	fs.BoolVar(&c.verbose, "v", false, "write the conversation to standard error")
	fs.StringVar(&c.subject, "subject", "", "build a test message with this `subject` instead of reading standard input (needs -from and -to)")
	fs.StringVar(&c.body, "body", "", "build a test message with this `text` instead of reading standard input (needs -from and -to)")
	fs.IntVar(&c.pool, "pool", 1, "send the -count copies over up to `N` connections at once")
	fs.IntVar(&c.count, "count", 1, "send `M` copies of the message and print the throughput")
	fs.Usage = func() {} // run prints the usage, to standard output for -h
	return fs
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: sendmail (-server host:port | -lmtp /path) [flags] < message

Sends the message read from standard input (or, with -subject or -body, a
test message built from the flags) and prints one line per recipient.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\n"+exitStatuses)
}

func run(ctx context.Context, args []string, sio stdio) int {
	var c config
	fs := newFlagSet(&c)
	fs.SetOutput(sio.err) // for the flag package's own error line
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(sio.out, fs)
			return cli.ExitOK
		}
		usage(sio.err, fs)
		return cli.ExitUsage
	}
	fs.Visit(func(f *flag.Flag) { c.build = c.build || f.Name == "subject" || f.Name == "body" })
	fail := func(err error) int {
		fmt.Fprintln(sio.err, "sendmail: "+cli.Describe(err))
		return exitCode(err)
	}
	if err := c.check(fs.NArg()); err != nil {
		return fail(usageError{err})
	}
	opts, err := c.options(sio)
	if err != nil {
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
	msg, err := c.message(sio)
	if err != nil {
		return fail(err)
	}
	if c.count > 1 || c.pool > 1 {
		return loadTest(ctx, c, opts, msg.bytes, sio)
	}
	return sendOnce(ctx, c, opts, msg.reader(), sio)
}

// sendOnce sends the message and reports each recipient's outcome.
func sendOnce(ctx context.Context, c config, opts *session.Options, body io.Reader, sio stdio) int {
	res, err := send(ctx, c, opts, body)
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
		fmt.Fprintln(sio.err, "sendmail: "+cli.Describe(&cli.ServerError{Addr: c.addr(), Err: err}))
		return exitCode(err)
	}
	if len(res.Refused) > 0 {
		fmt.Fprintf(sio.err, "sendmail: %s: %d of %d recipients refused\n", c.addr(), len(res.Refused), len(res.Recipients))
		return refusedCode(res)
	}
	return cli.ExitOK
}

// refusedCode is the exit status of a message some of whose recipients
// were refused.
func refusedCode(res *session.SendResult) int {
	replies := make([]*session.ReplyError, len(res.Refused))
	for i, r := range res.Refused {
		replies[i] = r.Reply
	}
	return cli.RefusedCode(replies...)
}

// usageError: the flags are wrong.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// exitCode adds the program's own errors to cli.ExitCode's.
func exitCode(err error) int {
	var (
		ue usageError
		re *readError
		fe *fileError
	)
	switch {
	case errors.As(err, &ue):
		return cli.ExitUsage
	case errors.As(err, &re):
		return cli.ExitIOErr
	case errors.As(err, &fe):
		return cli.ExitNoInput
	case errors.Is(err, errTooBig):
		return cli.ExitDataErr
	case errors.Is(err, errNoTerminal):
		return cli.ExitNoPerm
	}
	return cli.ExitCode(err)
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
	case c.build && c.from == "":
		return errors.New("-subject and -body need -from and -to: the test message's headers come from them")
	case strings.ContainsAny(c.subject, "\r\n"):
		return errors.New("-subject must be one line")
	case c.lmtp != "" && c.tls == "implicit":
		return errors.New("-tls implicit does not apply to -lmtp")
	case c.pool < 1 || c.count < 1:
		return errors.New("-pool and -count must be at least 1")
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
