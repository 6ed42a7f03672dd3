package protocol

import (
	"encoding/base64"
	"errors"
	"strings"
)

// This file is the ledger: every command queued and not yet fully
// answered, in the order it was queued, with where its bytes end in the
// outgoing stream. Replies are matched against it as they arrive
// (Receive), never later: a reply can only answer a command whose bytes
// were all written (Advance) when the reply was received.

// Handle names one queued command: Send, SendChunk and EndBody return it,
// and every Event carries the Handle of the command it answers. Handles
// count up from 1 in the order commands are queued; 0 (NoHandle) is the
// greeting's and that of a 421 no command asked for.
type Handle uint64

// NoHandle is the zero Handle: no command.
const NoHandle Handle = 0

// entry is one command in the ledger.
type entry struct {
	h   Handle
	cmd Command
	op  op
	end int64 // offset in the outgoing stream just past its last byte
	// recvAt is how many bytes had been received when the last byte was
	// written (Advance): a reply that began before that cannot answer it.
	recvAt int64
	// owed counts the replies still owed to an LMTP end of data (one per
	// accepted recipient; 0 until the first of them arrives) or to raw
	// bytes (Command.Replies).
	owed int
}

// record adds a command whose bytes were just appended to c.out.
func (c *Client) record(cmd Command) Handle {
	if c.head > 0 && c.head >= len(c.ledger)/2 {
		// Drop the answered entries before appending, so that a ledger
		// that never empties (one command always in flight) stays as
		// long as what is pending; the copy is amortised O(1).
		n := copy(c.ledger, c.ledger[c.head:])
		clear(c.ledger[n:])
		c.ledger, c.head = c.ledger[:n], 0
	}
	c.last++
	c.ledger = append(c.ledger, entry{h: c.last, cmd: cmd, op: opOf(cmd), end: c.queuedBytes(), owed: cmd.Replies})
	c.applySend(opOf(cmd))
	return c.last
}

// oldest returns the oldest entry, if any.
func (c *Client) oldest() (*entry, bool) {
	if c.head == len(c.ledger) {
		return nil, false
	}
	return &c.ledger[c.head], true
}

// drop removes the oldest entry.
func (c *Client) drop() {
	c.ledger[c.head] = entry{} // do not keep AUTH data alive
	c.head++
	if c.head == len(c.ledger) {
		c.ledger, c.head = c.ledger[:0], 0
	}
}

// forget empties the ledger: the conversation ended, nothing will be answered.
func (c *Client) forget() {
	clear(c.ledger)
	c.ledger, c.head = c.ledger[:0], 0
	c.lmtpRcpts = nil
}

// queuedBytes is the offset, in the outgoing stream, of the next byte queued.
func (c *Client) queuedBytes() int64 { return c.written + int64(len(c.out)-c.outOff) }

// mustWait reports whether a new command has to wait for replies: while
// waiting for the greeting, when the server does not offer PIPELINING and
// any reply is owed, or when the newest pending command ends a group.
func (c *Client) mustWait() bool {
	if c.state == StateGreeting {
		return true
	}
	if c.head == len(c.ledger) {
		return false
	}
	return !c.ext.Has("PIPELINING") || endsGroup[c.ledger[len(c.ledger)-1].op]
}

// Written reports whether every byte of command h has been written (as
// told by Advance). A reply can answer h only then; after a lost
// connection it says whether the server can have received all of h (an
// end of data written in full, with no reply, is a delivery of unknown
// outcome).
func (c *Client) Written(h Handle) bool {
	return h != NoHandle && h <= c.writtenThrough
}

// Owed reports whether command h is still owed a reply that NextEvent has
// not returned: it is false once NextEvent returned h's last event
// (Event.Done), and once the conversation ended without answering it.
func (c *Client) Owed(h Handle) bool {
	if h == NoHandle || h > c.last || h <= c.reported {
		return false
	}
	if c.evHead < len(c.events) {
		return true // some are matched and waiting for NextEvent
	}
	e, ok := c.oldest()
	return ok && e.h <= h
}

// Last returns the Handle of the newest command queued (NoHandle before
// the first).
func (c *Client) Last() Handle { return c.last }

// match parses every complete reply in the received bytes and matches it
// to the oldest command written and not yet answered. It stops at the
// first failure (sticky), and when STARTTLS was accepted: whatever
// follows the 220 is an injection.
func (c *Client) match() {
	for c.err == nil {
		if c.state == StateTLS {
			if c.p.inReply() {
				c.fail(c.p.offset(), ErrTLSInjection)
			}
			break
		}
		off := c.p.offset()
		r, ok, perr := c.p.next()
		if perr != nil {
			c.fail(perr.off, perr.err)
			break
		}
		if !ok {
			break
		}
		c.dispatch(r, off)
	}
}

// dispatch matches one complete reply.
func (c *Client) dispatch(r Reply, off int64) {
	if c.state == StateGreeting {
		c.applyGreeting(r.Code)
		c.emit(Event{Kind: EventGreeting, Reply: r, Done: true})
		return
	}
	e, ok := c.oldest()
	if !ok || !c.Written(e.h) || off < e.recvAt || c.state == StateClosed {
		// A reply begun before its command was written (off < recvAt)
		// is no answer either, wherever its last byte falls.
		// RFC 5321 §3.8: a server shutting down or timing out an idle
		// client may send 421 unasked, in any state, even in the middle
		// of a message body. Anything else is unsolicited.
		if r.Code == codeClosing && c.state != StateClosed {
			c.closeNow()
			c.emit(Event{Kind: EventReply, Reply: r, Done: true})
			return
		}
		c.fail(off, ErrUnsolicited)
		c.err.Reply = r
		return
	}
	ev := Event{Kind: EventReply, Handle: e.h, Cmd: e.cmd, Reply: r, Done: true}
	if e.owed > 1 && e.op == op(VerbRaw) && r.Code != codeClosing {
		e.owed-- // raw bytes asking for more replies (RawBytes)
		ev.Done = false
		c.emit(ev)
		return
	}
	if c.cfg.LMTP && perRecipient[e.op] && !c.lmtpReply(e, &ev) {
		c.emit(ev) // more recipients are owed a reply
		return
	}
	h := *e
	c.drop()
	c.settle(h, r)
	if h.op == op(VerbStartTLS) && c.state == StateTLS {
		ev.Kind = EventStartTLS
	}
	if h.op == op(VerbAuth) || h.op == op(VerbAuthResponse) {
		ev.Challenge, ev.ChallengeErr = challenge(r)
	}
	c.emit(ev)
}

// lmtpReply names the recipient of one reply to an LMTP end of data and
// reports whether it was the last one owed (RFC 2033 §4.2: one reply per
// accepted RCPT, in order; a single one when none was accepted, or when a
// BDAT chunk was refused and the transaction failed).
func (c *Client) lmtpReply(e *entry, ev *Event) (last bool) {
	if e.owed == 0 {
		c.lmtpRcpts = c.lmtpRcpts[:0]
		if _, ok := stepSend(c.base, e.op); ok {
			c.lmtpRcpts = append(c.lmtpRcpts, c.accepted...)
		}
		e.owed = max(len(c.lmtpRcpts), 1)
	}
	if i := len(c.lmtpRcpts) - e.owed; i >= 0 {
		ev.Rcpt, ev.RcptHandle = c.lmtpRcpts[i].addr, c.lmtpRcpts[i].h
	}
	e.owed--
	ev.Done = e.owed == 0 || ev.Reply.Code == codeClosing
	return ev.Done
}

// settle applies the reply that fully answered h: the accepted
// recipients, the extensions, and the state (state.go).
func (c *Client) settle(h entry, r Reply) {
	_, valid := stepSend(c.base, h.op)
	switch acceptTable[h.op] {
	case acceptAdd:
		if valid && r.Positive() {
			c.accepted = append(c.accepted, rcpt{h.cmd.Arg, h.h})
		}
	case acceptClear:
		c.accepted = c.accepted[:0]
	}
	if r.Positive() {
		switch h.op {
		case op(VerbEhlo), op(VerbLhlo):
			c.ext = parseExtensions(r)
		case op(VerbHelo), op(VerbStartTLS):
			c.ext = Extensions{}
		}
	}
	c.applyReply(h.op, r.Code)
}

// emit queues an event for NextEvent.
func (c *Client) emit(ev Event) {
	if c.evHead > 0 && c.evHead == len(c.events) {
		c.events, c.evHead = c.events[:0], 0
	}
	c.events = append(c.events, ev)
}

// errMultiline is the decoder's error for a challenge of several lines.
var errMultiline = errors.New("a challenge is one line")

// challenge decodes the SASL challenge of a 3xx reply during AUTH: the
// text of its one line, base64 (RFC 4954 §4), possibly empty. Several
// lines are no challenge: the decoder would skip the line breaks and
// join them.
func challenge(r Reply) ([]byte, error) {
	if !r.Intermediate() {
		return nil, nil
	}
	if len(r.Lines) > 1 {
		return nil, &ChallengeError{Text: r.Text(), Err: errMultiline}
	}
	text := strings.TrimSpace(r.Text())
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, &ChallengeError{Text: r.Text(), Err: err}
	}
	return b, nil
}
