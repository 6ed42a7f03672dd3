package session

import (
	"context"
	"errors"

	"github.com/postwire/postwire/codec"

	"github.com/postwire/postwire/protocol"
)

// Every command but QUIT greets the server first when that has not
// happened yet (greetFor, in send): the methods below do not repeat it.

// simple sends cmd, waits for its reply and turns a 4xx/5xx into a
// *ReplyError (the reply is returned as well).
func (c *Client) simple(ctx context.Context, cmd protocol.Command) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	return c.simple1(ctx, cmd)
}

func (c *Client) simple1(ctx context.Context, cmd protocol.Command) (protocol.Reply, error) {
	ev, err := c.roundTrip(ctx, cmd)
	if err != nil {
		return ev.Reply, err
	}
	if ev.Reply.Code >= 400 {
		return ev.Reply, newReplyError(ev.Cmd, ev.Reply)
	}
	return ev.Reply, nil
}

// Verify sends VRFY addr (smtplib's verify). A 4xx/5xx reply (many
// servers answer 502, or 252 "cannot verify") gives a *ReplyError
// alongside the reply.
func (c *Client) Verify(ctx context.Context, addr string) (protocol.Reply, error) {
	return c.simple(ctx, protocol.Vrfy(addr))
}

// Expand sends EXPN list (smtplib's expn); see Verify for the errors.
func (c *Client) Expand(ctx context.Context, list string) (protocol.Reply, error) {
	return c.simple(ctx, protocol.Expn(list))
}

// Help sends HELP [topic] and returns the reply (smtplib's help returns its
// text: Reply.Text()). A 4xx/5xx reply gives a *ReplyError.
func (c *Client) Help(ctx context.Context, topic string) (protocol.Reply, error) {
	return c.simple(ctx, protocol.Help(topic))
}

// Noop sends NOOP, e.g. to keep the connection alive or test it.
func (c *Client) Noop(ctx context.Context) (protocol.Reply, error) {
	return c.simple(ctx, protocol.Noop())
}

// Reset sends RSET, abandoning the current mail transaction.
func (c *Client) Reset(ctx context.Context) (protocol.Reply, error) {
	return c.simple(ctx, protocol.Rset())
}

// Mail sends MAIL FROM:<from> with the given ESMTP parameters (smtplib's
// mail; "" and "<>" are the null reverse-path). A parameter whose keyword
// names an extension the server did not advertise (SIZE, BODY, SMTPUTF8,
// RET/ENVID for DSN, REQUIRETLS) fails with a *NotSupportedError before
// anything is sent; a malformed or too long line with a
// *protocol.UsageError. A refusal gives a *SenderRefusedError. Mail does
// not add SMTPUTF8 for a non-ASCII address: SendMail does.
func (c *Client) Mail(ctx context.Context, from string, params ...protocol.Param) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	from = codec.ReversePath(from)                    // "<>" is the null reverse-path, as in smtplib
	if err := c.ehloOrHeloIfNeeded(ctx); err != nil { // the check below needs the extensions
		return protocol.Reply{}, err
	}
	if err := c.preflight(protocol.Mail(from, params...)); err != nil {
		return protocol.Reply{}, err
	}
	ev, err := c.roundTrip(ctx, protocol.Mail(from, params...))
	if err != nil {
		return ev.Reply, err
	}
	if !ev.Reply.Positive() {
		return ev.Reply, &SenderRefusedError{Sender: from, Reply: newReplyError(ev.Cmd, ev.Reply)}
	}
	return ev.Reply, nil
}

// Rcpt sends RCPT TO:<to> with the given ESMTP parameters (smtplib's
// rcpt). A refusal gives a *RecipientError; a parameter needing an
// extension the server lacks (NOTIFY, ORCPT: DSN) a *NotSupportedError.
func (c *Client) Rcpt(ctx context.Context, to string, params ...protocol.Param) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	if err := c.preflight(protocol.Rcpt(to, params...)); err != nil {
		return protocol.Reply{}, err
	}
	ev, err := c.roundTrip(ctx, protocol.Rcpt(to, params...))
	if err != nil {
		return ev.Reply, err
	}
	if !ev.Reply.Positive() {
		return ev.Reply, &RecipientError{Recipient: to, Reply: newReplyError(ev.Cmd, ev.Reply)}
	}
	return ev.Reply, nil
}

// preflight checks a MAIL or RCPT before anything of its transaction is
// sent: the arguments and the line length (a *protocol.UsageError) and
// the extensions its parameters need (a *NotSupportedError naming the
// extension), with the core's own rules (protocol.Command.Validate,
// Extensions.Permits).
func (c *Client) preflight(cmd protocol.Command) error {
	err := cmd.Validate()
	if err == nil {
		err = c.extensions().Permits(cmd)
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, protocol.ErrNotAdvertised) {
		return c.usageError(cmd, err)
	}
	return &protocol.UsageError{State: c.pc.State(), Verb: cmd.Verb, Err: err}
}

// Docmd sends line as a raw command (smtplib's docmd, e.g. "XCLIENT ..."
// or "ETRN example.com") and returns the server's reply whatever its code;
// the error is only for the line itself (CR, LF or control characters,
// longer than protocol.MaxAuthResponse: *protocol.UsageError) or the
// connection. The session's state does not change: a raw command that
// changes the server's state (MAIL, DATA, STARTTLS...) desynchronises it;
// use the dedicated methods instead. Like every command it greets first
// when needed, and under TLSRequired never goes out in cleartext.
func (c *Client) Docmd(ctx context.Context, line string) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	ev, err := c.roundTrip(ctx, protocol.Raw(line))
	return ev.Reply, err
}

// Quit sends QUIT, waits for the reply and closes the connection, whatever
// happens (smtplib's quit). Later calls fail with ErrClosed, and the
// accessors (Extensions, ESMTP, HelloReply, ...) describe nothing.
func (c *Client) Quit(ctx context.Context) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	if err := c.usable(); err != nil {
		c.Close()
		return protocol.Reply{}, err
	}
	r, err := c.simple1(ctx, protocol.Quit())
	if c.err == nil {
		c.err = ErrClosed
	}
	c.Close()
	return r, err
}
