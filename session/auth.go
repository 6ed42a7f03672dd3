package session

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"strings"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/transport"
)

// serverInfo gathers the facts auth needs about this connection.
func (c *Client) serverInfo() auth.ServerInfo {
	info := auth.ServerInfo{
		Name:          c.host,
		Port:          c.port,
		TLS:           c.isTLS,
		AllowInsecure: c.opts.AllowInsecureAuth,
		Mechanisms:    c.pc.Extensions().Auth(),
	}
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	info.Loopback = transport.PeerIsLocal(conn, c.host, c.opts.Dialer != nil) // a Dialer may be a proxy on 127.0.0.1
	if tc, ok := conn.(*tls.Conn); ok {
		info.TLSExporter = transport.TLSExporter(tc)
	}
	return info
}

// Login authenticates with a user name and password (smtplib's login):
// it tries the password mechanisms the server offers, strongest first
// (SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN),
// moving to the next one when the server refuses one, and stops at the
// first success. PLAIN and LOGIN are skipped over cleartext to a
// non-loopback peer unless Options.AllowInsecureAuth.
//
// Errors: *NotSupportedError ("AUTH") when the server offers no AUTH;
// *AuthError wrapping the last failure (the server's *ReplyError, a
// mechanism's error, or an *auth.ChooseError wrapping auth.ErrInsecure
// when only cleartext-unsafe mechanisms were left); the connection's error.
func (c *Client) Login(ctx context.Context, user, password string) error {
	return c.LoginWith(ctx, auth.ForPassword(user, password))
}

// LoginWith is Login with a caller's candidate mechanisms (for example
// auth.XOAUTH2 and auth.OAuthBearer for a token), chosen strongest first
// among those the server offers by auth.Choose.
func (c *Client) LoginWith(ctx context.Context, candidates []auth.Mechanism) error {
	if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
		return err
	}
	if err := c.needExt("AUTH"); err != nil {
		return err
	}
	remaining := slices.Clone(candidates)
	var last *AuthError
	for {
		m, err := auth.Choose(remaining, c.serverInfo())
		if err != nil {
			if last != nil {
				return last
			}
			return &AuthError{Err: err}
		}
		err = c.Auth(ctx, m)
		if err == nil {
			return nil
		}
		if !errors.As(err, &last) || c.usable() != nil {
			return err // the connection failed: nothing more to try
		}
		remaining = slices.DeleteFunc(remaining, func(x auth.Mechanism) bool {
			return strings.EqualFold(x.Name(), m.Name())
		})
	}
}

// Auth runs one SASL exchange with m (smtplib's auth(mechanism,
// authobject)): AUTH with the initial response when m gives one (RFC
// 4954), then one base64 response per 334 challenge, at most
// auth.MaxChallenges. A mechanism error cancels the exchange with "*".
// After 235, m's Finish check runs (SCRAM verifies the server's
// signature); if it fails the connection is closed, since the server did
// not prove it knows the password.
//
// Errors: *NotSupportedError when the server offers no AUTH; *AuthError
// wrapping the server's *ReplyError or the mechanism's error; the
// connection's error (which may also be inside an *AuthError).
func (c *Client) Auth(ctx context.Context, m auth.Mechanism) error {
	if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
		return err
	}
	if err := c.needExt("AUTH"); err != nil {
		return err
	}
	name := m.Name()
	ex, ir, err := auth.BeginContext(ctx, m, c.serverInfo()) // a token function runs here, with ctx
	if err != nil {
		return &AuthError{Mechanism: name, Err: err}
	}
	ev, err := c.roundTrip(ctx, protocol.Auth(name, ir))
	// Any 3xx is a challenge (334, but the core goes by the first digit
	// and then waits for an answer).
	for err == nil && ev.Reply.Intermediate() {
		var resp []byte
		derr := ev.ChallengeErr // the core decodes the base64 (a *protocol.ChallengeError)
		if derr == nil {
			resp, derr = ex.Challenge(ev.Challenge)
		}
		if derr != nil {
			// Cancel; the server answers 501 and the exchange is over.
			ev, err := c.roundTrip(ctx, protocol.AuthCancel())
			if err != nil {
				return &AuthError{Mechanism: name, Err: errors.Join(derr, err)}
			}
			if ev.Reply.Intermediate() {
				// Another challenge: the server will not end the
				// exchange, and nothing else can be sent.
				perr := newReplyError(ev.Cmd, ev.Reply)
				c.shutdown(perr)
				return &AuthError{Mechanism: name, Err: errors.Join(derr, perr)}
			}
			return &AuthError{Mechanism: name, Err: derr}
		}
		ev, err = c.roundTrip(ctx, protocol.AuthResponse(resp))
	}
	if err != nil {
		return &AuthError{Mechanism: name, Err: err}
	}
	if !ev.Reply.Positive() {
		return &AuthError{Mechanism: name, Err: newReplyError(ev.Cmd, ev.Reply)}
	}
	if err := ex.Done(); err != nil {
		ae := &AuthError{Mechanism: name, Err: err}
		c.shutdown(ae) // later calls get ErrClosed wrapping this typed error
		return ae
	}
	c.authed = true
	return nil
}

// Authenticated reports whether Login or Auth succeeded on this
// connection (reset by StartTLS).
func (c *Client) Authenticated() bool { return c.authed }
