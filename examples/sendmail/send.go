package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/transport"
)

// fileError: a file named by a flag cannot be read or holds nothing usable.
type fileError struct {
	name string
	err  error
}

func (e *fileError) Error() string { return "cannot use " + e.name + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// options returns the session options the flags ask for.
func (c *config) options(sio stdio) (*session.Options, error) {
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
	return opts, nil
}

// tlsMode resolves "auto" as far as the flags allow: implicit TLS on
// port 465. The rest of "auto" depends on the connection (see secure).
func (c *config) tlsMode() string {
	if c.tls == "auto" && c.lmtp == "" && strings.HasSuffix(c.server, ":465") {
		return "implicit"
	}
	return c.tls
}

// send connects and sends the message, then says QUIT. The result is
// non-nil whenever the server was asked to take the message.
func send(ctx context.Context, c config, opts *session.Options, body io.Reader) (*session.SendResult, error) {
	client, err := connect(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	res, err := deliver(ctx, client, c, body)
	if err == nil {
		client.Quit(ctx) // the message is accepted; a failing QUIT changes nothing
	}
	return res, err
}

// connect dials, greets, secures the connection as -tls says and
// authenticates.
func connect(ctx context.Context, c config, opts *session.Options) (*session.Client, error) {
	mode := c.tlsMode()
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
	err = client.EhloOrHeloIfNeeded(ctx)
	if err == nil {
		err = secure(ctx, client, mode, c.lmtp != "")
	}
	if err == nil && c.user != "" {
		_, err = client.Login(ctx, c.user, c.password)
	}
	if err != nil {
		client.Close()
		return nil, err
	}
	return client, nil
}

// deliver sends one message on a ready client: as it is with -from and
// -to, else with the envelope taken from its headers.
func deliver(ctx context.Context, client *session.Client, c config, body io.Reader) (*session.SendResult, error) {
	if len(c.to) > 0 {
		return client.SendMail(ctx, c.from, c.to, body, nil)
	}
	return client.SendMessage(ctx, body, nil)
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
		_, err := client.StartTLS(ctx, nil)
		return err // a *NotSupportedError when STARTTLS is not offered
	}
	return nil
}

// loadCAs returns the system's roots plus the certificates in file.
func loadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = pe.Err // the file is named once, by fileError
	}
	if err != nil {
		return nil, &fileError{file, err}
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &fileError{file, errors.New("no PEM certificate found")}
	}
	return pool, nil
}
