package session

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/postwire/postwire/codec"
)

// SendMessage sends a whole RFC 5322 message (smtplib's send_message): the
// envelope comes from its header block (codec.ParseEnvelope: sender from
// Sender or From, recipients from To, Cc and Bcc, or from the one Resent-*
// block if there is one), Bcc and Resent-Bcc are removed from what is
// transmitted, and the rest streams as in SendMail. Only the header block
// is read before sending, at most Options.MaxHeaderBytes
// (ErrHeaderTooLarge beyond). Errors are SendMail's, plus codec's envelope
// errors (codec.ErrNoSender, codec.ErrNoRecipients,
// codec.ErrMultipleResent, ...) and the reader's.
func (c *Client) SendMessage(ctx context.Context, msg io.Reader, o *SendOptions) (*SendResult, error) {
	if c.busy.Load() { // before reading msg; SendBatch checks again
		return nil, ErrConcurrentUse
	}
	var opts SendOptions
	if o != nil {
		opts = *o
	}
	env, body, err := readEnvelope(ctx, msg, c.opts.maxHeader())
	if err != nil {
		return nil, err
	}
	return c.SendMail(ctx, env.From, env.To, body, &opts)
}

// readEnvelope reads the header block of msg (bounded by limit), parses the
// envelope and returns the body to transmit: the cleaned header, then the
// rest. Reading follows the body's rules (bodyReader): only a bare io.EOF
// ends the message.
func readEnvelope(ctx context.Context, msg io.Reader, limit int) (codec.Envelope, io.Reader, error) {
	var (
		buf   []byte
		hdr   = -1
		ended bool
	)
	chunk := make([]byte, 4096)
	r := bodyReader{ctx: ctx, r: msg}
	line := 0 // start of the last, incomplete line: no blank line before it
	for hdr < 0 && !ended {
		if len(buf) > limit {
			return codec.Envelope{}, nil, fmt.Errorf("%w (more than %d bytes)", ErrHeaderTooLarge, limit)
		}
		n, err := r.read(chunk)
		if err != nil && err != io.EOF {
			return codec.Envelope{}, nil, err
		}
		ended = err == io.EOF
		buf = append(buf, chunk[:n]...)
		// A blank line can only end at a new LF; search from the start of
		// the line it ends, so that a reader giving a byte at a time
		// costs linear, not quadratic, time.
		if i := bytes.LastIndexByte(chunk[:n], '\n'); i >= 0 {
			if h := codec.SplitHeader(buf[line:]); h >= 0 {
				hdr = line + h
			}
			line = len(buf) - n + i + 1
		}
	}
	if hdr < 0 {
		hdr = len(buf) // no blank line: the whole message is the header block
	}
	if hdr > limit {
		return codec.Envelope{}, nil, fmt.Errorf("%w (more than %d bytes)", ErrHeaderTooLarge, limit)
	}
	env, err := codec.ParseEnvelope(buf[:hdr])
	if err != nil {
		return codec.Envelope{}, nil, err
	}
	b := &headedBody{header: env.Header, read: buf[hdr:]}
	if !ended {
		b.rest = msg
	}
	b.r = io.MultiReader(bytes.NewReader(b.header), bytes.NewReader(b.read), orEmpty(b.rest))
	return env, b, nil
}

// headedBody is the message SendMessage sends: the header block as it
// transmits it (Bcc removed), what was read after it, then the rest of the
// caller's reader (nil once it has ended). messageSize counts it in place.
type headedBody struct {
	header, read []byte
	rest         io.Reader
	r            io.Reader
}

func (b *headedBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func orEmpty(r io.Reader) io.Reader {
	if r == nil {
		return bytes.NewReader(nil)
	}
	return r
}
