package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/postwire/postwire/protocol"
)

// sendChunks streams the body as BDAT chunks of Options.ChunkSize bytes
// (RFC 3030), the last one marked LAST (it may be "BDAT 0 LAST" when the
// body is a multiple of the chunk size). Line endings are normalised to
// CRLF as for DATA, so both paths transmit the same bytes.
func (t *txn) sendChunks(ctx context.Context) {
	c := t.c
	r := &crlfReader{r: t.body, in: c.crlfIn, outBuf: c.crlfOut[:0]}
	defer func() { c.crlfIn, c.crlfOut = r.in, r.outBuf }() // reuse the buffers
	buf := c.bodyBuffer()[:c.opts.chunkSize()]
	var total int64
	n := 1
	if c.opts.LMTP {
		n = len(t.accepted)
	}
	for {
		k, rerr := io.ReadFull(r, buf)
		last := errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF)
		if rerr != nil && !last {
			// The body failed: abandon the transaction with RSET, which
			// discards the chunks already sent (RFC 3030 section 4).
			t.fail(fmt.Errorf("session: reading message body: %w", rerr))
			c.queue(ctx, protocol.Rset(), ignoreReply)
			return
		}
		total += int64(k)
		fn, cnt := t.onChunk, 1
		if last {
			fn, cnt = t.onFinal, n
		}
		if err := c.sendChunk(ctx, buf[:k], last, cnt, fn); err != nil {
			t.failChunk(ctx, err)
			return
		}
		if last {
			t.markSent()
			c.logBody(ctx, total, "message data in BDAT chunks")
			return
		}
		if err := c.flush(ctx, protocol.Command{Verb: protocol.VerbBdat}); err != nil {
			t.failChunk(ctx, err)
			return
		}
		for c.pendingVerb(protocol.VerbBdat) > chunkWindow && t.chunkErr == nil {
			if err := c.step(ctx); err != nil {
				t.failChunk(ctx, err)
				return
			}
		}
		if t.chunkErr != nil {
			t.fail(&DataError{Reply: t.chunkErr})
			c.queue(ctx, protocol.Rset(), ignoreReply)
			return
		}
	}
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
		c.queue(ctx, protocol.Rset(), ignoreReply)
	}
}

// sendChunk queues one BDAT chunk, first reading replies while the core
// says it must wait (no PIPELINING).
func (c *Client) sendChunk(ctx context.Context, p []byte, last bool, n int, fn func(protocol.Event, error)) error {
	cmd := protocol.Command{Verb: protocol.VerbBdat, Arg: strconv.Itoa(len(p))}
	if last {
		cmd.Params = []protocol.Param{{Key: "LAST"}}
	}
	for {
		if err := c.usable(); err != nil {
			return err
		}
		err := c.pc.SendChunk(p, last)
		if err == nil {
			c.logSend(ctx, cmd)
			c.expect(cmd, n, fn)
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

// pendingVerb counts the commands of one verb awaiting replies.
func (c *Client) pendingVerb(v protocol.Verb) int {
	n := 0
	for _, p := range c.pending {
		if p.cmd.Verb == v {
			n++
		}
	}
	return n
}

// crlfReader normalises line endings on the fly: a bare CR or a bare LF
// becomes CRLF, and a non-empty body that does not end with a line ending
// gets a final CRLF (what codec's dot-stuffer does for DATA).
type crlfReader struct {
	r       io.Reader
	in      []byte
	out     []byte // normalised bytes not yet returned
	outBuf  []byte
	skipLF  bool // the previous input byte was CR: an LF now is its pair
	endedNL bool // the last input byte was CR or LF
	any     bool // at least one input byte
	err     error
}

func (n *crlfReader) Read(p []byte) (int, error) {
	for len(n.out) == 0 {
		if n.err != nil {
			return 0, n.err
		}
		if n.in == nil {
			n.in = make([]byte, 16<<10)
		}
		k, err := n.r.Read(n.in)
		n.outBuf = n.normalize(n.outBuf[:0], n.in[:k])
		if err != nil {
			if errors.Is(err, io.EOF) && n.any && !n.endedNL {
				n.outBuf = append(n.outBuf, '\r', '\n')
				n.endedNL = true
			}
			n.err = err
		}
		n.out = n.outBuf
	}
	m := copy(p, n.out)
	n.out = n.out[m:]
	return m, nil
}

func (n *crlfReader) normalize(dst, src []byte) []byte {
	for len(src) > 0 {
		n.any = true
		if n.skipLF && src[0] == '\n' {
			src = src[1:]
			n.skipLF = false
			continue
		}
		n.skipLF = false
		i := bytes.IndexAny(src, "\r\n")
		if i < 0 {
			dst = append(dst, src...)
			n.endedNL = false
			return dst
		}
		dst = append(dst, src[:i]...)
		dst = append(dst, '\r', '\n')
		n.skipLF = src[i] == '\r'
		n.endedNL = true
		src = src[i+1:]
	}
	return dst
}
