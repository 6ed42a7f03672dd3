package session

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/protocol"
)

// errPending marks a recipient whose fate is not known yet; finish
// replaces it with the transaction's error.
var errPending = errors.New("session: internal: pending")

// errNoReply is what a handler expecting several replies (LMTP's end of
// data) gets once when the core matched fewer to the command: the
// recipients left have no reply of their own. Handlers wrap it.
var errNoReply = errors.New("session: no reply for this recipient")

// chunkWindow is how many non-last BDAT chunks may await their replies
// before the client reads some (keeps both sides' buffers bounded).
const chunkWindow = 4

// txn is one mail transaction of SendMail/SendBatch. Its on* methods are
// the reply handlers; they only record, the run loop decides.
type txn struct {
	c          *Client
	from       string
	to         []string
	body       io.Reader
	opts       SendOptions
	mailParams []protocol.Param
	rcptParams [][]protocol.Param
	chunked    bool

	res     SendResult
	err     error
	started bool // something was queued for the server

	mailDone, mailOK bool
	rcptDone         int
	accepted         []int // indexes into to, in RCPT order
	dataDone, dataOK bool
	sent             bool  // the end of the body was queued
	endOffset        int64 // c.written after the end of the body is written
	finalN           int   // LMTP replies received after the data
	chunkErr         *ReplyError
}

func newTxn(c *Client, m Envelope) *txn {
	t := &txn{c: c, from: m.From, to: m.To, body: m.Body}
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
		return ErrNoRecipients
	}
	if t.body == nil {
		t.body = strings.NewReader("")
	}
	o := &t.opts
	var mp []protocol.Param
	add := func(ext string, p protocol.Param) error {
		if err := c.needExt(ext); err != nil {
			return err
		}
		mp = append(mp, p)
		return nil
	}
	utf8 := o.SMTPUTF8 || !isASCII(t.from)
	for _, to := range t.to {
		utf8 = utf8 || !isASCII(to)
	}
	size := o.Size
	if size <= 0 {
		size, _ = knownLen(t.body)
	}
	if size > 0 && c.HasExtension("SIZE") {
		if limit, ok := c.Extensions().Size(); ok && limit > 0 && size > limit {
			return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, size, limit)
		}
		mp = append(mp, protocol.Param{Key: "SIZE", Value: strconv.FormatInt(size, 10)})
	}
	body8 := o.EightBitMIME || (utf8 && c.HasExtension("8BITMIME"))
	if body8 {
		if err := add("8BITMIME", protocol.Param{Key: "BODY", Value: "8BITMIME"}); err != nil {
			return err
		}
	}
	if utf8 {
		if err := add("SMTPUTF8", protocol.Param{Key: "SMTPUTF8"}); err != nil {
			return err
		}
	}
	if o.RequireTLS {
		if err := add("REQUIRETLS", protocol.Param{Key: "REQUIRETLS"}); err != nil {
			return err
		}
	}
	if o.Return != "" {
		if err := add("DSN", protocol.Param{Key: "RET", Value: string(o.Return)}); err != nil {
			return err
		}
	}
	if o.EnvelopeID != "" {
		if err := add("DSN", protocol.Param{Key: "ENVID", Value: codec.XtextEncode(o.EnvelopeID)}); err != nil {
			return err
		}
	}
	for _, p := range o.MailParams {
		if ext := paramExtension(p.Key); ext != "" {
			if err := c.needExt(ext); err != nil {
				return err
			}
		}
		mp = append(mp, p)
	}
	t.mailParams = mp
	if _, err := protocol.Mail(t.from, mp...).AppendWire(nil); err != nil {
		return err
	}
	if len(o.Notify) > 0 || o.OriginalRecipients {
		if err := c.needExt("DSN"); err != nil {
			return err
		}
	}
	for _, p := range o.RcptParams {
		if ext := paramExtension(p.Key); ext != "" {
			if err := c.needExt(ext); err != nil {
				return err
			}
		}
	}
	t.rcptParams = make([][]protocol.Param, len(t.to))
	for i, to := range t.to {
		var rp []protocol.Param
		if len(o.Notify) > 0 {
			vals := make([]string, len(o.Notify))
			for j, n := range o.Notify {
				vals[j] = string(n)
			}
			rp = append(rp, protocol.Param{Key: "NOTIFY", Value: strings.Join(vals, ",")})
		}
		if o.OriginalRecipients {
			rp = append(rp, protocol.Param{Key: "ORCPT", Value: "rfc822;" + codec.XtextEncode(to)})
		}
		rp = append(rp, o.RcptParams...)
		if _, err := protocol.Rcpt(to, rp...).AppendWire(nil); err != nil {
			return err
		}
		t.rcptParams[i] = rp
	}
	t.chunked = c.chunking()
	t.started = true
	return nil
}

func (t *txn) onMail(ev protocol.Event, err error) {
	t.mailDone = true
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

func (t *txn) onRcpt(i int) func(protocol.Event, error) {
	return func(ev protocol.Event, err error) {
		t.rcptDone++
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
			t.accepted = append(t.accepted, i)
		default:
			r.Err = &RecipientError{Recipient: t.to[i], Reply: newReplyError(ev.Cmd, ev.Reply)}
		}
	}
}

func (t *txn) onData(ev protocol.Event, err error) {
	t.dataDone = true
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
	if t.mailOK && len(t.accepted) > 0 {
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
	c := t.c
	if t.chunkErr != nil {
		// A BDAT chunk was refused: the transaction failed (RFC 3030
		// §4.2), whatever the server says after the last chunk.
		de := &DataError{Reply: t.chunkErr}
		t.fail(de)
		for _, i := range t.accepted[min(t.finalN, len(t.accepted)):] {
			t.res.Recipients[i].Err = de
		}
		t.finalN = len(t.accepted)
		if err == nil {
			t.res.Reply = ev.Reply
		}
		return
	}
	if err != nil {
		rest := t.accepted[min(t.finalN, len(t.accepted)):]
		t.finalN = len(t.accepted)
		if !t.sent || c.written < t.endOffset {
			// The end of the body never left: the server cannot have accepted it.
			t.fail(err)
			return
		}
		u := &UnknownDeliveryError{Err: err}
		for _, i := range rest {
			u.Recipients = append(u.Recipients, t.to[i])
			t.res.Recipients[i].Err = u
		}
		t.fail(u)
		return
	}
	t.res.Reply = ev.Reply
	if !c.opts.LMTP {
		t.finalN = len(t.accepted)
		var de error
		if !ev.Reply.Positive() {
			de = &DataError{Reply: newReplyError(ev.Cmd, ev.Reply)}
			t.fail(de)
		}
		for _, i := range t.accepted {
			t.res.Recipients[i].Reply = ev.Reply
			t.res.Recipients[i].Err = de
		}
		return
	}
	if t.finalN >= len(t.accepted) {
		return
	}
	i := t.accepted[t.finalN]
	t.finalN++
	r := &t.res.Recipients[i]
	r.Reply = ev.Reply
	if ev.Reply.Positive() {
		r.Err = nil
	} else {
		r.Err = &RecipientError{Recipient: t.to[i], Reply: newReplyError(ev.Cmd, ev.Reply)}
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

// markSent records that the end of the body is queued: once c.written
// reaches endOffset the server may have the whole message.
func (t *txn) markSent() {
	t.sent = true
	t.endOffset = t.c.written + int64(len(t.c.pc.Outgoing()))
}

// finish settles the result after every reply has been processed.
func (t *txn) finish() (*SendResult, error) {
	if !t.started {
		return nil, t.err
	}
	if t.err == nil && t.c.opts.LMTP {
		delivered := false
		for _, i := range t.accepted {
			if t.res.Recipients[i].Err == nil {
				delivered = true
			}
		}
		if !delivered {
			t.err = t.allRefused()
		}
	}
	if t.err == nil && !t.sent {
		t.err = errors.New("session: internal error: transaction ended without data")
	}
	for i := range t.res.Recipients {
		r := &t.res.Recipients[i]
		if r.Err == errPending {
			r.Err = t.err
		}
		if re, ok := r.Err.(*RecipientError); ok {
			t.res.Refused = append(t.res.Refused, *re)
		}
	}
	return &t.res, t.err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
