// Package auth implements the client side of SASL (RFC 4422) for SMTP AUTH
// (RFC 4954), sans-I/O: a Mechanism turns server challenges into client
// responses and never touches a connection, a clock or the file system.
//
// Built-in mechanisms: PLAIN, LOGIN and CRAM-MD5 (what Python's smtplib has),
// XOAUTH2 and OAUTHBEARER (what Gmail and Microsoft 365 ask for), SCRAM-SHA-1
// and SCRAM-SHA-256 with server-signature verification, and
// SCRAM-SHA-256-PLUS with tls-exporter channel binding (RFC 9266). Any type
// implementing Mechanism can be used in their place, as smtplib's
// auth(mechanism, authobject) allows.
//
// The session decides the facts (is the connection encrypted, is the peer on
// loopback, what did EHLO advertise) and passes them in ServerInfo; this
// package decides what may be sent: PLAIN, LOGIN and the bearer-token
// mechanisms refuse to run over cleartext to a non-loopback peer unless the
// caller opted in (ErrInsecure), and Choose picks the strongest mechanism the
// server offers.
//
// OAuth access tokens expire: XOAUTH2Func and OAuthBearerFunc take a
// TokenFunc instead of a fixed token, called with the session call's
// context at the start of every exchange (BeginContext), so one Mechanism
// value can log in on every new connection with a token refreshed as
// needed.
//
// Challenges and responses are raw bytes: the session base64-encodes
// responses and decodes challenges. Drive a mechanism with an Exchange, which
// caps the number of challenges and runs the final check:
//
//	ex, ir, err := auth.Begin(mech, info) // send "AUTH <name> <base64(ir)>"
//	for reply.Code == 334 {
//		resp, err := ex.Challenge(decoded) // send base64(resp)
//	}
//	if reply.Code == 235 { err = ex.Done() } // SCRAM: server proved it knows the password
package auth

import (
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// ServerInfo is what the session knows about the connection, passed as facts.
type ServerInfo struct {
	Name          string   // host name the session dialled (for OAUTHBEARER host=)
	Port          int      // port the session dialled (for OAUTHBEARER port=); 0 if unknown
	TLS           bool     // the connection is encrypted now
	Loopback      bool     // RemoteAddr is a loopback IP or a Unix socket (decided from the conn, not the name)
	AllowInsecure bool     // caller opted in to PLAIN/LOGIN/bearer tokens over cleartext
	Mechanisms    []string // what the server advertised in AUTH
	// TLSExporter is the tls-exporter channel binding (RFC 9266): 32 bytes
	// from ConnectionState().ExportKeyingMaterial("EXPORTER-Channel-Binding",
	// nil, 32); nil if the connection is not TLS 1.3.
	TLSExporter []byte
}

// secure reports whether credentials may be sent in clear: the connection is
// encrypted, or the peer is on this machine, or the caller said so.
func (i ServerInfo) secure() bool { return i.TLS || i.Loopback || i.AllowInsecure }

// offers reports whether the server advertised name (case-insensitive).
func (i ServerInfo) offers(name string) bool {
	for _, m := range i.Mechanisms {
		if strings.EqualFold(m, name) {
			return true
		}
	}
	return false
}

// Mechanism is one SASL mechanism on the client side: a small state machine.
// A value is used for one exchange at a time; Start resets it, so the same
// value may run again after a failed or finished exchange.
type Mechanism interface {
	// Name is the SASL name sent in AUTH, e.g. "SCRAM-SHA-256".
	Name() string
	// Start checks the preconditions and returns the initial response: nil
	// for none, []byte{} for an empty one (sent as "=").
	Start(info ServerInfo) (ir []byte, err error)
	// Next takes a server challenge (already base64-decoded) and returns the
	// response to send (not yet base64-encoded), or an error, in which case
	// the session cancels the exchange with "*".
	Next(challenge []byte) (resp []byte, err error)
}

// Finisher is implemented by mechanisms that verify the exchange completed
// properly once the server said 235 (SCRAM: the server signature was seen and
// valid). Exchange.Done calls it.
type Finisher interface {
	Finish() error
}

// IgnoresChallenges is implemented by mechanisms that do not read their
// challenges (LOGIN answers its prompts by count). For them the session
// passes on a challenge that is not base64 (RFC 4954 §4 would have it
// cancelled) instead of cancelling; Next then gets nil.
type IgnoresChallenges interface {
	IgnoresChallenges() bool
}

// Checker is implemented by mechanisms that can tell, without changing
// state, whether Start would refuse to run with info (ErrInsecure,
// ErrNoChannelBinding, ErrInvalidCredential). Choose uses it to skip
// candidates; a mechanism without it is assumed to be usable.
type Checker interface {
	Check(info ServerInfo) error
}

// Errors returned by mechanisms, Exchange and Choose. Mechanism errors may
// wrap them with detail; test with errors.Is.
var (
	// ErrInsecure: PLAIN, LOGIN, XOAUTH2 or OAUTHBEARER over an unencrypted
	// connection to a non-loopback peer without ServerInfo.AllowInsecure.
	ErrInsecure = errors.New("auth: refusing to send credentials over an unencrypted connection")
	// ErrTooManyChallenges: the server sent more than MaxChallenges challenges.
	ErrTooManyChallenges = errors.New("auth: too many challenges")
	// ErrServerSignature: SCRAM server-final was missing or its signature
	// wrong: the server did not prove it knows the password.
	ErrServerSignature = errors.New("auth: server signature missing or invalid")
	// ErrNoCommonMechanism: Choose found no usable candidate the server offers.
	ErrNoCommonMechanism = errors.New("auth: no common mechanism")
	// ErrUnexpectedChallenge: a challenge the mechanism did not expect (e.g.
	// a third LOGIN prompt, a challenge after SCRAM server-final).
	ErrUnexpectedChallenge = errors.New("auth: unexpected challenge")
	// ErrMalformedChallenge: a challenge that does not follow the
	// mechanism's syntax (SCRAM server-first without r=, bad salt, ...).
	ErrMalformedChallenge = errors.New("auth: malformed challenge")
	// ErrNoChannelBinding: a -PLUS mechanism without ServerInfo.TLSExporter.
	ErrNoChannelBinding = errors.New("auth: channel binding unavailable (no tls-exporter value)")
	// ErrInvalidCredential: a user name, password or token that cannot be
	// encoded by the mechanism (NUL in PLAIN, ^A in XOAUTH2, invalid UTF-8
	// or an empty SCRAM user name, NUL in a SCRAM password).
	ErrInvalidCredential = errors.New("auth: credential cannot be encoded")
)

// MaxChallenges is how many challenges an Exchange answers before it fails
// with ErrTooManyChallenges (smtplib's _MAXCHALLENGE).
const MaxChallenges = 5

// Exchange drives one mechanism through one AUTH exchange with the
// challenge cap. It is not safe for concurrent use.
type Exchange struct {
	m          Mechanism
	challenges int
}

// Begin starts m with info and returns the Exchange and the initial response
// (nil: none, []byte{}: empty). It returns Start's error unchanged. A
// session uses BeginContext, which passes its context to mechanisms that
// fetch something first (a TokenFunc).
func Begin(m Mechanism, info ServerInfo) (*Exchange, []byte, error) {
	ir, err := m.Start(info)
	if err != nil {
		return nil, nil, err
	}
	return &Exchange{m: m}, ir, nil
}

// Mechanism returns the mechanism being driven.
func (e *Exchange) Mechanism() Mechanism { return e.m }

// Challenges returns how many challenges have been answered so far.
func (e *Exchange) Challenges() int { return e.challenges }

// Challenge answers a server challenge (base64-decoded). The
// (MaxChallenges+1)th call fails with ErrTooManyChallenges without calling
// the mechanism.
func (e *Exchange) Challenge(c []byte) ([]byte, error) {
	if e.challenges >= MaxChallenges {
		return nil, ErrTooManyChallenges
	}
	e.challenges++
	return e.m.Next(c)
}

// Done is called after the server accepted (235). It runs the mechanism's
// Finisher if it has one: SCRAM returns ErrServerSignature if the server
// never proved it knows the password, and the session must then treat the
// authentication as failed.
func (e *Exchange) Done() error {
	if f, ok := e.m.(Finisher); ok {
		return f.Finish()
	}
	return nil
}

// WithRand returns m drawing its nonces from r instead of crypto/rand, for
// deterministic tests. Only the SCRAM mechanisms use randomness; any other
// mechanism is returned as is. The returned value is independent of m.
func WithRand(m Mechanism, r io.Reader) Mechanism {
	if s, ok := m.(*scram); ok {
		c := *s
		c.rand = r
		return &c
	}
	return m
}

var defaultRand io.Reader = rand.Reader

// validText reports whether s is valid UTF-8 without any byte in forbidden.
func validText(s, forbidden string) bool {
	return utf8.ValidString(s) && !strings.ContainsAny(s, forbidden)
}
