package session

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/protocol"
)

// mailParamsFor works out the MAIL parameters: the ones the message and the
// options call for (SIZE, BODY, SMTPUTF8, REQUIRETLS, RET, ENVID), then the
// caller's SendOptions.MailParams merged in: a parameter equal to one of
// ours is sent once, one that contradicts ours is refused before anything
// is sent (see mergeParams).
func (t *txn) mailParamsFor() ([]protocol.Param, error) {
	c, o := t.c, &t.opts
	var mp []protocol.Param
	add := func(ext string, p protocol.Param) error {
		if err := c.needExt(ext); err != nil {
			return err
		}
		mp = append(mp, p)
		return nil
	}
	utf8 := o.SMTPUTF8 || !codec.IsASCII(t.from)
	for _, to := range t.to {
		utf8 = utf8 || !codec.IsASCII(to)
	}
	size, known := int64(o.Size), o.Size > 0
	if !known && c.HasExtension("SIZE") {
		size, known = messageSize(t.body, c.bodyBuffer())
	}
	if known && c.HasExtension("SIZE") {
		if limit, ok := c.extensions().Size(); ok && limit > 0 && size > limit {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, size, limit)
		}
		mp = append(mp, protocol.Param{Key: "SIZE", Value: strconv.FormatInt(size, 10)})
	}
	if o.EightBitMIME || utf8 && c.HasExtension("8BITMIME") {
		if err := add("8BITMIME", protocol.Param{Key: "BODY", Value: "8BITMIME"}); err != nil {
			return nil, err
		}
	}
	for _, p := range []struct {
		on  bool
		ext string
		p   protocol.Param
	}{
		{utf8, "SMTPUTF8", protocol.Param{Key: "SMTPUTF8"}},
		{o.RequireTLS, "REQUIRETLS", protocol.Param{Key: "REQUIRETLS"}},
		{o.Return != "", "DSN", protocol.Param{Key: "RET", Value: string(o.Return)}},
		{o.EnvelopeID != "", "DSN", protocol.Param{Key: "ENVID", Value: codec.XtextEncode(o.EnvelopeID)}},
	} {
		if p.on {
			if err := add(p.ext, p.p); err != nil {
				return nil, err
			}
		}
	}
	return t.mergeParams(protocol.VerbMail, mp, o.MailParams)
}

// rcptParamsFor works out every RCPT's parameters (NOTIFY and ORCPT for
// DSN, then SendOptions.RcptParams merged in) and checks them all, before
// the MAIL goes out.
func (t *txn) rcptParamsFor() error {
	c, o := t.c, &t.opts
	if len(o.Notify) > 0 || o.OriginalRecipients {
		if err := c.needExt("DSN"); err != nil {
			return err
		}
	}
	// The same parameters for every recipient unless DSN adds its own:
	// then one list each (ORCPT names the recipient).
	perRcpt := o.OriginalRecipients || len(o.Notify) > 0
	if perRcpt {
		t.rcptParams = make([][]protocol.Param, len(t.to))
	}
	notify := ""
	if len(o.Notify) > 0 {
		vals := make([]string, len(o.Notify))
		for j, n := range o.Notify {
			vals[j] = string(n)
		}
		notify = strings.Join(vals, ",")
	}
	for i, to := range t.to {
		rp := o.RcptParams
		if perRcpt {
			var own []protocol.Param
			if notify != "" {
				own = append(own, protocol.Param{Key: "NOTIFY", Value: notify})
			}
			if o.OriginalRecipients {
				own = append(own, protocol.Param{Key: "ORCPT", Value: codec.ORCPT(to)})
			}
			var err error
			if rp, err = t.mergeParams(protocol.VerbRcpt, own, o.RcptParams); err != nil {
				return err
			}
			t.rcptParams[i] = rp
		}
		if err := c.preflight(protocol.Rcpt(to, rp...)); err != nil {
			return err
		}
	}
	return nil
}

// mergeParams adds the caller's parameters to ours. smtplib users pass
// what they know a message needs (mail_options such as BODY=8BITMIME
// SMTPUTF8), which postwire may add by itself: a parameter equal to one of
// ours (keyword case-insensitive; the value too, except for the xtext of
// ENVID and ORCPT) is sent once. A different value for one of our
// keywords (BODY=7BIT for a message that needs 8BITMIME, a SIZE that is
// not the message's) is a *protocol.UsageError; the caller's parameters
// are otherwise sent as given, after ours.
func (t *txn) mergeParams(v protocol.Verb, own, caller []protocol.Param) ([]protocol.Param, error) {
	if len(caller) == 0 {
		return own, nil
	}
	out := own
	for _, p := range caller {
		dup := false
		for _, q := range own {
			if !strings.EqualFold(p.Key, q.Key) {
				continue
			}
			same := p.Value == q.Value
			if k := strings.ToUpper(q.Key); k != "ENVID" && k != "ORCPT" {
				same = strings.EqualFold(p.Value, q.Value)
			}
			if !same {
				return nil, &protocol.UsageError{State: t.c.pc.State(), Verb: v, Err: fmt.Errorf(
					"%w: %s=%s contradicts %s=%s, which the message needs", protocol.ErrInvalidArgument, p.Key, p.Value, q.Key, q.Value)}
			}
			dup = true
		}
		if !dup {
			if len(out) == len(own) {
				out = append(own[:len(own):len(own)], p) // never write into the caller's or own backing array
			} else {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// messageSize returns the size RFC 1870 announces for body: the octets
// of the message as transmitted, line endings made CRLF (by
// codec.CRLFState, the rule DATA and BDAT apply), without the stuffing
// dots and the final dot; 0 for an empty body. It is known without
// consuming the body when what is left of it can be read in place: a
// *bytes.Buffer, anything readable at offsets with a known size
// (*bytes.Reader, *strings.Reader, *io.SectionReader), or SendMessage's
// headedBody over one of those. scratch is a buffer to count through.
func messageSize(body io.Reader, scratch []byte) (int64, bool) {
	in, out := scratch[:len(scratch)/3], scratch[len(scratch)/3:]
	s := sizeCounter{out: out}
	if !s.addUnread(body, in) {
		return 0, false
	}
	return s.n + int64(len(s.lines.AppendEnd(out[:0]))), true
}

// sizeCounter counts what codec.CRLFState makes of a message given in
// pieces; out is its scratch output, at least 2*len(piece)+2 bytes.
type sizeCounter struct {
	lines codec.CRLFState
	out   []byte
	n     int64
}

func (s *sizeCounter) add(p []byte) {
	for step := (len(s.out) - 2) / 2; len(p) > 0; p = p[min(len(p), step):] {
		s.n += int64(len(s.lines.Append(s.out[:0], p[:min(len(p), step)])))
	}
}

// addUnread counts what is left to read of r, without moving it, and
// reports false when that cannot be read in place.
func (s *sizeCounter) addUnread(r io.Reader, in []byte) bool {
	switch b := r.(type) {
	case *poolBody:
		return s.addUnread(b.r, in)
	case *headedBody:
		s.add(b.header)
		s.add(b.read)
		return b.rest == nil || s.addUnread(b.rest, in)
	case *bytes.Buffer:
		s.add(b.Bytes())
		return true
	case interface {
		io.ReaderAt
		io.Seeker
		Size() int64
	}:
		off, err := b.Seek(0, io.SeekCurrent)
		if err != nil {
			return false
		}
		for end := b.Size(); off < end; {
			k, err := b.ReadAt(in[:min(int64(len(in)), end-off)], off)
			s.add(in[:k])
			off += int64(k)
			if err != nil && (err != io.EOF || off < end) {
				return false
			}
		}
		return true
	}
	return false
}
