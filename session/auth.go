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
		Mechanisms:    c.extensions().Auth(),
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
// and stops at the first success. It moves to the next mechanism only
// when the server refused the mechanism itself (AuthError.MechanismRefused:
// 504, 534, 538, another 5xx to the AUTH command) or the mechanism could
// not start here (nothing was sent), never after a verdict on the
// credentials (535) or a temporary failure (454): one wrong password is
// one failed login, as fail2ban and account lockouts count them
// (smtplib tries every mechanism). PLAIN and LOGIN are skipped over
// cleartext to a non-loopback peer unless Options.AllowInsecureAuth.
//
// The reply is the server's last one: the 235 on success.
//
// Errors: *NotSupportedError ("AUTH") when the server offers no AUTH;
// *AuthError wrapping the failure that ended it (the server's
// *ReplyError, a mechanism's error, or an *auth.ChooseError wrapping
// auth.ErrInsecure when only cleartext-unsafe mechanisms were left); the
// connection's error.
func (c *Client) Login(ctx context.Context, user, password string) (protocol.Reply, error) {
	return c.LoginWith(ctx, auth.ForPassword(user, password))
}

// LoginWith is Login with a caller's candidate mechanisms (for example
// auth.XOAUTH2 and auth.OAuthBearer for a token), chosen strongest first
// among those the server offers by auth.Choose.
func (c *Client) LoginWith(ctx context.Context, candidates []auth.Mechanism) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	if err := c.ehloOrHeloIfNeeded(ctx); err != nil {
		return protocol.Reply{}, err
	}
	if err := c.needExt("AUTH"); err != nil {
		return protocol.Reply{}, err
	}
	remaining := slices.Clone(candidates)
	var (
		last  *AuthError
		reply protocol.Reply
	)
	for {
		m, err := auth.Choose(remaining, c.serverInfo())
		if err != nil {
			if last != nil {
				return reply, last
			}
			return reply, &AuthError{Err: err}
		}
		r, sent, err := c.auth(ctx, m)
		reply = r
		if err == nil {
			return r, nil
		}
		if !errors.As(err, &last) || c.usable() != nil || sent && !last.MechanismRefused() {
			return r, err // the credentials were judged, or the connection failed
		}
		remaining = slices.DeleteFunc(remaining, func(x auth.Mechanism) bool {
			return strings.EqualFold(x.Name(), m.Name())
		})
	}
}

// Auth runs one SASL exchange with m (smtplib's auth(mechanism,
// authobject)): AUTH with the initial response when m gives one and it
// fits on the AUTH line (RFC 4954 §4: 512 octets; otherwise it answers
// the server's first, empty challenge), then one base64 response per 334
// challenge, at most auth.MaxChallenges. A mechanism error, or a
// challenge that is not base64 (unless m implements
// auth.IgnoresChallenges, as LOGIN does), cancels the exchange with "*".
// Only 235 is success (RFC 4954 §6); after it m's Finish check runs
// (SCRAM verifies the server's signature); if it fails the connection is
// closed, since the server did not prove it knows the password. Another
// 2xx ends the exchange in a state RFC 4954 does not define: a protocol
// error (ErrUnexpectedReply), and the connection is closed.
//
// The reply is the server's last one: the 235 on success.
//
// Errors: *NotSupportedError when the server offers no AUTH; *AuthError
// wrapping the server's *ReplyError or the mechanism's error; the
// connection's error (which may also be inside an *AuthError).
func (c *Client) Auth(ctx context.Context, m auth.Mechanism) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	if err := c.ehloOrHeloIfNeeded(ctx); err != nil {
		return protocol.Reply{}, err
	}
	if err := c.needExt("AUTH"); err != nil {
		return protocol.Reply{}, err
	}
	r, _, err := c.auth(ctx, m)
	return r, err
}

// ErrUnexpectedReply: the server answered with a reply the protocol does
// not allow there (a 2xx other than 235 ending AUTH). The connection is
// closed.
var ErrUnexpectedReply = errors.New("session: unexpected reply")

// auth is one exchange; sent reports whether AUTH went out.
func (c *Client) auth(ctx context.Context, m auth.Mechanism) (protocol.Reply, bool, error) {
	name := m.Name()
	ex, ir, err := auth.BeginContext(ctx, m, c.serverInfo()) // a token function runs here, with ctx
	if err != nil {
		return protocol.Reply{}, false, &AuthError{Mechanism: name, Err: err}
	}
	cmd := protocol.Auth(name, ir)
	var pendingIR []byte // RFC 4954 §4: too long for the AUTH line
	if ir != nil && errors.Is(cmd.Validate(), protocol.ErrCommandTooLong) {
		cmd, pendingIR = protocol.Auth(name, nil), ir
	}
	ig, ok := m.(auth.IgnoresChallenges)
	ignores := ok && ig.IgnoresChallenges()
	ev, err := c.roundTrip(ctx, cmd)
	// Any 3xx is a challenge (334, but the core goes by the first digit
	// and then waits for an answer).
	for err == nil && ev.Reply.Intermediate() {
		var resp []byte
		derr := ev.ChallengeErr // the core decodes the base64 (a *protocol.ChallengeError)
		switch {
		case pendingIR != nil:
			resp, pendingIR, derr = pendingIR, nil, nil // RFC 4422 §5.1: the answer to an empty challenge
		case ignores && derr != nil:
			resp, derr = ex.Challenge(nil) // LOGIN: "334 Username:" is a prompt, not base64
		case derr == nil:
			resp, derr = ex.Challenge(ev.Challenge)
		}
		if derr == nil {
			derr = protocol.AuthResponse(resp).Validate() // longer than RFC 4954 allows
		}
		if derr != nil {
			return c.cancelAuth(ctx, name, derr)
		}
		ev, err = c.roundTrip(ctx, protocol.AuthResponse(resp))
	}
	if err != nil {
		return ev.Reply, true, &AuthError{Mechanism: name, Err: err}
	}
	if ev.Reply.Code != 235 {
		ae := &AuthError{Mechanism: name, Err: newReplyError(ev.Cmd, ev.Reply)}
		if ev.Reply.Positive() {
			ae.Err = &wrapErr{kind: ErrUnexpectedReply, cause: ae.Err}
			c.shutdown(ae)
		}
		return ev.Reply, true, ae
	}
	if err := ex.Done(); err != nil {
		ae := &AuthError{Mechanism: name, Err: err}
		c.shutdown(ae) // later calls get ErrClosed wrapping this typed error
		return ev.Reply, true, ae
	}
	c.authed = true
	return ev.Reply, true, nil
}

// cancelAuth sends "*" after derr; the server answers 501 and the
// exchange is over.
func (c *Client) cancelAuth(ctx context.Context, name string, derr error) (protocol.Reply, bool, error) {
	ev, err := c.roundTrip(ctx, protocol.AuthCancel())
	if err != nil {
		return ev.Reply, true, &AuthError{Mechanism: name, Err: errors.Join(derr, err)}
	}
	if ev.Reply.Intermediate() {
		// Another challenge: the server will not end the exchange, and
		// nothing else can be sent.
		perr := newReplyError(ev.Cmd, ev.Reply)
		c.shutdown(perr)
		return ev.Reply, true, &AuthError{Mechanism: name, Err: errors.Join(derr, perr)}
	}
	return ev.Reply, true, &AuthError{Mechanism: name, Err: derr}
}

// Authenticated reports whether Login or Auth succeeded on this
// connection (reset by StartTLS).
func (c *Client) Authenticated() bool { return c.authed }
