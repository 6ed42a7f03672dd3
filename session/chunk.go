package session

import (
	"context"
	"errors"
	"io"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/protocol"
)

// chunkWindow is how many non-last BDAT chunks may await their replies
// before the client reads some (keeps both sides' buffers bounded).
const chunkWindow = 4

// sendChunks streams the body as BDAT chunks of about Options.ChunkSize
// bytes (RFC 3030), the last one marked LAST (it may be "BDAT 0 LAST" when
// the body ends on a chunk boundary). Line endings are normalised to CRLF
// by codec.CRLFState, as codec.StuffState does for DATA, so both paths
// transmit the same bytes. The message ends only at a bare io.EOF from the
// body: on any other failure of the reader the chunks sent so far are
// discarded with RSET at the chunk boundary (RFC 3030 §4), and no LAST
// chunk is ever sent.
//
// envelope, when not NoHandle, is the last RCPT, whose reply has not been
// awaited: up to Options.OptimisticLimit bytes go out before it (the whole
// message, in one flight with its envelope, when it fits), then the
// envelope replies are awaited before anything more is sent.
func (t *txn) sendChunks(ctx context.Context, envelope protocol.Handle) {
	c := t.c
	defer c.closeOnPanic()
	size := c.opts.chunkSize()
	in := c.bodyBuffer()[:max(size/2, 1)] // normalising at most doubles it
	if cap(c.chunk) < size+2 {
		c.chunk = make([]byte, 0, 2*size+2)
	}
	body := bodyReader{ctx: ctx, r: t.body}
	var lines codec.CRLFState
	var total int64
	pending := c.chunk[:0] // normalised bytes not yet sent
	var rerr error
	for {
		for len(pending) < size && rerr == nil {
			var n int
			n, rerr = body.read(in)
			pending = lines.Append(pending, in[:n])
			if rerr == io.EOF {
				pending = lines.AppendEnd(pending)
			}
		}
		if rerr != nil && rerr != io.EOF {
			t.fail(rerr)
			if ctx.Err() != nil {
				c.shutdown(rerr)
				return
			}
			c.send(ctx, protocol.Rset(), nil)
			return
		}
		if !t.chunkBoundary(ctx, &envelope) {
			return
		}
		// Chunks of exactly size bytes; the last one is shorter (maybe
		// empty: "BDAT 0 LAST" when the message ends on a boundary).
		last := rerr == io.EOF && len(pending) < size
		chunk := pending[:min(len(pending), size)]
		if envelope != protocol.NoHandle && total+int64(len(chunk)) > c.opts.optimisticLimit() {
			if !t.envelopeOK(ctx, envelope) {
				return
			}
			envelope = protocol.NoHandle
		}
		total += int64(len(chunk))
		h, err := c.sendChunk(ctx, chunk, last, t)
		if err != nil {
			t.failChunk(ctx, err)
			return
		}
		pending = pending[:copy(pending, pending[len(chunk):])] // the core has copied the chunk
		if last {
			t.end = h
			c.logBody(ctx, total, "message data in BDAT chunks")
			return
		}
		if err := c.flush(ctx, protocol.Command{Verb: protocol.VerbBdat}); err != nil {
			t.failChunk(ctx, err)
			return
		}
		// Bound the chunks in flight; a refusal stops the body at the next
		// chunk boundary.
		for t.chunkErr == nil && c.pc.Pending() > chunkWindow {
			if err := c.pump(ctx); err != nil {
				t.failChunk(ctx, err)
				return
			}
		}
	}
}

// chunkBoundary runs between two chunks: it takes in the replies the core
// has already matched (no I/O), then decides whether the body goes on:
// not when the envelope, now answered, was refused, nor after a refused
// chunk (RFC 3030 §4.2: no more BDAT; RSET ends the transaction).
// envelope is updated to NoHandle once the envelope is known to be good.
func (t *txn) chunkBoundary(ctx context.Context, envelope *protocol.Handle) bool {
	c := t.c
	c.dispatchMatched(ctx)
	if *envelope != protocol.NoHandle && !c.pc.Owed(*envelope) {
		if !t.envelopeOK(ctx, *envelope) {
			return false
		}
		*envelope = protocol.NoHandle
	}
	if t.chunkErr != nil {
		t.fail(&DataError{Reply: t.chunkErr})
		c.send(ctx, protocol.Rset(), nil)
		return false
	}
	return true
}

// failChunk ends the transaction when sending a chunk failed with err. A
// chunk the server refused before that decides the error (RFC 3030 §4.2:
// the transaction failed): a *DataError, whose Err is err when the
// connection failed too (the server refused, then hung up while chunks
// were being written). If the connection is still usable (a refused chunk
// ends the transaction in the core, so the next chunk was not allowed),
// RSET puts the server back in a known state.
func (t *txn) failChunk(ctx context.Context, err error) {
	c := t.c
	if t.chunkErr == nil {
		t.fail(err)
		return
	}
	de := &DataError{Reply: t.chunkErr}
	if c.usable() != nil {
		de.Err = err
		var inner *DataError
		if errors.As(err, &inner) && inner.Err != nil {
			de.Err = inner.Err
		}
	}
	// The refusal is the reason, whatever the handlers of the chunks
	// still pending recorded when the connection failed.
	t.err = de
	if c.usable() == nil {
		c.send(ctx, protocol.Rset(), nil)
	}
}

// sendChunk queues one BDAT chunk, first reading replies while the core
// says it must wait (no PIPELINING).
func (c *Client) sendChunk(ctx context.Context, p []byte, last bool, fn handler) (protocol.Handle, error) {
	cmd := protocol.Command{Verb: protocol.VerbBdat} // the core names the size
	if last {
		cmd.Params = lastParam
	}
	h, err := c.enqueue(ctx, cmd, p, fn)
	if err != nil && (errors.Is(err, ErrClosed) || errors.Is(err, protocol.ErrClosed)) {
		return h, c.bodyStopped(ctx, cmd, err)
	}
	return h, err
}

// lastParam marks BDAT ... LAST (read-only).
var lastParam = []protocol.Param{{Key: "LAST"}}
