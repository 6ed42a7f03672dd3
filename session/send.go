package session

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/postwire/postwire/protocol"
)

// DSNReturn is the DSN RET parameter (RFC 3461): how much of the message a
// failure notice returns.
type DSNReturn string

// RET values.
const (
	ReturnFull    DSNReturn = "FULL" // the whole message
	ReturnHeaders DSNReturn = "HDRS" // the headers only
)

// DSNNotify is one value of the DSN NOTIFY parameter (RFC 3461).
type DSNNotify string

// NOTIFY values. NotifyNever must be used alone.
const (
	NotifyNever   DSNNotify = "NEVER"
	NotifySuccess DSNNotify = "SUCCESS"
	NotifyFailure DSNNotify = "FAILURE"
	NotifyDelay   DSNNotify = "DELAY"
)

// SendOptions are the ESMTP options of one message. The zero value (and
// nil) sends with whatever the message needs and the server offers: SIZE
// when the size is known, SMTPUTF8 (and BODY=8BITMIME) when an address is
// not ASCII.
//
// Options the caller asks for explicitly (EightBitMIME, SMTPUTF8,
// RequireTLS, the DSN fields) are demands: when the server does not
// advertise the extension, the message fails with a *NotSupportedError
// naming it, before anything is sent.
type SendOptions struct {
	// Size is the message size in bytes for the SIZE parameter (RFC 1870);
	// 0 means unknown, in which case it is taken from a body that is a
	// *bytes.Reader, *strings.Reader or *bytes.Buffer. A known size above
	// the server's advertised limit fails with ErrMessageTooLarge.
	Size int64
	// EightBitMIME sends BODY=8BITMIME (RFC 6152).
	EightBitMIME bool
	// SMTPUTF8 sends SMTPUTF8 (RFC 6531) even for ASCII addresses.
	SMTPUTF8 bool
	// RequireTLS sends REQUIRETLS (RFC 8689).
	RequireTLS bool
	// Return is the DSN RET parameter ("" for none).
	Return DSNReturn
	// EnvelopeID is the DSN ENVID parameter ("" for none); the session
	// encodes it as xtext.
	EnvelopeID string
	// Notify is the DSN NOTIFY parameter for every recipient (nil: none).
	Notify []DSNNotify
	// OriginalRecipients adds ORCPT to every recipient (DSN): rfc822;
	// with the address as xtext, or utf-8; (RFC 6533) for a non-ASCII one.
	OriginalRecipients bool
	// MailParams and RcptParams are extra parameters sent as given on MAIL
	// and on every RCPT. Known keywords (SIZE, BODY, SMTPUTF8, RET, ENVID,
	// NOTIFY, ORCPT, REQUIRETLS) are checked against the extensions.
	MailParams []protocol.Param
	RcptParams []protocol.Param
}

// SendResult is the outcome of one message.
type SendResult struct {
	// Reply is the server's final reply to the message (SMTP). Zero when
	// the message was not sent, and in LMTP, where there is no single
	// verdict: each recipient's reply is in Recipients.
	Reply protocol.Reply
	// Recipients has one entry per recipient given, in RCPT order; a
	// recipient given twice has two entries.
	Recipients []RecipientResult
	// Refused lists the recipients the server refused, in RCPT order
	// (smtplib's dict of refused recipients): at RCPT, or in LMTP after
	// the data.
	Refused []RecipientError
}

// Refusal returns the reply that refused addr (the last one if addr was
// given twice), or nil when it was not refused.
func (r *SendResult) Refusal(addr string) *ReplyError {
	if r == nil {
		return nil
	}
	return lookupRefused(r.Refused, addr)
}

// RecipientResult is what happened to one recipient.
type RecipientResult struct {
	Recipient string
	// Reply is the RCPT reply when the recipient was refused there (or the
	// message was not sent), else the reply after the data: per recipient
	// in LMTP, the message's final reply in SMTP.
	Reply protocol.Reply
	// Err is nil when the server took responsibility for delivering to
	// the recipient; a *RecipientError when it refused; a
	// *UnknownDeliveryError when the reply never came; otherwise the error
	// that stopped the message (e.g. *DataError).
	Err error
}

// SendMail sends one message (smtplib's sendmail): MAIL FROM:<from>, RCPT
// TO:<to> for each recipient, then the body streamed from body (DATA with
// dot-stuffing and CRLF line endings, or BDAT chunks when the server
// offers CHUNKING); the body is never read into memory as a whole. With
// PIPELINING, MAIL, the RCPTs and DATA go out in one write. It greets the
// server first if needed.
//
// The result is non-nil whenever the server was asked anything; the
// recipients it refused are in SendResult.Refused and do not make the call
// fail as long as one recipient was accepted. Errors:
//   - *SenderRefusedError: MAIL refused (then RSET is sent);
//   - *RecipientsRefusedError: every recipient refused (then RSET);
//   - *DataError: DATA, a BDAT chunk, or the message refused (also when
//     the server refused it and hung up while the body was being written:
//     the error then matches ErrServerDisconnected too);
//   - *UnknownDeliveryError: the body was sent but the final reply did not
//     arrive; the message may have been delivered;
//   - *NotSupportedError: an option needs an extension the server lacks
//     (SMTPUTF8 also when an address is not ASCII), nothing sent;
//   - ErrMessageTooLarge, ErrNoRecipients, a *protocol.UsageError for an
//     address holding CR, LF or other control characters: nothing sent;
//   - the connection's errors (ErrServerDisconnected, ErrTimeout, the
//     context's error), or the body reader's error: a message ends only
//     at a bare io.EOF, and any other ending (io.ErrUnexpectedEOF, a
//     wrapped EOF, 100 empty reads: io.ErrNoProgress, a panic) abandons
//     it without its terminator: over DATA the connection is closed, over
//     BDAT the transaction is reset at a chunk boundary and the
//     connection goes on (a panic always closes it, then goes on).
//
// In LMTP mode each accepted recipient gets its own final reply, in
// SendResult.Recipients; the call fails with *RecipientsRefusedError only
// when no recipient got the message.
func (c *Client) SendMail(ctx context.Context, from string, to []string, body io.Reader, o *SendOptions) (*SendResult, error) {
	res := c.SendBatch(ctx, []Envelope{{From: from, To: to, Body: body, Options: o}}) // guarded there
	return res[0].Result, res[0].Err
}

// Data sends DATA and, after the server's 354, the message read from r
// (smtplib's data): line endings become CRLF, lines starting with "." are
// dot-stuffed, a final CRLF is added when missing, and the body streams
// without being read into memory. Use it after Mail and Rcpt; SendMail does
// all three.
//
// Errors: *DataError when DATA or the message is refused; an
// *UnknownDeliveryError when the body was sent but the reply did not come;
// the reader's error (the connection is then closed: a partial message
// must not be completed). In LMTP mode there is one reply per accepted
// recipient: Data returns the last one, and a *RecipientsRefusedError
// listing the recipients whose reply was negative, if any.
func (c *Client) Data(ctx context.Context, r io.Reader) (protocol.Reply, error) {
	if err := c.enter(); err != nil {
		return protocol.Reply{}, err
	}
	defer c.leave()
	ev, err := c.roundTrip(ctx, protocol.Data())
	if err != nil {
		return ev.Reply, err
	}
	if !ev.Reply.Intermediate() { // 354, or any 3xx (RFC 5321 §4.2.1; the core agrees)
		return ev.Reply, &DataError{Reply: newReplyError(ev.Cmd, ev.Reply)}
	}
	var (
		last    protocol.Reply
		refused []RecipientError
		failed  error
	)
	end, err := c.sendData(ctx, r, replyFunc(func(ev protocol.Event, err error) {
		if err != nil {
			failed = err
			return
		}
		last = ev.Reply
		if !ev.Reply.Positive() {
			refused = append(refused, RecipientError{Recipient: ev.Rcpt, Reply: newReplyError(ev.Cmd, ev.Reply)})
		}
	}))
	if err != nil {
		return protocol.Reply{}, err
	}
	if err := c.await(ctx, end); err != nil && failed == nil {
		failed = err
	}
	switch {
	case failed != nil && c.pc.Written(end):
		return last, &UnknownDeliveryError{Err: failed}
	case failed != nil:
		return last, failed
	case !c.opts.LMTP && len(refused) > 0:
		return last, &DataError{Reply: refused[0].Reply}
	case len(refused) > 0:
		return last, &RecipientsRefusedError{Refused: refused}
	}
	return last, nil
}

// flushThreshold is how much queued message data triggers a write.
const flushThreshold = 32 << 10

// sendData streams r as the DATA body after a 354 and queues the end of
// data with fn for its replies: the one end-of-data path of Data and
// SendMail. The body ends only at a bare io.EOF from r: any other error
// (io.ErrUnexpectedEOF, a wrapped io.EOF, the context's), a reader that
// makes no progress, or a panic abandon the message without its
// terminator and close the connection, since a partial message must
// never be completed.
func (c *Client) sendData(ctx context.Context, r io.Reader, fn handler) (protocol.Handle, error) {
	defer c.closeOnPanic()
	buf := c.bodyBuffer()
	body := bodyReader{ctx: ctx, r: r}
	var total int64
	for {
		n, rerr := body.read(buf)
		if rerr != nil && rerr != io.EOF {
			c.shutdown(rerr)
			return protocol.NoHandle, rerr
		}
		if n > 0 {
			total += int64(n)
			if err := c.pc.SendBody(buf[:n]); err != nil {
				return protocol.NoHandle, c.bodyStopped(ctx, protocol.Command{Verb: protocol.VerbEndData}, err)
			}
			// Write in large pieces; the tail goes out with the end of data.
			if len(c.pc.Outgoing()) >= flushThreshold {
				if err := c.flush(ctx, protocol.Command{Verb: protocol.VerbEndData}); err != nil {
					return protocol.NoHandle, err
				}
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	c.logBody(ctx, total, "message data")
	return c.endData(ctx, fn)
}

// endData queues the end of the DATA body, with fn for its replies.
func (c *Client) endData(ctx context.Context, fn handler) (protocol.Handle, error) {
	h, err := c.pc.EndBody()
	if err != nil {
		return protocol.NoHandle, c.bodyStopped(ctx, protocol.Command{Verb: protocol.VerbEndData}, err)
	}
	c.logLine2(ctx, ".")
	if fn != nil {
		c.handlers[h] = fn
	}
	return h, nil
}

// maxEmptyReads is how many (0, nil) reads in a row a body reader may
// return before it counts as broken (what bufio allows).
const maxEmptyReads = 100

// bodyReader reads a message body: the context is checked before every
// read, a reader stuck returning (0, nil) fails with io.ErrNoProgress,
// and every error but a bare io.EOF is wrapped as the body's failure.
type bodyReader struct {
	ctx   context.Context
	r     io.Reader
	empty int
}

func (b *bodyReader) read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.r.Read(p)
	switch {
	case err == io.EOF: // the only end of a message; not errors.Is: a wrapped EOF is a failure
		return n, io.EOF
	case err != nil:
		return 0, fmt.Errorf("session: reading message body: %w", err)
	case n > 0:
		b.empty = 0
		return n, nil
	}
	if b.empty++; b.empty >= maxEmptyReads {
		return 0, fmt.Errorf("session: reading message body: %w", io.ErrNoProgress)
	}
	return 0, nil
}

// errBodyPanic is why the connection was closed when the body reader panicked.
var errBodyPanic = errors.New("session: the message body reader panicked")

// closeOnPanic, deferred by the body loops, closes the connection when the
// body reader panics (the message is cut short and must not be completed)
// and lets the panic go on.
func (c *Client) closeOnPanic() {
	if p := recover(); p != nil {
		c.shutdown(errBodyPanic)
		panic(p)
	}
}

func (c *Client) logLine2(ctx context.Context, line string) {
	if c.log != nil {
		c.logLine(ctx, "send", line)
	}
}

func (c *Client) bodyBuffer() []byte {
	size := max(c.opts.chunkSize(), 32<<10)
	if len(c.body) < size {
		c.body = make([]byte, size)
	}
	return c.body
}
