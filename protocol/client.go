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
	Kind EventKind
	// Handle is the command this reply answers (NoHandle for the
	// greeting, for a 421 no command asked for, and for EventClosed).
	Handle Handle
	Cmd    Command // the command this reply answers (zero when Handle is NoHandle)
	Reply  Reply   // zero for EventClosed
	// Done is true when the command is now fully answered: always, except
	// for an LMTP end of data, which is fully answered by the reply to its
	// last accepted recipient.
	Done bool
	// Rcpt names the recipient an LMTP end-of-data reply is for, and
	// RcptHandle the RCPT that accepted it (the replies come in RCPT
	// order, one per accepted RCPT, duplicates kept).
	Rcpt       string
	RcptHandle Handle
	// Challenge is, for a 3xx reply to AUTH or to an AUTH response, the
	// SASL challenge base64-decoded (RFC 4954 §4; empty for "334 "), and
	// ChallengeErr a *ChallengeError when the text is not base64. The
	// caller decides: most mechanisms must cancel, LOGIN ignores its
	// prompts.
	Challenge    []byte
	ChallengeErr error
}

// Client is one SMTP or LMTP conversation, client side, as a state
// machine without I/O. See the package documentation for the call order.
// A Client is not safe for concurrent use.
type Client struct {
	cfg Config
	p   replyParser

	state State // written only in state.go
	base  State // state after the answered commands; written only in state.go

	// The ledger (ledger.go): commands not fully answered, oldest first,
	// ledger[head:]; last is the newest Handle; writtenThrough the newest
	// whose bytes were all written.
	ledger         []entry
	head           int
	last           Handle
	writtenThrough Handle

	// Events matched on arrival, events[evHead:], for NextEvent; reported
	// is the newest Handle whose last event NextEvent returned.
	events   []Event
	evHead   int
	reported Handle

	out     []byte // Outgoing() is out[outOff:]
	outOff  int
	written int64 // bytes written so far (Advance)
	stuff   codec.StuffState

	ext Extensions
	err *PeerError

	eof            bool // ReceiveEOF was called
	closedReported bool // EventClosed was returned

	bdatLen   int      // the size of the last BDAT chunk, and
	bdatArg   string   // its decimal form (see bdat)
	lastParam [1]Param // the Params of BDAT ... LAST (see bdat)

	utf8Txn   bool   // the last MAIL sent carried SMTPUTF8
	accepted  []rcpt // RCPTs answered positively in the current transaction
	lmtpRcpts []rcpt // LMTP: the recipients owed end-of-data replies
}

// rcpt is an accepted recipient and the RCPT that named it.
type rcpt struct {
	addr string
	h    Handle
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
	if e, ok := c.oldest(); ok {
		return e.cmd, true
	}
	return Command{}, false
}

// Pending returns the number of commands not yet fully answered.
func (c *Client) Pending() int { return len(c.ledger) - c.head }

// Accepted returns the number of recipients accepted so far in the
// current transaction (RCPTs answered positively since its MAIL).
func (c *Client) Accepted() int { return len(c.accepted) }

// Err returns the sticky *PeerError, or nil.
func (c *Client) Err() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// Config returns the configuration in effect, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Buffered returns the number of received bytes not yet part of a
// complete reply. It is at most MaxLineLength × MaxReplyLines.
func (c *Client) Buffered() int { return c.p.buffered() }

// Receive hands the Client bytes read from the server and matches every
// complete reply among them, at once, to the oldest command whose bytes
// were all written (Advance) before the reply's first byte was received
// and that is not yet answered; NextEvent
// returns the results. A complete reply with no such command is a
// *PeerError with ErrUnsolicited (except a 421, which closes: RFC 5321
// §3.8), so a reply can never be taken for the answer to a command queued
// or written after it arrived.
//
// A violation found in p (an unsolicited reply, a malformed one, bytes
// after the 220 to STARTTLS: ErrTLSInjection) makes the Client fail:
// NextEvent returns the events matched before it, then the sticky
// *PeerError. Receive itself returns the *PeerError only when the Client
// had failed before the call, and a *UsageError with ErrClosed after
// ReceiveEOF.
func (c *Client) Receive(p []byte) error {
	if c.err != nil {
		return c.err
	}
	if c.eof {
		return &UsageError{State: c.state, Err: ErrClosed}
	}
	if len(p) == 0 {
		return nil
	}
	c.p.feed(p)
	c.match()
	return nil
}

// ReceiveEOF records that the server closed the connection. NextEvent
// first returns the events of the bytes already received, then
// EventClosed if no reply is owed (or the reply owed is QUIT's), or else
// a *PeerError with ErrUnexpectedClose.
func (c *Client) ReceiveEOF() { c.eof = true }

// NextEvent returns the next event matched by Receive.
//
// It returns ErrNeedData when none is ready: read more, call Receive, and
// call NextEvent again. Once the server broke the protocol it returns the
// events matched before the violation (those commands were answered;
// nothing after the violation is taken as an answer, and Outgoing is
// empty from then on), then the sticky *PeerError. In
// StateClosed it returns ErrNeedData until ReceiveEOF, then EventClosed
// once, then a *UsageError with ErrClosed. NextEvent never blocks, and
// its results do not depend on how the input was split across Receive
// calls.
func (c *Client) NextEvent() (Event, error) {
	if c.evHead < len(c.events) {
		ev := c.events[c.evHead]
		c.events[c.evHead] = Event{}
		c.evHead++
		if ev.Done && ev.Handle > c.reported {
			c.reported = ev.Handle
		}
		return ev, nil
	}
	if c.err != nil {
		return Event{}, c.err
	}
	if !c.eof {
		return Event{}, ErrNeedData
	}
	switch {
	case c.state == StateClosed && c.closedReported:
		return Event{}, &UsageError{State: c.state, Err: ErrClosed}
	case c.state == StateClosed:
		c.closedReported = true
		return Event{Kind: EventClosed}, nil
	}
	return c.onEOF()
}

// onEOF decides what an EOF means once every complete reply is consumed.
func (c *Client) onEOF() (Event, error) {
	end := c.p.received()
	if c.p.inReply() || c.state == StateTLS {
		return c.fail(end, ErrUnexpectedClose)
	}
	if cmd, ok := c.Awaiting(); ok && cmd.Verb != VerbQuit || !ok && !cleanEOF[c.state] {
		return c.fail(end, ErrUnexpectedClose)
	}
	c.closeNow()
	c.closedReported = true
	return Event{Kind: EventClosed}, nil
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

// Send validates cmd, appends its wire form to the outgoing bytes and
// returns the Handle that its reply's Event will carry.
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
func (c *Client) Send(cmd Command) (Handle, error) {
	if err := c.Check(cmd); err != nil {
		return NoHandle, err
	}
	if cmd.Verb == VerbMail {
		c.utf8Txn = hasParam(cmd.Params, "SMTPUTF8")
	}
	c.compactOut()
	c.out = cmd.appendWire(c.out)
	return c.record(cmd), nil
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
	if cmd.Verb == VerbRcpt && !codec.IsASCII(cmd.Arg) && !c.utf8Txn {
		return usage(invalidArg("non-ASCII forward-path needs SMTPUTF8 on MAIL"))
	}
	if c.mustWait() {
		return usage(ErrMustWait)
	}
	o := opOf(cmd)
	if _, ok := stepSend(c.state, o); !ok || !modeAllows(c.cfg.LMTP, o) {
		return usage(ErrInvalidState)
	}
	if err := c.ext.Permits(cmd); err != nil {
		return usage(err)
	}
	return nil
}

// TLSDone tells the Client that the TLS handshake after EventStartTLS
// finished. The state becomes StateHello (send EHLO or LHLO again, RFC
// 3207 §4.2) and the extensions are forgotten. Bytes received after the
// 220 (an injection, the CVE-2011-0411 class) make it fail with a
// *PeerError wrapping ErrTLSInjection: call it, and check its error,
// before anything read on the TLS connection is trusted. Outside StateTLS
// it returns a *UsageError with ErrInvalidState.
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
// After a *PeerError or once closed it is empty: nothing is sent to a
// server that broke the protocol or said goodbye (a 421 no command asked
// for also drops the commands queued and not yet written).
func (c *Client) Outgoing() []byte {
	if c.err != nil || c.state == StateClosed {
		return nil
	}
	return c.out[c.outOff:]
}

// Advance records that the first n bytes of Outgoing were written. n is
// clamped to [0, len(Outgoing())]. Only written commands can be answered
// (see Receive).
func (c *Client) Advance(n int) {
	n = max(0, min(n, len(c.Outgoing())))
	c.outOff += n
	c.written += int64(n)
	i := c.head // the first entry not known to be written; handles are consecutive
	if i < len(c.ledger) && c.writtenThrough >= c.ledger[i].h {
		i += int(c.writtenThrough-c.ledger[i].h) + 1
	}
	for ; i < len(c.ledger) && c.ledger[i].end <= c.written; i++ {
		c.writtenThrough = c.ledger[i].h
		c.ledger[i].recvAt = c.p.received()
	}
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
