package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/postwire/postwire/protocol"
)

// usable returns nil, or the error every call gets once the client is
// unusable.
func (c *Client) usable() error {
	if c.err != nil {
		if errors.Is(c.err, ErrClosed) {
			return c.err
		}
		return &wrapErr{kind: ErrClosed, cause: c.err}
	}
	if c.closed.Load() {
		return ErrClosed
	}
	return nil
}

// queue hands cmd to the core and registers fn for its reply. When the
// core says a reply must arrive first (no PIPELINING, or a group-ending
// command outstanding), earlier replies are read first.
func (c *Client) queue(ctx context.Context, cmd protocol.Command, fn func(protocol.Event, error)) error {
	for {
		if err := c.usable(); err != nil {
			return err
		}
		err := c.pc.Send(cmd)
		if err == nil {
			c.logSend(ctx, cmd)
			c.pending = append(c.pending, &pendingReply{cmd: cmd, n: 1, fn: fn})
			return nil
		}
		if errors.Is(err, protocol.ErrMustWait) && len(c.pending) > 0 {
			if err := c.step(ctx); err != nil {
				return err
			}
			continue
		}
		return c.usageError(cmd, err)
	}
}

// expect registers fn for n replies to a command the core queued by other
// means (EndBody, SendChunk).
func (c *Client) expect(cmd protocol.Command, n int, fn func(protocol.Event, error)) {
	c.pending = append(c.pending, &pendingReply{cmd: cmd, n: n, fn: fn})
}

// usageError turns a refusal by the core into the session's error.
func (c *Client) usageError(cmd protocol.Command, err error) error {
	switch {
	case errors.Is(err, protocol.ErrNotAdvertised):
		return &wrapErr{kind: &NotSupportedError{Extension: extensionOf(cmd)}, cause: err}
	case errors.Is(err, protocol.ErrClosed):
		if c.err != nil {
			return c.usable()
		}
		return &wrapErr{kind: ErrClosed, cause: err}
	}
	return err
}

// extensionOf names the extension a refused command needed.
func extensionOf(cmd protocol.Command) string {
	switch cmd.Verb {
	case protocol.VerbStartTLS:
		return "STARTTLS"
	case protocol.VerbAuth:
		return "AUTH"
	case protocol.VerbBdat:
		return "CHUNKING"
	}
	if len(cmd.Params) > 0 {
		return strings.ToUpper(cmd.Params[0].Key)
	}
	return cmd.Verb.String()
}

// roundTrip sends cmd and waits for its reply.
func (c *Client) roundTrip(ctx context.Context, cmd protocol.Command) (protocol.Event, error) {
	var (
		got  protocol.Event
		gerr error
		done bool
	)
	if err := c.queue(ctx, cmd, func(ev protocol.Event, err error) { got, gerr, done = ev, err, true }); err != nil {
		return got, err
	}
	if err := c.wait(ctx, &done); err != nil && gerr == nil {
		return got, err
	}
	return got, gerr
}

// wait reads and dispatches replies until *done.
func (c *Client) wait(ctx context.Context, done *bool) error {
	return c.waitUntil(ctx, func() bool { return *done })
}

// waitUntil reads and dispatches replies until cond holds.
func (c *Client) waitUntil(ctx context.Context, cond func() bool) error {
	for !cond() {
		if len(c.pending) == 0 {
			if err := c.usable(); err != nil {
				return err
			}
			return errors.New("session: internal error: waiting with nothing pending")
		}
		if err := c.step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// drain reads replies until no command is pending.
func (c *Client) drain(ctx context.Context) error {
	for len(c.pending) > 0 {
		if err := c.step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// step flushes what is queued, reads one event and dispatches it. A fatal
// error shuts the client down (failing every pending command) and is
// returned.
//
// The core, not the session, decides which command a reply answers and how
// many replies a command gets (LMTP: one per recipient the core counted as
// accepted, which after a refused BDAT chunk is a single reply): the
// session's pending entry goes exactly when the core's does, so the two
// FIFOs never drift apart. When the core's count is lower than the
// session's expectation, the handler hears of the missing replies once,
// as errNoReply.
func (c *Client) step(ctx context.Context) error {
	owed := c.pc.Pending()
	ev, err := c.next(ctx)
	if err != nil {
		c.shutdown(err)
		return err
	}
	switch ev.Kind {
	case protocol.EventGreeting, protocol.EventReply, protocol.EventStartTLS:
		c.logReply(ctx, ev)
		if ev.Kind == protocol.EventReply && ev.Cmd.Verb == protocol.VerbNone {
			// A 421 no command asked for: the core has closed.
			c.shutdown(newReplyError(ev.Cmd, ev.Reply))
			return c.usable()
		}
		if len(c.pending) == 0 {
			err := fmt.Errorf("session: internal error: reply %d without a pending command", ev.Reply.Code)
			c.shutdown(err)
			return err
		}
		p := c.pending[0]
		p.n--
		answered := ev.Kind == protocol.EventGreeting || c.pc.Pending() < owed
		if answered {
			c.pending = c.pending[1:]
		}
		p.fn(ev, nil)
		if answered && p.n > 0 {
			p.fn(protocol.Event{Kind: protocol.EventReply, Cmd: ev.Cmd}, errNoReply)
		}
		if ev.Reply.Code == 421 {
			c.shutdown(newReplyError(ev.Cmd, ev.Reply))
		}
		return nil
	case protocol.EventClosed:
		err := &wrapErr{kind: ErrServerDisconnected, cause: io.EOF}
		c.shutdown(err)
		return err
	}
	err = fmt.Errorf("session: internal error: unexpected event kind %d", ev.Kind)
	c.shutdown(err)
	return err
}

// next is the event loop: write what the core queued, then parse or read
// until one event is complete.
func (c *Client) next(ctx context.Context) (protocol.Event, error) {
	if err := c.usable(); err != nil {
		return protocol.Event{}, err
	}
	if ctx == nil {
		return protocol.Event{}, ErrNilContext
	}
	if err := ctx.Err(); err != nil {
		return protocol.Event{}, err
	}
	conn := c.conn
	defer watch(ctx, conn)()
	var werr error
	if c.salvageBy.IsZero() { // else the write already failed: read only
		werr = c.write(ctx, conn)
	}
	if werr != nil && !errors.Is(werr, ErrServerDisconnected) {
		return protocol.Event{}, werr
	}
	// After a failed write the server may still have answered what it
	// read before it hung up (a 421, the reply to QUIT): read it, then the
	// end of the stream tells the core which replies are missing.
	//
	// The time-out bounds the whole reply, not each read: a server
	// dripping a byte at a time must not hold the client indefinitely.
	var deadline time.Time
	cmd, ok := c.pc.Awaiting()
	if d := c.opts.replyTimeout(cmd, !ok && c.pc.State() == protocol.StateGreeting); d > 0 {
		deadline = time.Now().Add(d)
	}
	if !c.salvageBy.IsZero() && (deadline.IsZero() || deadline.After(c.salvageBy)) {
		deadline = c.salvageBy
	}
	for {
		ev, err := c.pc.NextEvent()
		if err == nil {
			return ev, nil
		}
		if !errors.Is(err, protocol.ErrNeedData) {
			return ev, c.peerError(err)
		}
		conn.SetReadDeadline(deadline)
		if err := ctx.Err(); err != nil { // checked after the deadline is set: see watch
			return protocol.Event{}, err
		}
		n, rerr := conn.Read(c.buf)
		if n > 0 {
			if err := c.pc.Receive(c.buf[:n]); err != nil {
				return protocol.Event{}, c.peerError(err)
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				c.pc.ReceiveEOF()
				continue
			}
			if werr != nil {
				return protocol.Event{}, werr
			}
			return protocol.Event{}, c.ioError(ctx, rerr)
		}
	}
}

// salvageTimeout bounds how long salvage reads (the context or a shorter
// reply time-out may end it sooner).
const salvageTimeout = 2 * time.Second

// salvage runs after a write failed because the server hung up while the
// body was being sent: the server may have said why before it closed, e.g.
// a 550 right after its 354 (Postfix's smtp-sink -A 0). It reads and
// dispatches the replies already sent, without writing, for at most
// salvageTimeout in all and within the core's size limits (one bounded
// reply per pending command, then the core fails), until the end of the
// stream, a time-out or a protocol error shuts the client down. It returns the
// reply that came with no command waiting for it (the core's
// ErrUnsolicited, or an unasked 421) as a *ReplyError for body, or nil.
func (c *Client) salvage(ctx context.Context, body protocol.Command) *ReplyError {
	c.salvageBy = time.Now().Add(salvageTimeout)
	defer func() { c.salvageBy = time.Time{} }()
	for c.err == nil {
		if err := c.step(ctx); err != nil {
			break
		}
	}
	var pe *protocol.PeerError
	if errors.As(c.pc.Err(), &pe) && errors.Is(pe.Err, protocol.ErrUnsolicited) {
		return newReplyError(body, pe.Reply)
	}
	var re *ReplyError
	if errors.As(c.err, &re) && re.Code == 421 && re.Command == commandName(protocol.Command{}) {
		r := *re
		r.Command = commandName(body)
		return &r
	}
	return nil
}

// flush writes the body data the core queued (for body: DATA's end of
// data or a BDAT command), honouring ctx. When the server hung up during
// the write but had refused the body first, the error is a *DataError
// holding that refusal (see salvage).
func (c *Client) flush(ctx context.Context, body protocol.Command) error {
	if err := c.usable(); err != nil {
		return err
	}
	if len(c.pc.Outgoing()) == 0 {
		return nil
	}
	if ctx == nil {
		c.shutdown(ErrNilContext)
		return ErrNilContext
	}
	if err := ctx.Err(); err != nil {
		c.shutdown(err)
		return err
	}
	conn := c.conn
	defer watch(ctx, conn)()
	if err := c.write(ctx, conn); err != nil {
		if errors.Is(err, ErrServerDisconnected) {
			if re := c.salvage(ctx, body); re != nil {
				de := &DataError{Reply: re, Err: err}
				c.err = de // what later calls get, wrapped with ErrClosed
				return de
			}
		}
		c.shutdown(err)
		return err
	}
	return nil
}

// watch makes the end of ctx interrupt any I/O on conn by moving its
// deadlines into the past. The returned stop must be called when the I/O
// is over; it waits for a concurrently running interruption to finish, so
// that a late SetDeadline cannot disturb the next call.
func watch(ctx context.Context, conn net.Conn) (stop func()) {
	done := make(chan struct{})
	unregister := context.AfterFunc(ctx, func() {
		conn.SetDeadline(aLongTimeAgo)
		close(done)
	})
	return func() {
		if !unregister() {
			<-done
		}
	}
}

// write writes the core's outgoing bytes to conn.
func (c *Client) write(ctx context.Context, conn net.Conn) error {
	for {
		out := c.pc.Outgoing()
		if len(out) == 0 {
			return nil
		}
		var deadline time.Time
		if d := c.opts.writeTimeout(); d > 0 {
			deadline = time.Now().Add(d)
		}
		conn.SetWriteDeadline(deadline)
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := conn.Write(out)
		c.pc.Advance(n)
		c.written += int64(n)
		// A conn may report an error although it took every byte (the
		// peer closed right after reading them); the read that follows
		// tells what happened, so only a short write is fatal here.
		if err != nil && n < len(out) {
			return c.ioError(ctx, err)
		}
	}
}

// ioError classifies a read or write error.
func (c *Client) ioError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case c.closed.Load():
		return &wrapErr{kind: ErrClosed, cause: err}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &wrapErr{kind: ErrTimeout, cause: err}
	}
	return &wrapErr{kind: ErrServerDisconnected, cause: err}
}

// peerError classifies an error from the core's input side.
func (c *Client) peerError(err error) error {
	if errors.Is(err, protocol.ErrUnexpectedClose) {
		return &wrapErr{kind: ErrServerDisconnected, cause: err}
	}
	return err
}
