package session

import (
	"context"
	"errors"

	"github.com/postwire/postwire/protocol"
)

// Ehlo sends EHLO (LHLO for LMTP) with name, or Options.LocalName when
// name is "", and returns the reply. The advertised extensions are then
// available from Extensions. A negative reply gives a *HeloError.
// Like smtplib's ehlo, it may be called again (e.g. after STARTTLS).
func (c *Client) Ehlo(ctx context.Context, name string) (protocol.Reply, error) {
	if name == "" {
		name = c.localName
	}
	cmd := protocol.Ehlo(name)
	if c.opts.LMTP {
		cmd = protocol.Lhlo(name)
	}
	ev, err := c.roundTrip(ctx, cmd)
	if err != nil {
		return ev.Reply, err
	}
	if !ev.Reply.Positive() {
		return ev.Reply, &HeloError{Reply: newReplyError(ev.Cmd, ev.Reply)}
	}
	c.didHello, c.esmtp = true, true
	return ev.Reply, nil
}

// Helo sends HELO with name (Options.LocalName when ""), the pre-ESMTP
// greeting: afterwards no extension is used, so options that need one fail
// with ErrNotSupported. A negative reply gives a *HeloError. LMTP has no
// HELO: the call fails with a *protocol.UsageError.
func (c *Client) Helo(ctx context.Context, name string) (protocol.Reply, error) {
	if name == "" {
		name = c.localName
	}
	ev, err := c.roundTrip(ctx, protocol.Helo(name))
	if err != nil {
		return ev.Reply, err
	}
	if !ev.Reply.Positive() {
		return ev.Reply, &HeloError{Reply: newReplyError(ev.Cmd, ev.Reply)}
	}
	c.didHello, c.esmtp = true, false
	return ev.Reply, nil
}

// EhloOrHeloIfNeeded greets the server unless that was done already (since
// the connection opened or since STARTTLS): EHLO first and, when the
// server answers it with 5xx, HELO (not in LMTP). Errors: *HeloError when
// the server refuses both, or the connection's error. Every method that
// needs a greeting calls it.
//
// With Options.TLSPolicy set, STARTTLS follows the first greeting, also
// one the caller made with Ehlo or Helo (see TLSPolicy).
func (c *Client) EhloOrHeloIfNeeded(ctx context.Context) error {
	if c.didHello {
		// The caller may have greeted by hand (Ehlo, Helo): the policy
		// still applies before anything else is sent.
		return c.policyTLS(ctx)
	}
	_, err := c.Ehlo(ctx, "")
	var he *HeloError
	if err != nil && !c.opts.LMTP && errors.As(err, &he) && he.Reply.Code >= 500 {
		_, err = c.Helo(ctx, "")
	}
	if err != nil {
		return err
	}
	return c.policyTLS(ctx)
}

// policyTLS applies Options.TLSPolicy after the first greeting.
func (c *Client) policyTLS(ctx context.Context) error {
	if c.opts.TLSPolicy == TLSManual || c.isTLS || c.tlsTried {
		return nil
	}
	c.tlsTried = true
	err := c.startTLS(ctx, nil)
	if err == nil {
		return nil
	}
	if c.opts.TLSPolicy == TLSRequired {
		// Nothing may go over this connection in cleartext.
		c.shutdown(err)
		return err
	}
	if c.isTLS {
		return err // failed after the handshake: there is no cleartext to stay in
	}
	var ns *NotSupportedError
	var re *ReplyError
	if errors.As(err, &ns) || errors.As(err, &re) && c.usable() == nil {
		return nil // opportunistic: stay in cleartext
	}
	return err
}

// ESMTP reports whether the last greeting was EHLO/LHLO (true) or HELO.
func (c *Client) ESMTP() bool { return c.didHello && c.esmtp }

// HasExtension reports whether the server advertised the extension
// keyword (case-insensitive) in its last EHLO/LHLO reply. It is false
// before the greeting, after HELO, and after STARTTLS until the next EHLO.
func (c *Client) HasExtension(name string) bool { return c.pc.Extensions().Has(name) }

// Extension returns the parameter text of an advertised extension ("" for
// a keyword without parameters, e.g. "PIPELINING"), and whether it was
// advertised at all (smtplib's esmtp_features[name]).
func (c *Client) Extension(name string) (string, bool) { return c.pc.Extensions().Param(name) }

// Extensions returns everything the server advertised in its last
// EHLO/LHLO reply (the zero value after HELO or before any greeting).
func (c *Client) Extensions() protocol.Extensions { return c.pc.Extensions() }

// needExt returns a *NotSupportedError unless the extension is advertised.
func (c *Client) needExt(name string) error {
	if !c.HasExtension(name) {
		return &NotSupportedError{Extension: name}
	}
	return nil
}
