package session

import (
	"bytes"
	"context"
	"errors"

	"github.com/postwire/postwire/protocol"
)

// ErrNoReplyPending: Getreply was called with no Putcmd or SendRaw reply
// left to read. It comes inside a *protocol.UsageError.
var ErrNoReplyPending = errors.New("session: no reply pending")

// Putcmd sends line as a command without waiting for its reply
// (smtplib's putcmd); Getreply reads it. The line is checked as Docmd's
// is, and the command greets first when needed. The core's ledger knows
// the command is owed a reply, so the replies of later commands stay in
// step: a method called before Getreply reads (and keeps for Getreply)
// the replies still owed first. The handle names the command in the
// ledger.
func (c *Client) Putcmd(ctx context.Context, line string) (protocol.Handle, error) {
	if err := c.enter(); err != nil {
		return protocol.NoHandle, err
	}
	defer c.leave()
	return c.putRaw(ctx, protocol.Raw(line))
}

// SendRaw writes raw exactly as given (smtplib's send), the escape hatch
// for what no method can say: several lines pipelined by hand, a command
// the library does not know. replies says how many replies the bytes ask
// for (at least 1), so that the ledger matches them, and those after
// them, to the right commands; Getreply reads them one by one. raw is not
// checked at all (it may hold anything, even a line the server takes as
// MAIL or DATA, which desynchronises the session's state: the session
// assumes raw bytes change nothing); a wrong replies count leaves every
// later reply matched to the wrong command, until the core finds a reply
// with no command (a *protocol.PeerError) or a command without one (a
// time-out). Like every command it greets first when needed, and under
// TLSRequired never goes out in cleartext.
func (c *Client) SendRaw(ctx context.Context, raw []byte, replies int) (protocol.Handle, error) {
	if err := c.enter(); err != nil {
		return protocol.NoHandle, err
	}
	defer c.leave()
	return c.putRaw(ctx, protocol.RawBytes(bytes.Clone(raw), replies))
}

// putRaw queues cmd with the handler that keeps its replies for Getreply,
// and writes it.
func (c *Client) putRaw(ctx context.Context, cmd protocol.Command) (protocol.Handle, error) {
	if ctx == nil {
		return protocol.NoHandle, ErrNilContext
	}
	h, err := c.send(ctx, cmd, replyFunc(func(ev protocol.Event, err error) {
		if err == nil {
			c.rawReplies = append(c.rawReplies, ev.Reply)
		}
	}))
	if err != nil {
		return h, err
	}
	c.rawLast = h
	conn := c.conn
	c.watch(ctx)
	if err := c.write(ctx, conn); err != nil {
		c.shutdown(err)
		return h, err
	}
	return h, nil
}

// Getreply returns the next reply to a command sent with Putcmd or
// SendRaw, in order, reading it if it has not arrived yet (smtplib's
// getreply). The reply is returned whatever its code. With none owed it
// returns a *protocol.UsageError wrapping ErrNoReplyPending; a lost
// connection gives the connection's error.
func (c *Client) Getreply(ctx context.Context) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	for len(c.rawReplies) == 0 {
		if !c.pc.Owed(c.rawLast) {
			if err := c.usable(); err != nil {
				return protocol.Reply{}, err
			}
			return protocol.Reply{}, &protocol.UsageError{State: c.pc.State(), Err: ErrNoReplyPending}
		}
		if ctx == nil {
			return protocol.Reply{}, ErrNilContext
		}
		if err := c.pump(ctx); err != nil {
			return protocol.Reply{}, err
		}
	}
	r := c.rawReplies[0]
	c.rawReplies = c.rawReplies[1:]
	return r, nil
}

// Connected reports whether the connection is open: false after Quit,
// Close or a fatal error (smtplib: sock is None). It may be called from
// any goroutine.
func (c *Client) Connected() bool { return !c.closed.Load() }
