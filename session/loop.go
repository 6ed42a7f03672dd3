package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
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

// handler receives the reply (LMTP end of data: each reply) to a
// command, or once the error that ended the conversation before the
// command was fully answered (ev then carries only the Handle). A *txn is
// the handler of all its commands; replyFunc adapts a function.
type handler interface {
	onReply(ev protocol.Event, err error)
}

// replyFunc is a function as a handler.
type replyFunc func(ev protocol.Event, err error)

func (f replyFunc) onReply(ev protocol.Event, err error) { f(ev, err) }

// The loop has four verbs: send queues a command (reading replies while
// the core says it must wait), await reads until a command is fully
// answered, pump reads and dispatches one event, flush writes body data
// without reading. The core decides which command each reply answers
// (matched on arrival, against what was written); the session keeps only
// the handlers, keyed by the core's handles.

// send hands cmd to the core and registers fn (nil: the reply is not
// needed) for its replies.
func (c *Client) send(ctx context.Context, cmd protocol.Command, fn handler) (protocol.Handle, error) {
	if err := c.greetFor(ctx, cmd.Verb); err != nil {
		return protocol.NoHandle, err
	}
	return c.enqueue(ctx, cmd, nil, fn)
}

// enqueue queues cmd in the core (a BDAT command with chunk as its data),
// first reading replies for as long as the core says the command must
// wait for them.
func (c *Client) enqueue(ctx context.Context, cmd protocol.Command, chunk []byte, fn handler) (protocol.Handle, error) {
	for {
		if err := c.usable(); err != nil {
			return protocol.NoHandle, err
		}
		var h protocol.Handle
		var err error
		if cmd.Verb == protocol.VerbBdat {
			h, err = c.pc.SendChunk(chunk, cmd.Last())
		} else {
			h, err = c.pc.Send(cmd)
		}
		if err == nil {
			if c.log != nil && cmd.Verb == protocol.VerbBdat {
				cmd.Arg = strconv.Itoa(len(chunk)) // for the log only: the core sized it
			}
			c.logSend(ctx, cmd)
			if fn != nil {
				c.handlers[h] = fn
			}
			return h, nil
		}
		if errors.Is(err, protocol.ErrClosed) {
			c.dispatchMatched(ctx) // a 421 matched with an earlier reply closed the core: say so
		}
		if !errors.Is(err, protocol.ErrMustWait) || c.pc.Pending() == 0 {
			return protocol.NoHandle, c.usageError(cmd, err)
		}
		if err := c.pump(ctx); err != nil {
			return protocol.NoHandle, err
		}
	}
}

// usageError turns a refusal by the core into the session's error.
func (c *Client) usageError(cmd protocol.Command, err error) error {
	var na *protocol.NotAdvertisedError
	switch {
	case errors.As(err, &na):
		return &wrapErr{kind: &NotSupportedError{Extension: na.Extension}, cause: err}
	case errors.Is(err, protocol.ErrClosed):
		if c.err != nil {
			return c.usable()
		}
		return &wrapErr{kind: ErrClosed, cause: err}
	}
	var pe *protocol.PeerError
	if errors.As(err, &pe) {
		c.shutdown(err)
		return c.usable()
	}
	return err
}

// roundTrip sends cmd and waits for its reply.
func (c *Client) roundTrip(ctx context.Context, cmd protocol.Command) (protocol.Event, error) {
	var (
		got  protocol.Event
		gerr error
	)
	h, err := c.send(ctx, cmd, replyFunc(func(ev protocol.Event, err error) { got, gerr = ev, err }))
	if err != nil {
		return got, err
	}
	if err := c.await(ctx, h); err != nil && gerr == nil {
		gerr = err
	}
	return got, gerr
}

// await reads and dispatches replies until command h is fully answered.
// If the conversation ends first, the handlers still waiting get the
// reason (and so does the caller).
func (c *Client) await(ctx context.Context, h protocol.Handle) error {
	for c.pc.Owed(h) {
		if err := c.pump(ctx); err != nil {
			return err
		}
	}
	if _, waiting := c.handlers[h]; !waiting {
		return nil
	}
	err := c.usable()
	if err == nil {
		err = c.peerError(c.pc.Err())
	}
	if err == nil {
		err = &wrapErr{kind: ErrServerDisconnected, cause: protocol.ErrClosed}
	}
	c.shutdown(err)
	return err
}

// pump writes what is queued, reads one event and dispatches it. A fatal
// error shuts the client down (failing every handler still waiting) and
// is returned.
func (c *Client) pump(ctx context.Context) error {
	ev, err := c.next(ctx)
	if err != nil {
		c.shutdown(err)
		return err
	}
	return c.dispatch(ctx, ev)
}

// dispatch hands one event to the handler of the command it answers.
func (c *Client) dispatch(ctx context.Context, ev protocol.Event) error {
	switch ev.Kind {
	case protocol.EventGreeting, protocol.EventReply, protocol.EventStartTLS:
		c.logReply(ctx, ev)
		if ev.Kind == protocol.EventReply && ev.Handle == protocol.NoHandle {
			// A 421 no command asked for: the core has closed.
			c.shutdown(newReplyError(ev.Cmd, ev.Reply))
			return c.usable()
		}
		fn := c.handlers[ev.Handle]
		if ev.Done {
			delete(c.handlers, ev.Handle)
		}
		if fn != nil {
			fn.onReply(ev, nil)
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
	err := fmt.Errorf("%w: unexpected event kind %v", ErrInternal, ev.Kind)
	c.shutdown(err)
	return err
}

// dispatchMatched dispatches the events the core has already matched,
// without reading: what the server said before the core stopped taking
// commands (a 421, or the replies before an unsolicited one).
func (c *Client) dispatchMatched(ctx context.Context) {
	for c.err == nil {
		ev, err := c.pc.NextEvent()
		if err != nil {
			return
		}
		c.dispatch(ctx, ev)
	}
}

// bodyStopped is the error when the core refused message data (err): it
// had closed or failed because of something the server said before or
// during the body. That refusal, when there is one, is the message's
// (a *DataError); nothing of the message can have been accepted.
func (c *Client) bodyStopped(ctx context.Context, body protocol.Command, err error) error {
	c.dispatchMatched(ctx)
	if re := c.refusal(body); re != nil {
		de := &DataError{Reply: re}
		if pe := c.pc.Err(); pe != nil {
			de.Err = pe
		}
		c.shutdown(de)
		c.err = de // what later calls get, wrapped with ErrClosed
		return de
	}
	return c.usageError(body, err)
}

// refusal is the reply that ended the conversation during the body, as
// the answer to body: a reply that came with no command waiting for it
// (the core's ErrUnsolicited, e.g. a 550 right after the 354), or an
// unasked 421. Nil when the server said nothing.
func (c *Client) refusal(body protocol.Command) *ReplyError {
	var pe *protocol.PeerError
	if errors.As(c.pc.Err(), &pe) && errors.Is(pe.Err, protocol.ErrUnsolicited) {
		return newReplyError(body, pe.Reply)
	}
	var re *ReplyError
	if errors.As(c.err, &re) && re.Code == 421 && re.Verb == protocol.VerbNone {
		r := *re
		r.Command, r.Verb = commandName(body), body.Verb
		return &r
	}
	return nil
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
	c.watch(ctx)
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
		if err := c.pump(ctx); err != nil {
			break
		}
	}
	return c.refusal(body)
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
	c.watch(ctx)
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

// watch makes the end of ctx interrupt any I/O on the connection by
// moving its deadlines into the past. There is one watch per context, not
// per read: it stays until a call with another context replaces it (or
// the connection changes, see unwatch), so a call costs one registration
// whatever the number of replies, and a context that never ends
// (context.Background) costs none. A watch firing between calls only
// moves deadlines that every read and write sets again first.
func (c *Client) watch(ctx context.Context) {
	if ctx == c.watched {
		return
	}
	c.unwatch()
	if ctx.Done() == nil {
		return
	}
	conn := c.conn
	done := make(chan struct{})
	unregister := context.AfterFunc(ctx, func() {
		conn.SetDeadline(aLongTimeAgo)
		close(done)
	})
	c.watched = ctx
	c.stopWatch = func() {
		if !unregister() {
			<-done // a running interruption finishes before the next call's I/O
		}
	}
}

// unwatch removes the context watch, waiting for an interruption in
// progress.
func (c *Client) unwatch() {
	if c.stopWatch != nil {
		c.stopWatch()
	}
	c.watched, c.stopWatch = nil, nil
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
	return err // nil, or the core's *PeerError
}
