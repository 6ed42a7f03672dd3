// Customtransport shows the session over connections the caller provides
// instead of a plain TCP dial:
//
//  1. session.NewClient over any net.Conn: here an in-memory pipe
//     (transport.Pipe, through smtptest's Server.Pipe) wrapped in a
//     transport.LatencyConn, which simulates a network round-trip time and
//     counts round trips. The same batch of messages is sent with and
//     without PIPELINING to show what pipelining saves.
//  2. Options.Dialer: any value with a DialContext method opens the
//     connection. The one here logs and hands over to a net.Dialer; a SOCKS5
//     or HTTP CONNECT proxy dialer plugs in the same way.
//
// Run it with:
//
//	go run ./examples/customtransport
//	go run ./examples/customtransport -rtt 20ms -n 10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
	"github.com/postwire/postwire/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("customtransport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rtt := fs.Duration("rtt", 2*time.Millisecond, "simulated network round-trip `time`")
	n := fs.Int("n", 3, "`number` of messages in the batch")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n < 1 || *rtt < 0 {
		fmt.Fprintln(stderr, "customtransport: -n must be at least 1 and -rtt not negative")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	srv := smtptest.NewServer(smtptest.Config{Hostname: "mx.example"})
	defer srv.Close()

	fmt.Fprintf(stdout, "--- 1. %d messages over an in-memory pipe with a simulated round trip of %v\n", *n, *rtt)
	for _, pipelining := range []bool{true, false} {
		trips, elapsed, err := batchOverPipe(ctx, srv, *rtt, *n, pipelining)
		if err != nil {
			fmt.Fprintln(stderr, "customtransport: over the pipe: "+cli.Describe(err))
			return 1
		}
		fmt.Fprintf(stdout, "PIPELINING %-5v  %3d round trips  %v\n", pipelining, trips, elapsed.Round(time.Millisecond))
	}

	fmt.Fprintf(stdout, "--- 2. through a caller's dialer\n")
	if err := viaDialer(ctx, srv, stdout); err != nil {
		fmt.Fprintln(stderr, "customtransport: through the dialer: "+cli.Describe(err))
		return 1
	}
	fmt.Fprintf(stdout, "--- the server stored %d messages\n", len(srv.Messages()))
	return 0
}

// batchOverPipe sends n messages over one in-memory connection to srv and
// returns how many round trips the batch cost (the greeting and EHLO
// excluded) and how long it took.
func batchOverPipe(ctx context.Context, srv *smtptest.Server, rtt time.Duration, n int, pipelining bool) (int64, time.Duration, error) {
	conn := transport.NewLatencyConn(srv.Pipe(), rtt)
	// host names the server: it would be the TLS ServerName for StartTLS.
	client, err := session.NewClient(ctx, conn, "mx.example", &session.Options{
		LocalName:         "client.example",
		DisablePipelining: !pipelining,
	})
	if err != nil {
		return 0, 0, err
	}
	defer client.Close()
	if _, err := client.Ehlo(ctx, ""); err != nil {
		return 0, 0, err
	}

	msgs := make([]session.Envelope, n)
	for i := range msgs {
		msgs[i] = session.Envelope{
			From: "sender@example.com",
			To:   []string{"a@example.net", "b@example.net"},
			Body: strings.NewReader(fmt.Sprintf("Subject: message %d\r\n\r\nHello.\r\n", i+1)),
		}
	}
	before, start := conn.RoundTrips(), time.Now()
	for i, r := range client.SendBatch(ctx, msgs) {
		if r.Err != nil {
			return 0, 0, fmt.Errorf("message %d: %w", i+1, r.Err)
		}
	}
	trips, elapsed := conn.RoundTrips()-before, time.Since(start)
	_, err = client.Quit(ctx)
	return trips, elapsed, err
}

// loggingDialer is a transport.ContextDialer that reports each connection
// and hands it over to a net.Dialer. A proxy dialer would connect to the
// proxy here and ask it for addr.
type loggingDialer struct {
	next net.Dialer
	log  io.Writer
}

// DialContext logs the request, then dials.
func (d *loggingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	fmt.Fprintf(d.log, "dialer: %s %s\n", network, addr)
	conn, err := d.next.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(d.log, "dialer: connected to %s\n", conn.RemoteAddr())
	return conn, nil
}

// viaDialer sends one message to srv over loopback TCP, dialled by a
// loggingDialer.
func viaDialer(ctx context.Context, srv *smtptest.Server, out io.Writer) error {
	addr, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var d transport.ContextDialer = &loggingDialer{log: out}
	client, err := session.Dial(ctx, addr.String(), &session.Options{
		Dialer:    d,
		LocalName: "client.example",
		Logger:    cli.Logger(out),
	})
	if err != nil {
		return err
	}
	defer client.Close()
	res, err := client.SendMail(ctx, "sender@example.com", []string{"c@example.net"},
		strings.NewReader("Subject: via a dialer\r\n\r\nHello.\r\n"), nil)
	if err != nil {
		return err
	}
	if len(res.Refused) > 0 {
		return errors.New("recipient refused")
	}
	_, err = client.Quit(ctx)
	return err
}
