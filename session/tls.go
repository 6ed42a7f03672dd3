package session

import (
	"context"
	"crypto/tls"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/transport"
)

// tlsConn is satisfied by *tls.Conn (and wrappers exposing its state).
type tlsConn interface {
	ConnectionState() tls.ConnectionState
}

// StartTLS upgrades the connection to TLS (smtplib's starttls) and greets
// the server again with EHLO/LHLO (HELO when EHLO is refused), whose
// extensions replace the ones seen in cleartext (RFC 3207: everything learnt before is forgotten, and so is
// a previous authentication).
//
// cfg nil means Options.TLSConfig (nil: a default configuration); it is
// cloned. Its ServerName defaults to the host given to Dial or NewClient,
// and certificates are verified unless cfg says otherwise (smtplib does not
// verify by default; postwire does).
//
// Errors: *NotSupportedError when the server does not advertise STARTTLS;
// *ReplyError when it refuses the command; a *protocol.PeerError wrapping
// protocol.ErrTLSInjection when the server sent anything between its 220
// and the handshake; a *transport.HandshakeError (wrapping e.g. an
// x509.HostnameError) when the handshake fails; the errors of Ehlo. Any
// failure after the 220 closes the connection. The reply is the server's
// answer to STARTTLS (smtplib's starttls returns it): the 220, or the
// refusal.
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	wasTLS := c.isTLS
	if err := c.ehloOrHeloIfNeeded(ctx); err != nil {
		return protocol.Reply{}, err
	}
	if c.isTLS && !wasTLS {
		return c.tlsReply, nil // Options.TLSPolicy has just done it
	}
	return c.startTLS(ctx, cfg)
}

// startTLS is StartTLS once the server has been greeted.
func (c *Client) startTLS(ctx context.Context, cfg *tls.Config) (protocol.Reply, error) {
	if err := c.needExt("STARTTLS"); err != nil {
		return protocol.Reply{}, err
	}
	if cfg == nil {
		cfg = c.opts.TLSConfig
	}
	ev, err := c.roundTrip(ctx, protocol.StartTLS())
	if err != nil {
		return ev.Reply, err
	}
	if ev.Kind != protocol.EventStartTLS {
		return ev.Reply, newReplyError(ev.Cmd, ev.Reply)
	}
	c.tlsReply = ev.Reply
	return ev.Reply, c.handshake(ctx, cfg)
}

// handshake does the TLS handshake after the 220 and greets again.
func (c *Client) handshake(ctx context.Context, cfg *tls.Config) error {
	if err := c.pc.Err(); err != nil {
		// Bytes after the 220 (read with it): an injection. The core
		// decided; no handshake with whoever sent them.
		c.shutdown(err)
		return err
	}
	c.logNote(ctx, "TLS handshake")
	tc, err := transport.StartTLS(ctx, c.conn, cfg, c.host)
	if err != nil {
		c.shutdown(err)
		return err
	}
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		tc.Close()
		c.shutdown(ErrClosed)
		return ErrClosed
	}
	c.conn = tc
	c.mu.Unlock()
	c.unwatch() // it would interrupt the plain conn under the TLS one
	if err := c.pc.TLSDone(); err != nil {
		c.shutdown(err)
		return err
	}
	c.isTLS = true
	c.didHello, c.esmtp, c.authed = false, false, false
	return c.ehloOrHeloIfNeeded(ctx) // EHLO, or HELO if refused, as on a new connection
}
