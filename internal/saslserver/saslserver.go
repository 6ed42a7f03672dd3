// Package saslserver is the server side of the SASL mechanisms that package
// auth implements: PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, SCRAM-SHA-1,
// SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (tls-exporter channel binding).
//
// It is sans-I/O, like package auth: a Server takes the client's responses
// (already base64-decoded) and returns challenges (not yet base64-encoded).
// The SMTP framing (the "334 " lines, the "*" cancellation, the final 235 or
// 535 reply) belongs to the caller, which is session/smtptest and auth's own
// tests. A typical loop:
//
//	srv, err := saslserver.New(mech, lookup, exporter)
//	resp := initialResponse // nil when AUTH carried none, []byte{} for "="
//	for {
//		challenge, done, err := srv.Next(resp)
//		if err != nil { /* 535 for ErrAuthFailed, 501 for ErrMalformed */ }
//		if done { /* 235, srv.User() is the authenticated user */ }
//		/* send "334 " + base64(challenge), read the next line into resp */
//	}
//
// It is written for tests: it holds passwords in clear (through Lookup), and
// its randomness can be made deterministic with Options.
package saslserver

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Lookup returns the password of user and whether the user exists. For
// XOAUTH2 and OAUTHBEARER the "password" is the bearer token the user must
// present. A nil Lookup knows no user.
type Lookup func(user string) (password string, ok bool)

// Server is the server side of one SASL exchange.
type Server interface {
	// Next takes the client's (base64-decoded) response: the first call gets
	// the initial response (nil = none was sent, []byte{} = "="). It returns
	// the next challenge, or done=true on success, or an error on failure:
	// ErrAuthFailed for wrong credentials, ErrMalformed for a response that
	// does not follow the mechanism's syntax. After done or an error, Next
	// returns ErrFinished.
	Next(resp []byte) (challenge []byte, done bool, err error)
	// User returns the authenticated user (the authentication identity) once
	// Next has returned done=true, and "" before.
	User() string
}

// Errors returned by New and Server.Next.
var (
	ErrUnknownMechanism = errors.New("saslserver: unknown mechanism")
	ErrAuthFailed       = errors.New("saslserver: authentication failed")
	ErrMalformed        = errors.New("saslserver: malformed client response")
	ErrFinished         = errors.New("saslserver: exchange already finished")
	ErrNoChannelBinding = errors.New("saslserver: channel binding unavailable (no tls-exporter value)")
)

// Mechanism names.
const (
	Plain            = "PLAIN"
	Login            = "LOGIN"
	CRAMMD5          = "CRAM-MD5"
	XOAuth2          = "XOAUTH2"
	OAuthBearer      = "OAUTHBEARER"
	SCRAMSHA1        = "SCRAM-SHA-1"
	SCRAMSHA256      = "SCRAM-SHA-256"
	SCRAMSHA256Plus  = "SCRAM-SHA-256-PLUS"
	defaultHost      = "localhost"
	defaultIteration = 4096
)

// Mechanisms returns the names of all supported mechanisms, sorted. The
// caller owns the returned slice. SCRAM-SHA-256-PLUS is only usable when the
// connection has a tls-exporter value (TLS 1.3).
func Mechanisms() []string {
	return []string{CRAMMD5, Login, OAuthBearer, Plain, SCRAMSHA1, SCRAMSHA256, SCRAMSHA256Plus, XOAuth2}
}

// Options tune a Server. The zero value is ready: crypto/rand, host name
// "localhost", a random 16-byte salt per exchange and 4096 iterations.
type Options struct {
	// TLSExporter is the connection's tls-exporter channel binding (RFC
	// 9266), nil when the connection is not TLS 1.3. SCRAM-SHA-256-PLUS
	// needs it.
	TLSExporter []byte
	// OffersPlus says the server advertised SCRAM-SHA-256-PLUS on this
	// connection. A SCRAM client sending the "y" flag (it supports channel
	// binding but thinks the server does not) is then refused with
	// ErrAuthFailed as a downgrade (RFC 5802 section 6). New leaves it false,
	// so a server that offers only a subset of Mechanisms never refuses "y".
	OffersPlus bool
	// Rand is the source of CRAM-MD5 challenges, SCRAM server nonces and
	// salts. Nil means crypto/rand.
	Rand io.Reader
	// Hostname goes into the CRAM-MD5 challenge. Empty means "localhost".
	Hostname string
	// Nonce, if not empty, replaces the random part of the exchange: it is
	// the whole CRAM-MD5 challenge, and the server part of the SCRAM nonce.
	// For test vectors only.
	Nonce string
	// Salt, if not empty, is the SCRAM salt instead of a random one.
	Salt []byte
	// Iterations is the SCRAM iteration count; 0 means 4096.
	Iterations int
}

// New returns a server for mechanism (case-insensitive) checking credentials
// with lookup. tlsExporter is Options.TLSExporter. It fails with
// ErrUnknownMechanism for a name not in Mechanisms, and with
// ErrNoChannelBinding for SCRAM-SHA-256-PLUS when tlsExporter is empty.
func New(mechanism string, lookup Lookup, tlsExporter []byte) (Server, error) {
	return NewWithOptions(mechanism, lookup, Options{TLSExporter: tlsExporter})
}

// NewWithOptions is New with every knob; see Options.
func NewWithOptions(mechanism string, lookup Lookup, o Options) (Server, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Hostname == "" {
		o.Hostname = defaultHost
	}
	if o.Iterations <= 0 {
		o.Iterations = defaultIteration
	}
	b := base{lookup: lookup, opts: o}
	var m stepper
	switch strings.ToUpper(mechanism) {
	case Plain:
		m = &plainServer{base: b}
	case Login:
		m = &loginServer{base: b}
	case CRAMMD5:
		m = &cramServer{base: b}
	case XOAuth2:
		m = &xoauth2Server{base: b}
	case OAuthBearer:
		m = &oauthBearerServer{base: b}
	case SCRAMSHA1:
		m = newSCRAMServer(b, sha1Hash, false)
	case SCRAMSHA256:
		m = newSCRAMServer(b, sha256Hash, false)
	case SCRAMSHA256Plus:
		if len(o.TLSExporter) == 0 {
			return nil, ErrNoChannelBinding
		}
		m = newSCRAMServer(b, sha256Hash, true)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownMechanism, mechanism)
	}
	return &server{m: m}, nil
}

// stepper is one mechanism's state machine. step is called at most once
// after it reports done or an error; server enforces that.
type stepper interface {
	step(resp []byte) (challenge []byte, done bool, err error)
	user() string
}

// server wraps a stepper with the finished-state guard.
type server struct {
	m        stepper
	finished bool
	done     bool
}

func (s *server) Next(resp []byte) ([]byte, bool, error) {
	if s.finished {
		return nil, false, ErrFinished
	}
	c, done, err := s.m.step(resp)
	if err != nil || done {
		s.finished = true
		s.done = err == nil
		if err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	return c, false, nil
}

func (s *server) User() string {
	if !s.done {
		return ""
	}
	return s.m.user()
}

// base holds what every mechanism needs.
type base struct {
	lookup Lookup
	opts   Options
	n      int    // steps taken
	authed string // the authenticated user, set on success
}

func (b *base) user() string { return b.authed }

// checkPassword compares the stored secret of user with got in constant time
// (for equal lengths) and returns ErrAuthFailed on mismatch or unknown user.
func (b *base) checkPassword(user, got string) error {
	want, ok := b.lookup(user)
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return ErrAuthFailed
	}
	b.authed = user
	return nil
}

// malformed wraps ErrMalformed with a reason.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
