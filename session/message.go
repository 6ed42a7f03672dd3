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
	env, body, size, err := readEnvelope(msg, c.opts.maxHeader())
	if err != nil {
		return nil, err
	}
	if opts.Size == 0 && size > 0 {
		opts.Size = size
	}
	return c.SendMail(ctx, env.From, env.To, body, &opts)
}

// readEnvelope reads the header block of msg (bounded by limit), parses the
// envelope and returns the body to transmit: the cleaned header, then the
// rest. size is the transmitted size when msg's length is known, else 0.
func readEnvelope(msg io.Reader, limit int) (codec.Envelope, io.Reader, int64, error) {
	var (
		buf  []byte
		hdr  = -1
		rerr error
	)
	chunk := make([]byte, 4096)
	line := 0 // start of the last, incomplete line: no blank line before it
	empty := 0
	for hdr < 0 {
		if len(buf) > limit {
			return codec.Envelope{}, nil, 0, fmt.Errorf("%w (more than %d bytes)", ErrHeaderTooLarge, limit)
		}
		n, err := msg.Read(chunk)
		if empty++; n > 0 || err != nil {
			empty = 0
		} else if empty >= maxEmptyReads { // as bodyReader: not a spin
			err = io.ErrNoProgress
		}
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
		if err != nil {
			if err != io.EOF { // the only end of a message: a wrapped EOF is a failure, as in bodyReader
				return codec.Envelope{}, nil, 0, fmt.Errorf("session: reading message: %w", err)
			}
			rerr = err
			break
		}
	}
	if hdr < 0 {
		if len(buf) > limit {
			return codec.Envelope{}, nil, 0, fmt.Errorf("%w (more than %d bytes)", ErrHeaderTooLarge, limit)
		}
		hdr = len(buf) // no blank line: the whole message is the header block
	}
	if hdr > limit {
		return codec.Envelope{}, nil, 0, fmt.Errorf("%w (more than %d bytes)", ErrHeaderTooLarge, limit)
	}
	env, err := codec.ParseEnvelope(buf[:hdr])
	if err != nil {
		return codec.Envelope{}, nil, 0, err
	}
	rest := buf[hdr:]
	var body io.Reader = io.MultiReader(bytes.NewReader(env.Header), bytes.NewReader(rest), msg)
	var size int64
	scratch := make([]byte, 48<<10)
	if rerr != nil {
		body = io.MultiReader(bytes.NewReader(env.Header), bytes.NewReader(rest))
		size, _ = normalizedLen(scratch, bytes.NewReader(env.Header), bytes.NewReader(rest))
	} else if view, ok := unreadView(msg); ok {
		size, _ = normalizedLen(scratch, bytes.NewReader(env.Header), bytes.NewReader(rest), view)
	}
	return env, body, size, nil
}
