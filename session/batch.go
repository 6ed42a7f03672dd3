package session

import (
	"context"
	"io"

	"github.com/postwire/postwire/protocol"
)

// Envelope is one message for SendBatch: the reverse-path, the
// recipients, the body (streamed as in SendMail) and its options (nil: the
// defaults).
type Envelope struct {
	From    string
	To      []string
	Body    io.Reader
	Options *SendOptions
}

// BatchResult is the outcome of one message of a batch: what SendMail
// would have returned for it. Result is nil when nothing was sent for the
// message (it was refused locally, or the connection had already failed),
// or when the server answered an earlier command with 421 before any of
// the message's: it closed without processing them.
type BatchResult struct {
	Result *SendResult
	Err    error
}

// SendBatch sends several messages over this connection, one transaction
// each, and returns one result per message in order. With PIPELINING the
// next message's MAIL, RCPTs and DATA follow the previous message's end of
// data in the same write (RFC 2920), so a batch of n messages costs about
// n+1 round trips instead of n times (3 + recipients). With CHUNKING too,
// Options.BatchWindow whole messages (envelope and BDAT LAST) go in one
// flight: n/BatchWindow round trips.
//
// A message that fails (refused sender, all recipients refused, data
// refused, an option the server lacks) does not stop the batch: the
// session sends RSET and goes on. A failure of the connection or of ctx
// stops it: the message in flight gets that error (an
// *UnknownDeliveryError if its body had been sent completely) and the
// messages not yet started get the error as well, wrapped with ErrClosed
// (so do those pipelined behind a 421, which the server did not read).
func (c *Client) SendBatch(ctx context.Context, msgs []Envelope) []BatchResult {
	out := make([]BatchResult, len(msgs))
	if err := c.enter(); err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	defer c.leave()
	txns := make([]*txn, len(msgs))
	if err := c.ehloOrHeloIfNeeded(ctx); err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	for i, m := range msgs {
		t := newTxn(c, m)
		txns[i] = t
		switch {
		case i > 0 && !c.pipelining():
			// Without pipelining (the server's or the caller's choice)
			// the previous message's final reply comes before the next
			// MAIL. A failure reaches the pending handlers and makes
			// usable fail below.
			_ = c.await(ctx, c.pc.Last())
		case i%c.opts.batchWindow() == 0 && i > 0 && c.chunking():
			// A window of messages goes out in one flight; the next one
			// follows when all of it is answered. (Refilling as each
			// message is answered writes a little at every reply: one
			// round trip per message or two against a server that
			// answers as it delivers, as Dovecot does.) Over DATA each
			// message waits for its 354 anyway.
			_ = c.await(ctx, c.pc.Last())
		}
		if i > 0 && txns[i-1].mayHoldTransaction() && c.usable() == nil {
			// Its outcome is not known yet, or it was refused: the server
			// may still hold that transaction open.
			c.send(ctx, protocol.Rset(), nil)
		}
		if err := c.usable(); err != nil {
			t.fail(err)
			continue
		}
		if err := t.prepare(); err != nil {
			t.fail(err)
			continue
		}
		t.run(ctx)
	}
	// Read the replies still owed. A failure here has already been
	// delivered to every pending command's handler by shutdown.
	_ = c.await(ctx, c.pc.Last())
	for i, t := range txns {
		out[i].Result, out[i].Err = t.finish()
	}
	if len(txns) > 0 && txns[len(txns)-1].mayHoldTransaction() && c.usable() == nil {
		c.send(ctx, protocol.Rset(), nil) // queued: it goes out with the next command
	}
	return out
}

// run sends one transaction up to the end of its body, without waiting for
// the final reply (so the next transaction can be pipelined behind it).
func (t *txn) run(ctx context.Context) {
	c := t.c
	pipelined := c.pipelining()
	h, err := c.send(ctx, protocol.Mail(t.from, t.mailParams...), t)
	if err != nil {
		t.fail(err)
		return
	}
	t.mail = h
	if !pipelined {
		if err := c.await(ctx, h); err != nil {
			t.fail(err)
			return
		}
		if !t.mailOK {
			t.abort(ctx)
			return
		}
	}
	for i, to := range t.to {
		if h, err = c.send(ctx, protocol.Rcpt(to, t.rcptParamsOf(i)...), t); err != nil {
			t.fail(err)
			t.abort(ctx) // end the transaction the MAIL opened
			return
		}
		if i == 0 {
			t.firstRcpt = h
		}
		if !pipelined {
			if err := c.await(ctx, h); err != nil {
				t.fail(err)
				return
			}
		}
	}
	if t.chunked && pipelined {
		// The body follows the envelope in the same flight, up to
		// Options.OptimisticLimit; sendChunks waits for the envelope
		// replies before it sends more.
		t.sendChunks(ctx, h)
		return
	}
	if !t.chunked && (pipelined || t.nAccepted() > 0) {
		if h, err = c.send(ctx, protocol.Data(), t); err != nil {
			t.fail(err)
			t.abort(ctx)
			return
		}
		t.data = h
	}
	if !t.envelopeOK(ctx, h) {
		return
	}
	if !t.chunked && !t.dataOK {
		t.err = t.allRefused()
		t.abort(ctx)
		return
	}
	if t.chunked {
		t.sendChunks(ctx, protocol.NoHandle)
		return
	}
	if end, err := c.sendData(ctx, t.body, t); err != nil {
		t.fail(err)
	} else {
		t.end = end
	}
}

// envelopeOK waits for the envelope's replies (up to command h) and
// reports whether the message can go on; if not, the transaction is
// ended (abort) and its error set.
func (t *txn) envelopeOK(ctx context.Context, h protocol.Handle) bool {
	if err := t.c.await(ctx, h); err != nil {
		t.fail(err)
		return false
	}
	if t.err != nil || t.nAccepted() == 0 {
		if t.err == nil {
			t.err = t.allRefused()
		}
		t.abort(ctx)
		return false
	}
	return true
}

// abort ends a failed transaction: an empty body if the server has
// already said 354 (RFC 2920 section 3.1), else RSET (as smtplib does
// after a refusal). Neither reply is waited for here.
func (t *txn) abort(ctx context.Context) {
	c := t.c
	if c.usable() != nil {
		return
	}
	if t.dataOK {
		c.endData(ctx, nil)
		return
	}
	// As smtplib does, also after a refused MAIL: harmless, and it puts
	// the server back in a known state whatever it made of the envelope.
	c.send(ctx, protocol.Rset(), nil)
}

// pipelining reports whether commands may be sent before earlier replies.
func (c *Client) pipelining() bool {
	return !c.opts.DisablePipelining && c.HasExtension("PIPELINING")
}

// chunking reports whether BDAT is used for message data.
func (c *Client) chunking() bool {
	return !c.opts.DisableChunking && c.HasExtension("CHUNKING")
}
