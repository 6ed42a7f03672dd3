package session

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/protocol"
)

// errPending marks a recipient whose fate is not known yet; finish
// replaces it with the transaction's error.
var errPending = errors.New("session: recipient pending")

// txn is one mail transaction of SendMail/SendBatch. Its on* methods are
// the reply handlers; they only record results, the run loop decides.
// Which reply answers which command is the core's business: the txn keeps
// the handles of its commands, and what the replies said.
type txn struct {
	c          *Client
	from       string
	to         []string
	body       io.Reader
	opts       SendOptions
	mailParams []protocol.Param
	rcptParams [][]protocol.Param // per recipient; nil when all use opts.RcptParams
	chunked    bool

	res     SendResult
	err     error
	started bool // something was queued for the server

	mail, firstRcpt, data, end protocol.Handle // NoHandle until queued
	// endOK: every reply to its end of data came, positive, for a valid
	// envelope; endRefused: one did not (see mayHoldTransaction).
	endOK, endRefused bool
	closing           *ReplyError // a 421 answered one of its commands: the server gave up on it
	answered          bool        // a reply to one of its commands came
	mailOK, dataOK    bool
	chunkErr          *ReplyError // the first BDAT chunk refused
}

func newTxn(c *Client, m Envelope) *txn {
	t := &txn{c: c, from: codec.ReversePath(m.From), to: m.To, body: m.Body}
	if m.Options != nil {
		t.opts = *m.Options
	}
	t.res.Recipients = make([]RecipientResult, len(m.To))
	for i, to := range m.To {
		t.res.Recipients[i] = RecipientResult{Recipient: to, Err: errPending}
	}
	return t
}

func (t *txn) fail(err error) {
	if t.err == nil && err != nil {
		t.err = err
	}
}

// prepare validates the envelope and works out the parameters; nothing is
// sent when it fails.
func (t *txn) prepare() error {
	c := t.c
	if len(t.to) == 0 {
		return &protocol.UsageError{State: c.pc.State(), Verb: protocol.VerbRcpt, Err: ErrNoRecipients}
	}
	if t.body == nil {
		t.body = strings.NewReader("")
	}
	mp, err := t.mailParamsFor()
	if err != nil {
		return err
	}
	t.mailParams = mp
	if err := c.preflight(protocol.Mail(t.from, mp...)); err != nil {
		return err
	}
	if err := t.rcptParamsFor(); err != nil {
		return err
	}
	t.chunked = c.chunking()
	t.started = true
	return nil
}

// rcptParamsOf returns the parameters of recipient i's RCPT.
func (t *txn) rcptParamsOf(i int) []protocol.Param {
	if t.rcptParams == nil {
		return t.opts.RcptParams
	}
	return t.rcptParams[i]
}

func (t *txn) onMail(ev protocol.Event, err error) {
	if err != nil {
		t.fail(err)
		return
	}
	if ev.Reply.Positive() {
		t.mailOK = true
		return
	}
	t.fail(&SenderRefusedError{Sender: t.from, Reply: newReplyError(ev.Cmd, ev.Reply)})
}

// onReply routes a reply to the handler of the txn's command it answers:
// the txn knows its handles, the core decided which command it answers.
func (t *txn) onReply(ev protocol.Event, err error) {
	t.answered = t.answered || err == nil
	if err == nil && ev.Reply.Code == 421 && t.closing == nil {
		t.closing = newReplyError(ev.Cmd, ev.Reply)
	}
	switch h := ev.Handle; {
	case h == t.mail:
		t.onMail(ev, err)
	case h >= t.firstRcpt && h < t.firstRcpt+protocol.Handle(len(t.to)):
		t.onRcpt(int(h-t.firstRcpt), ev, err)
	case h == t.data:
		t.onData(ev, err)
	case h == t.end:
		t.onFinal(ev, err)
	default:
		t.onChunk(ev, err)
	}
}

func (t *txn) onRcpt(i int, ev protocol.Event, err error) {
	if err != nil {
		t.fail(err)
		return
	}
	r := &t.res.Recipients[i]
	r.Reply = ev.Reply
	switch {
	case !t.mailOK:
		// MAIL was refused: this reply (503) says nothing about the recipient.
	case ev.Reply.Positive():
	default:
		r.Err = &RecipientError{Recipient: t.to[i], Reply: newReplyError(ev.Cmd, ev.Reply)}
	}
}

// refusedByServer reports whether the server's replies already decided
// that the message cannot be delivered.
func (t *txn) refusedByServer() bool {
	var sr *SenderRefusedError
	var rr *RecipientsRefusedError
	var de *DataError
	return errors.As(t.err, &sr) || errors.As(t.err, &rr) || errors.As(t.err, &de)
}

// isAccepted reports whether recipient i was accepted at RCPT and has no
// final outcome yet.
func (t *txn) isAccepted(i int) bool {
	r := &t.res.Recipients[i]
	return t.mailOK && r.Reply.Positive() && r.Err == errPending
}

// everyRcptRefused reports whether the server refused every recipient at
// RCPT (after accepting MAIL).
func (t *txn) everyRcptRefused() bool {
	for _, r := range t.res.Recipients {
		if _, ok := r.Err.(*RecipientError); !ok || !t.mailOK {
			return false
		}
	}
	return true
}

// nAccepted counts the recipients isAccepted.
func (t *txn) nAccepted() int {
	n := 0
	for i := range t.res.Recipients {
		if t.isAccepted(i) {
			n++
		}
	}
	return n
}

func (t *txn) onData(ev protocol.Event, err error) {
	if err != nil {
		t.fail(err)
		return
	}
	if ev.Reply.Intermediate() {
		// 354, or another 3xx: RFC 5321 §4.2.1 lets the first digit
		// decide, and so does the core (it now waits for the body).
		t.dataOK = true
		return
	}
	if t.mailOK && t.nAccepted() > 0 {
		t.fail(&DataError{Reply: newReplyError(ev.Cmd, ev.Reply)})
	}
}

// allRefused is the error when no recipient was accepted.
func (t *txn) allRefused() error {
	var refused []RecipientError
	for _, r := range t.res.Recipients {
		if re, ok := r.Err.(*RecipientError); ok {
			refused = append(refused, *re)
		}
	}
	return &RecipientsRefusedError{Refused: refused}
}

// onFinal handles the reply (LMTP: each reply) after the end of the data.
func (t *txn) onFinal(ev protocol.Event, err error) {
	if err != nil {
		if !t.c.pc.Written(t.end) || t.closing != nil || t.unreached(err) {
			// The end of the body never left, or the server answered the
			// transaction (or one before it) with 421 (closing, RFC 5321
			// §3.8) before its end: nothing can have been accepted.
			t.fail(err)
			return
		}
		// The whole message was written and no verdict came. With the
		// envelope in the same flight its replies may be missing too: a
		// recipient not refused may have got the message.
		if t.refusedByServer() {
			return // the sender, every recipient or the data was refused
		}
		if t.everyRcptRefused() {
			t.err = t.allRefused() // over the connection's error: nobody can have it
			return
		}
		u := &UnknownDeliveryError{Err: err}
		for i, r := range t.res.Recipients {
			if r.Err == errPending {
				u.Recipients = append(u.Recipients, t.to[i])
				t.res.Recipients[i].Err = u
			}
		}
		t.err = u // over the connection's error that reached an earlier handler
		return
	}
	var verdict error
	switch {
	case !t.mailOK:
		return // the sender refusal is the result (the 503 says nothing more)
	case t.nAccepted() == 0:
		// Every recipient refused, the body sent optimistically: the
		// server refused it too (RFC 3030: 503 or 554).
		t.fail(t.allRefused())
		return
	case t.chunkErr != nil:
		// A BDAT chunk was refused: the transaction failed (RFC 3030
		// §4.2), whatever the server says after the last chunk.
		verdict = &DataError{Reply: t.chunkErr}
	case !ev.Reply.Positive() && !t.c.opts.LMTP:
		verdict = &DataError{Reply: newReplyError(ev.Cmd, ev.Reply)}
	case !ev.Reply.Positive():
		verdict = &RecipientError{Recipient: ev.Rcpt, Reply: newReplyError(ev.Cmd, ev.Reply)}
	}
	t.endRefused = t.endRefused || verdict != nil
	t.endOK = ev.Done && !t.endRefused
	if !t.c.opts.LMTP || t.chunkErr != nil {
		t.fail(verdict)
		if !t.c.opts.LMTP {
			t.res.Reply = ev.Reply
		}
		for i := range t.res.Recipients {
			if t.isAccepted(i) {
				t.res.Recipients[i].Reply, t.res.Recipients[i].Err = ev.Reply, verdict
			}
		}
		return
	}
	// LMTP: this reply is for the recipient its RCPT named (RFC 2033 §4.2).
	if i := int(ev.RcptHandle - t.firstRcpt); ev.RcptHandle != protocol.NoHandle && i >= 0 && i < len(t.to) {
		r := &t.res.Recipients[i]
		r.Reply, r.Err = ev.Reply, verdict
	}
}

func (t *txn) onChunk(ev protocol.Event, err error) {
	if err != nil {
		t.fail(err)
		return
	}
	if !ev.Reply.Positive() && t.chunkErr == nil {
		t.chunkErr = newReplyError(ev.Cmd, ev.Reply)
	}
}

// mayHoldTransaction reports whether the server may still hold t's
// transaction open, so that RSET must come before the next MAIL: its BDAT
// LAST went out and the replies to it are not yet known to be positive
// (in a window of messages they come after the next MAIL has gone out).
// Some servers keep the transaction after refusing a BDAT, for want of a
// valid recipient or refusing the data; the next MAIL then gets 503 while
// its RCPTs and BDAT extend the old transaction, and a message the server
// stored would be reported refused. (The end of DATA always ends the
// transaction, RFC 5321 §4.1.1.4.)
func (t *txn) mayHoldTransaction() bool {
	return t.chunked && t.end != protocol.NoHandle && !t.endOK
}

// unreached reports whether err, which ended the conversation before any
// reply to the txn came, is a 421 answering an earlier command (pipelined
// ahead of the txn's, as when Exim refuses the 1,001st MAIL of a
// connection): replies come in order, so the server closed before it
// processed any of the txn's commands.
func (t *txn) unreached(err error) bool {
	return !t.answered && err != nil && isClosing(err)
}

// isClosing reports whether err is a 421 reply. (A function of its own:
// errors.As's target escapes, and the common path should not pay for it.)
func isClosing(err error) bool {
	var re *ReplyError
	return errors.As(err, &re) && re.Code == 421
}

// finish settles the result after every reply has been processed.
func (t *txn) finish() (*SendResult, error) {
	if !t.started {
		return nil, t.err
	}
	if t.unreached(t.err) {
		return nil, &wrapErr{kind: ErrClosed, cause: t.err} // as if not started
	}
	if t.err == nil && t.c.opts.LMTP {
		// A recipient still pending was accepted at RCPT and never got
		// its reply to the end of data (the server closed, e.g. with a
		// 421 to an earlier recipient's): it may have the message.
		delivered := false
		u := &UnknownDeliveryError{Err: ErrServerDisconnected}
		for i, r := range t.res.Recipients {
			delivered = delivered || r.Err == nil
			if r.Err == errPending {
				u.Recipients = append(u.Recipients, r.Recipient)
				t.res.Recipients[i].Err = u
			}
		}
		switch {
		case delivered:
		case len(u.Recipients) > 0:
			t.err = u
		default:
			t.err = t.allRefused()
		}
	}
	if t.err == nil && t.end == protocol.NoHandle {
		t.err = fmt.Errorf("%w: transaction ended without data", ErrInternal)
	}
	for i := range t.res.Recipients {
		r := &t.res.Recipients[i]
		if r.Err == errPending {
			r.Err = t.err
			if t.err == nil { // never left pending with no error: not delivered as far as we know
				r.Err = &UnknownDeliveryError{Recipients: []string{r.Recipient}, Err: ErrServerDisconnected}
			}
		}
		if re, ok := r.Err.(*RecipientError); ok {
			t.res.Refused = append(t.res.Refused, *re)
		}
	}
	return &t.res, t.err
}
