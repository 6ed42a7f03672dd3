package protocol

import (
	"strconv"

	"github.com/postwire/postwire/codec"
)

// Config configures a Client. The zero Config is SMTP with default limits.
type Config struct {
	// LMTP selects RFC 2033: LHLO instead of EHLO and HELO, and after the
	// end of data one reply per accepted recipient.
	LMTP bool
	// MaxLineLength bounds a reply line, CRLF included; 0 means 8192.
	// Values below 6 are raised to 6.
	MaxLineLength int
	// MaxReplyLines bounds the lines of one reply; 0 means 1000.
	MaxReplyLines int
}

// EventKind says what an Event reports.
type EventKind uint8

// The event kinds.
const (
	// EventNone is the zero value, never returned with a nil error.
	EventNone EventKind = iota
	// EventGreeting: Reply is the server's banner.
	EventGreeting
	// EventReply: Reply answers Cmd. For LMTP end-of-data replies Rcpt
	// names the recipient. Cmd is zero for a 421 no command asked for
	// (a server timing out or shutting down); the conversation is closed.
	EventReply
	// EventStartTLS: Reply is the 2xx to STARTTLS: do the TLS handshake
	// now, then call TLSDone.
	EventStartTLS
	// EventClosed: the peer closed the connection where that is legal (no
	// reply owed, or after QUIT, 221 or 421).
	EventClosed
	numEventKinds
)

var eventNames = [numEventKinds]string{"None", "Greeting", "Reply", "StartTLS", "Closed"}

// String returns the kind's name ("Reply").
func (k EventKind) String() string {
	if k < numEventKinds {
		return eventNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one thing that happened on the server's side. It is a plain
// value: tests can compare []Event with cmp.Diff.
type Event struct {
	Kind  EventKind
	Cmd   Command // the command this reply answers (zero for the greeting and EventClosed)
	Reply Reply   // zero for EventClosed
	// Rcpt names the recipient an LMTP end-of-data reply is for (the
	// replies come in RCPT order, one per accepted RCPT, duplicates kept).
	Rcpt string
}

// Client is one SMTP or LMTP conversation, client side, as a state
// machine without I/O. See the package documentation for the call order.
// A Client is not safe for concurrent use.
type Client struct {
	cfg Config
	p   replyParser

	state State // written only in state.go
	base  State // state after the answered commands; written only in state.go

	pending []pending // FIFO of commands waiting for replies: pending[head:]
	head    int

	out    []byte // Outgoing() is out[outOff:]
	outOff int
	stuff  codec.StuffState

	ext Extensions
	err *PeerError

	eof            bool // ReceiveEOF was called
	closedReported bool // EventClosed was returned

	utf8Txn   bool     // the last MAIL sent carried SMTPUTF8
	accepted  []string // RCPTs answered positively in the current transaction
	lmtpRcpts []string // recipients owed an end-of-data reply (LMTP), nil when not started
	lmtpNext  int      // index of the next one in lmtpRcpts
}

// NewClient returns a Client in StateGreeting, waiting for the banner.
func NewClient(cfg Config) *Client {
	c := &Client{p: newReplyParser(cfg.MaxLineLength, cfg.MaxReplyLines)}
	cfg.MaxLineLength, cfg.MaxReplyLines = c.p.maxLine, c.p.maxLines
	c.cfg = cfg
	return c
}

// State returns the current state. With pipelined commands it is the
// state the conversation will be in when they all succeed; replies
// correct it.
func (c *Client) State() State { return c.state }

// Extensions returns what the last successful EHLO/LHLO advertised; the
// zero value before that, after HELO and once STARTTLS was accepted.
func (c *Client) Extensions() Extensions { return c.ext }

// Awaiting returns the oldest command still owed a reply, if any. The
// session picks its read time-out from it (RFC 5321 §4.5.3.2). While
// waiting for the greeting it returns false; see State.
func (c *Client) Awaiting() (Command, bool) {
	if c.head == len(c.pending) {
		return Command{}, false
	}
	return c.pending[c.head].cmd, true
}

// Pending returns the number of commands waiting for their replies.
func (c *Client) Pending() int { return len(c.pending) - c.head }

// Err returns the sticky *PeerError, or nil.
func (c *Client) Err() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// Config returns the configuration in effect, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Buffered returns the number of received bytes not yet consumed by
// NextEvent. After NextEvent returned ErrNeedData it is at most
// MaxLineLength × MaxReplyLines.
func (c *Client) Buffered() int { return c.p.buffered() }

// Receive hands the Client bytes read from the server. It copies p and
// parses nothing; call NextEvent until it returns ErrNeedData.
//
// It returns the sticky *PeerError after a failure; a *PeerError with
// ErrTLSInjection if p arrives between the 220 to STARTTLS and TLSDone;
// and a *UsageError with ErrClosed after the conversation closed or after
// ReceiveEOF.
func (c *Client) Receive(p []byte) error {
	if c.err != nil {
		return c.err
	}
	if c.state == StateClosed || c.eof {
		return &UsageError{State: c.state, Err: ErrClosed}
	}
	if len(p) == 0 {
		return nil
	}
	off := c.p.off + int64(len(c.p.buf))
	c.p.feed(p)
	if c.state == StateTLS {
		_, err := c.fail(off, ErrTLSInjection)
		return err
	}
	return nil
}

// ReceiveEOF records that the server closed the connection. NextEvent
// first returns the events of the bytes already received, then
// EventClosed if no reply is owed (or the reply owed is QUIT's), or else
// a *PeerError with ErrUnexpectedClose.
func (c *Client) ReceiveEOF() { c.eof = true }

// NextEvent parses the next complete event from the received bytes.
//
// It returns ErrNeedData when the buffered bytes do not hold a whole
// reply yet: read more, call Receive, and call NextEvent again. It
// returns a *PeerError when the server broke the protocol; that error is
// sticky. In StateClosed it returns ErrNeedData until ReceiveEOF, then
// EventClosed once, then a *UsageError with ErrClosed. NextEvent never blocks, and
// its results do not depend on how the input was split across Receive
// calls.
func (c *Client) NextEvent() (Event, error) {
	if c.err != nil {
		return Event{}, c.err
	}
	switch c.state {
	case StateClosed:
		c.p.discard() // whatever followed the 221/421
		switch {
		case !c.eof:
			return Event{}, ErrNeedData // until the peer closes
		case !c.closedReported:
			c.closedReported = true
			return Event{Kind: EventClosed}, nil
		}
		return Event{}, &UsageError{State: c.state, Err: ErrClosed}
	case StateTLS:
		if c.p.inReply() {
			return c.fail(c.p.offset(), ErrTLSInjection)
		}
		if c.eof {
			return c.fail(c.p.offset(), ErrUnexpectedClose)
		}
		return Event{}, ErrNeedData
	}
	off := c.p.offset()
	r, ok, perr := c.p.next()
	if perr != nil {
		return c.fail(perr.off, perr.err)
	}
	if !ok {
		if c.eof {
			return c.onEOF()
		}
		return Event{}, ErrNeedData
	}
	return c.dispatch(r, off)
}

// onEOF decides what an EOF means once every complete reply is consumed.
func (c *Client) onEOF() (Event, error) {
	end := c.p.off + int64(len(c.p.buf))
	if c.p.inReply() {
		return c.fail(end, ErrUnexpectedClose)
	}
	if cmd, ok := c.Awaiting(); ok && cmd.Verb != VerbQuit || !ok && !cleanEOF[c.state] {
		return c.fail(end, ErrUnexpectedClose)
	}
	c.closeNow()
	c.closedReported = true
	return Event{Kind: EventClosed}, nil
}

// dispatch matches a reply to the oldest pending command.
func (c *Client) dispatch(r Reply, off int64) (Event, error) {
	if c.state == StateGreeting {
		c.applyGreeting(r.Code)
		return Event{Kind: EventGreeting, Reply: r}, nil
	}
	if c.head == len(c.pending) {
		if c.applyUnasked(r.Code) {
			return Event{Kind: EventReply, Reply: r}, nil
		}
		ev, err := c.fail(off, ErrUnsolicited)
		c.err.Reply = r
		return ev, err
	}
	h := c.pending[c.head]
	ev := Event{Kind: EventReply, Cmd: h.cmd, Reply: r}
	if c.cfg.LMTP && (h.op == op(VerbEndData) || h.op == opBdatLast) {
		if c.lmtpRcpts == nil {
			if _, ok := stepSend(c.base, h.op); ok && len(c.accepted) > 0 {
				c.lmtpRcpts, c.accepted = c.accepted, nil
			} else {
				c.lmtpRcpts = []string{""} // nobody accepted: one reply, as in SMTP
			}
			c.lmtpNext = 0
		}
		ev.Rcpt = c.lmtpRcpts[c.lmtpNext]
		c.lmtpNext++
		if c.lmtpNext < len(c.lmtpRcpts) && r.Code != codeClosing {
			return ev, nil // more recipients owed a reply
		}
		c.lmtpRcpts, c.lmtpNext = nil, 0
	}
	c.pop()
	_, valid := stepSend(c.base, h.op)
	switch h.op {
	case op(VerbRcpt):
		if valid && r.Positive() {
			c.accepted = append(c.accepted, h.cmd.Arg)
		}
	case op(VerbMail), op(VerbRset), op(VerbEhlo), op(VerbHelo), op(VerbLhlo), op(VerbEndData), opBdatLast:
		c.accepted = c.accepted[:0]
	}
	if r.Positive() {
		switch h.op {
		case op(VerbEhlo), op(VerbLhlo):
			c.ext = parseExtensions(r.Lines)
		case op(VerbHelo), op(VerbStartTLS):
			c.ext = Extensions{}
		}
	}
	c.applyReply(h.op, r.Code)
	if h.op == op(VerbStartTLS) && c.state == StateTLS {
		ev.Kind = EventStartTLS
	}
	return ev, nil
}

// fail records a *PeerError; it is sticky.
func (c *Client) fail(off int64, cause error) (Event, error) {
	c.err = &PeerError{State: c.state, Offset: off, Err: cause}
	c.applyFailure()
	return Event{}, c.err
}

// checkOpen refuses everything after a failure or once closed.
func (c *Client) checkOpen(v Verb) error {
	if c.err != nil {
		return c.err
	}
	if c.state == StateClosed {
		return &UsageError{State: c.state, Verb: v, Err: ErrClosed}
	}
	return nil
}

// Send validates cmd and appends its wire form to the outgoing bytes.
//
// The checks, in order: the conversation is open (ErrClosed, or the sticky
// *PeerError); the arguments are safe (ErrLineBreak, ErrInvalidArgument;
// see Command.AppendWire); the command may be queued now (ErrMustWait:
// the greeting has not come, a pending command ends a pipelining group,
// or the server has no PIPELINING and a reply is owed); the state allows
// it (ErrInvalidState; this includes EHLO/HELO in LMTP and LHLO in SMTP);
// the server advertised what it needs (ErrNotAdvertised: STARTTLS, AUTH,
// the extensions behind MAIL/RCPT parameters). Failures are *UsageError
// and change nothing. VerbBdat and VerbEndData are refused: use
// SendChunk and EndBody.
//
// A non-ASCII RCPT address is refused unless the MAIL of the transaction
// carried the SMTPUTF8 parameter.
func (c *Client) Send(cmd Command) error {
	if err := c.Check(cmd); err != nil {
		return err
	}
	if cmd.Verb == VerbMail {
		c.utf8Txn = hasParam(cmd.Params, "SMTPUTF8")
	}
	c.compactOut()
	c.out = cmd.appendWire(c.out)
	c.queue(cmd)
	return nil
}

// Check returns what Send(cmd) would return, without queuing anything.
func (c *Client) Check(cmd Command) error {
	if cmd.Verb == VerbBdat || cmd.Verb == VerbEndData {
		if err := c.checkOpen(cmd.Verb); err != nil {
			return err
		}
		return &UsageError{State: c.state, Verb: cmd.Verb, Err: invalidArg("use SendChunk or EndBody")}
	}
	return c.check(cmd)
}

// check is Check for every verb (SendChunk uses it for BDAT).
func (c *Client) check(cmd Command) error {
	if err := c.checkOpen(cmd.Verb); err != nil {
		return err
	}
	usage := func(err error) error { return &UsageError{State: c.state, Verb: cmd.Verb, Err: err} }
	if err := cmd.validate(); err != nil {
		return usage(err)
	}
	if cmd.Verb == VerbRcpt && !isASCII(cmd.Arg) && !c.utf8Txn {
		return usage(invalidArg("non-ASCII forward-path needs SMTPUTF8 on MAIL"))
	}
	if c.mustWait() {
		return usage(ErrMustWait)
	}
	o := opOf(cmd)
	if _, ok := stepSend(c.state, o); !ok || !modeAllows(c.cfg.LMTP, o) {
		return usage(ErrInvalidState)
	}
	if err := c.ext.permits(cmd); err != nil {
		return usage(err)
	}
	return nil
}

// queue records a command whose bytes are in c.out.
func (c *Client) queue(cmd Command) {
	c.push(cmd)
	c.applySend(opOf(cmd))
}

// TLSDone tells the Client that the TLS handshake after EventStartTLS
// finished. The state becomes StateHello (send EHLO or LHLO again, RFC
// 3207 §4.2) and the extensions are forgotten. Bytes received since the
// 220 make it fail with a *PeerError wrapping ErrTLSInjection. Outside
// StateTLS it returns a *UsageError with ErrInvalidState.
func (c *Client) TLSDone() error {
	if err := c.checkOpen(VerbStartTLS); err != nil {
		return err
	}
	if c.state != StateTLS {
		return &UsageError{State: c.state, Verb: VerbStartTLS, Err: ErrInvalidState}
	}
	if c.p.inReply() {
		_, err := c.fail(c.p.offset(), ErrTLSInjection)
		return err
	}
	c.ext = Extensions{}
	c.applyTLSDone()
	return nil
}

// Outgoing returns the bytes queued for the server. The slice is valid
// until the next call that queues something; write it, then call Advance.
func (c *Client) Outgoing() []byte { return c.out[c.outOff:] }

// Advance records that the first n bytes of Outgoing were written. n is
// clamped to [0, len(Outgoing())].
func (c *Client) Advance(n int) {
	n = max(0, min(n, len(c.out)-c.outOff))
	c.outOff += n
	if c.outOff == len(c.out) {
		c.outOff = 0
		if cap(c.out) > 1<<18 {
			c.out = nil // let a big body's buffer go
		} else {
			c.out = c.out[:0]
		}
	}
}

// compactOut drops written bytes before more are appended.
func (c *Client) compactOut() {
	if c.outOff > 0 && c.outOff >= len(c.out)/2 {
		n := copy(c.out, c.out[c.outOff:])
		c.out, c.outOff = c.out[:n], 0
	}
}
