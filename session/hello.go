package session

import (
	"context"
	"errors"

	"github.com/postwire/postwire/protocol"
)

// Ehlo sends EHLO (LHLO for LMTP) with name, or Options.LocalName when
// name is "", and returns the reply. The advertised extensions are then
// available from Extensions. A negative reply gives a *HeloError. A 2xx
// other than 250 is a greeting without extensions (ESMTP reports false),
// as smtplib takes it. Like smtplib's ehlo, it may be called again (e.g.
// after STARTTLS).
func (c *Client) Ehlo(ctx context.Context, name string) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	return c.ehlo(ctx, name)
}

func (c *Client) ehlo(ctx context.Context, name string) (protocol.Reply, error) {
	cmd := protocol.Ehlo(c.helloName(name))
	if c.opts.LMTP {
		cmd = protocol.Lhlo(cmd.Arg)
	}
	return c.hello1(ctx, cmd)
}

// Helo sends HELO with name (Options.LocalName when ""), the pre-ESMTP
// greeting: afterwards no extension is used, so options that need one fail
// with ErrNotSupported. A negative reply gives a *HeloError. LMTP has no
// HELO: the call fails with a *protocol.UsageError.
func (c *Client) Helo(ctx context.Context, name string) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	return c.helo(ctx, name)
}

func (c *Client) helo(ctx context.Context, name string) (protocol.Reply, error) {
	return c.hello1(ctx, protocol.Helo(c.helloName(name)))
}

func (c *Client) helloName(name string) string {
	if name == "" {
		return c.localName
	}
	return name
}

// hello1 sends one EHLO, HELO or LHLO and records its reply.
func (c *Client) hello1(ctx context.Context, cmd protocol.Command) (protocol.Reply, error) {
	ev, err := c.roundTrip(ctx, cmd)
	if err != nil {
		return ev.Reply, err
	}
	c.hello, c.helloVerb = ev.Reply, cmd.Verb
	if !ev.Reply.Positive() {
		return ev.Reply, &HeloError{Reply: newReplyError(ev.Cmd, ev.Reply)}
	}
	c.didHello, c.esmtp = true, cmd.Verb != protocol.VerbHelo && ev.Reply.Code == 250
	return ev.Reply, nil
}

// HelloReply returns the reply to the last EHLO, HELO or LHLO, whether
// the caller or the client sent it (an automatic greeting, a HELO after a
// refused EHLO), with the verb that got it: smtplib's ehlo_resp and
// helo_resp. The zero values before any hello and once the client is
// closed.
func (c *Client) HelloReply() (protocol.Reply, protocol.Verb) {
	if c.usable() != nil {
		return protocol.Reply{}, protocol.VerbNone
	}
	return c.hello, c.helloVerb
}

// EhloOrHeloIfNeeded greets the server unless that was done already (since
// the connection opened or since STARTTLS): EHLO first and, when the
// server answers it with 5xx, HELO (not in LMTP). Errors: *HeloError when
// the server refuses both, or the connection's error. Every command but
// QUIT greets first this way when no greeting has happened.
//
// With Options.TLSPolicy set, STARTTLS follows the first greeting, also
// one the caller made with Ehlo or Helo (see TLSPolicy).
func (c *Client) EhloOrHeloIfNeeded(ctx context.Context) error {
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	return c.ehloOrHeloIfNeeded(ctx)
}

func (c *Client) ehloOrHeloIfNeeded(ctx context.Context) error {
	if c.didHello {
		// The caller may have greeted by hand (Ehlo, Helo): the policy
		// still applies before anything else is sent.
		return c.policyTLS(ctx)
	}
	_, err := c.ehlo(ctx, "")
	var he *HeloError
	if err != nil && !c.opts.LMTP && errors.As(err, &he) && he.Reply.Code >= 500 {
		_, err = c.helo(ctx, "")
	}
	if err != nil {
		return err
	}
	return c.policyTLS(ctx)
}

// greetFor is the one rule for what may go out before a greeting: every
// command but the hellos and QUIT first greets the server (as net/smtp
// does) and applies Options.TLSPolicy, so that under TLSRequired nothing
// but EHLO/HELO/LHLO, STARTTLS and QUIT is ever sent in cleartext.
func (c *Client) greetFor(ctx context.Context, v protocol.Verb) error {
	switch v {
	case protocol.VerbEhlo, protocol.VerbHelo, protocol.VerbLhlo, protocol.VerbQuit, protocol.VerbStartTLS:
		return nil
	}
	if err := c.usable(); err != nil {
		return err
	}
	if err := c.ehloOrHeloIfNeeded(ctx); err != nil {
		return err
	}
	if c.opts.TLSPolicy == TLSRequired && !c.isTLS {
		err := &wrapErr{kind: ErrInternal, cause: errors.New("cleartext under TLSRequired")}
		c.shutdown(err)
		return err
	}
	return nil
}

// policyTLS applies Options.TLSPolicy after the first greeting.
func (c *Client) policyTLS(ctx context.Context) error {
	if c.opts.TLSPolicy == TLSManual || c.isTLS || c.tlsTried {
		return nil
	}
	c.tlsTried = true
	_, err := c.startTLS(ctx, nil)
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

// ESMTP reports whether the last greeting was an EHLO/LHLO answered 250
// (true) or HELO; false before any greeting and once the client is
// closed (Quit, Close, a fatal error), as smtplib's does_esmtp.
func (c *Client) ESMTP() bool { return c.usable() == nil && c.didHello && c.esmtp }

// HasExtension reports whether the server advertised the extension
// keyword (case-insensitive) in its last EHLO/LHLO reply. Like net/smtp's
// Extension it greets the server first when that has not happened yet
// (see Extensions). It is false after HELO, after STARTTLS until the next
// EHLO, and once the client is closed.
func (c *Client) HasExtension(name string) bool { return c.Extensions().Has(name) }

// Extension returns the parameter text of an advertised extension ("" for
// a keyword without parameters, e.g. "PIPELINING"; the last one when the
// keyword was repeated; AUTH's lines merged), and whether it was
// advertised at all (smtplib's esmtp_features[name]). It greets first
// when needed (see Extensions).
func (c *Client) Extension(name string) (string, bool) { return c.Extensions().Param(name) }

// Extensions returns everything the server advertised in its last
// EHLO/LHLO reply: the zero value after HELO and once the client is
// closed (Quit, Close, a fatal error), as smtplib clears esmtp_features.
//
// When no greeting has happened yet it greets first, as net/smtp's
// Extension does, so that a program asking right after Dial whether
// STARTTLS is offered gets the answer. Having no context, it uses a
// background one: the per-command time-outs (Options.Timeouts) bound the
// greeting, and its failure is kept as for any call (a lost connection
// closes the client); while another call is in progress it does not
// greet. Use ExtensionsContext to greet with a context and see the error.
func (c *Client) Extensions() protocol.Extensions {
	if c.usable() != nil {
		return protocol.Extensions{}
	}
	if !c.didHello {
		_, _ = c.ExtensionsContext(context.Background()) // ErrConcurrentUse: another call is greeting
	}
	return c.extensions()
}

// ExtensionsContext is Extensions with a context, greeting the server
// first when needed and returning that greeting's error.
func (c *Client) ExtensionsContext(ctx context.Context) (protocol.Extensions, error) {
	if err := c.enter(); err != nil {
		return protocol.Extensions{}, err
	}
	defer c.leave()
	if err := c.ehloOrHeloIfNeeded(ctx); err != nil {
		return protocol.Extensions{}, err
	}
	return c.extensions(), nil
}

// extensions is what the core knows, nothing once closed; internal code
// uses it (it never greets).
func (c *Client) extensions() protocol.Extensions {
	if c.usable() != nil {
		return protocol.Extensions{}
	}
	return c.pc.Extensions()
}

// needExt returns a *NotSupportedError unless the extension is advertised.
func (c *Client) needExt(name string) error {
	if !c.extensions().Has(name) {
		return &NotSupportedError{Extension: name}
	}
	return nil
}
