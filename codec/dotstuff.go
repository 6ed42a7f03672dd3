package codec

import (
	"bytes"
	"errors"
	"io"
)

// StuffState is a streaming dot-stuffer for the SMTP DATA body (RFC 5321
// section 4.5.2). It is a state machine with no I/O: Append transforms a
// piece of the body and appends the result to a caller's slice, AppendEnd
// finishes the body with the "CRLF.CRLF" terminator.
//
// The transformation turns every bare CR and every bare LF into CRLF (the
// defence against SMTP smuggling), keeps CRLF as is, and doubles a '.' that
// starts a line, including the first line of the body. The output does not
// depend on how the body is split across Append calls.
//
// The zero value is ready to use and stands at the start of a line.
// A StuffState must not be used by several goroutines at once.
type StuffState struct{ l lineState }

// Append dot-stuffs p and appends the result to dst, returning the extended
// slice. A CR at the end of p is held until the next call, where it may pair
// with a leading LF; AppendEnd flushes it. Append never fails; it grows dst
// at most by 2*len(p)+2 bytes.
func (s *StuffState) Append(dst, p []byte) []byte { return s.l.append(dst, p, true) }

// AppendEnd finishes the body: it flushes a held CR as CRLF, adds a CRLF if
// the body did not end with one, then appends the terminator ".\r\n". An
// empty body yields just ".\r\n". Afterwards s is the zero value again, ready
// for the next body.
func (s *StuffState) AppendEnd(dst []byte) []byte {
	return append(s.l.appendEnd(dst), '.', '\r', '\n')
}

// CRLFState is the line-ending half of StuffState, for BDAT (RFC 3030),
// whose chunks are not dot-stuffed: every bare CR and bare LF becomes
// CRLF, CRLF stays, and a non-empty message that does not end with a line
// ending gets one, so DATA and BDAT transmit the same message. It is the
// same code as StuffState's, without the dots. The zero value is ready.
type CRLFState struct{ l lineState }

// Append normalises p and appends the result to dst. A CR at the end of p
// is held until the next call (it may pair with an LF); AppendEnd
// flushes it.
func (s *CRLFState) Append(dst, p []byte) []byte { return s.l.append(dst, p, false) }

// AppendEnd finishes the message: a held CR, or a missing final line
// ending, becomes CRLF. Afterwards s is the zero value again.
func (s *CRLFState) AppendEnd(dst []byte) []byte { return s.l.appendEnd(dst) }

// lineState is the one implementation of the line-ending rule, with
// dot-stuffing (DATA) or without (BDAT).
type lineState struct {
	midLine   bool // the last byte emitted was not the LF of a CRLF
	pendingCR bool // the last input byte was a CR not yet emitted
}

// appendEnd emits a held CR, or ends an unfinished last line, as CRLF,
// and resets s.
func (s *lineState) appendEnd(dst []byte) []byte {
	if s.pendingCR || s.midLine {
		dst = append(dst, '\r', '\n')
	}
	*s = lineState{}
	return dst
}

// append normalises (and with dots, dot-stuffs) p onto dst.
func (s *lineState) append(dst, p []byte, dots bool) []byte {
	if len(p) == 0 {
		return dst
	}
	if s.pendingCR {
		s.pendingCR = false
		s.midLine = false
		dst = append(dst, '\r', '\n')
		if p[0] == '\n' {
			p = p[1:]
			if len(p) == 0 {
				return dst
			}
		}
	}
	body := p
	trailingCR := p[len(p)-1] == '\r'
	if trailingCR {
		body = p[:len(p)-1]
	}
	mark, saved := len(dst), *s
	dst, ok := s.appendFast(dst, body, dots)
	if !ok {
		// body holds a bare CR: start again on the careful path.
		dst, *s = dst[:mark], saved
		dst = s.appendSlow(dst, body, dots)
	}
	if trailingCR {
		s.pendingCR = true
	}
	return dst
}

// appendFast stuffs body, which must not end with a CR, assuming it holds
// no bare CR; it repairs bare LFs and doubles leading dots, copying clean
// runs of lines in one piece. It reports false (with dst partly written)
// when the assumption fails.
func (s *lineState) appendFast(dst, body []byte, dots bool) ([]byte, bool) {
	if len(body) == 0 {
		return dst, true
	}
	crs := bytes.Count(body, crBytes) // every CR must be the first half of a CRLF
	if cap(dst)-len(dst) < len(body)+len(body)>>6+4 {
		dst = growSlice(dst, len(body)+len(body)>>6+4)
	}
	run := 0 // body[run:i] is clean and not yet copied
	if dots && !s.midLine && body[0] == '.' {
		dst = append(dst, '.')
	}
	pairs := 0
	i := 0        // start of the current line; its leading dot is handled
	lineLen := 0  // length of the previous line with its line break, or 0
	sameLen := 0  // how many lines before it had that length too
	noStride := 0 // no striding before this offset (a stride failed there)
	for {
		if sameLen > 0 && lineLen >= 2 && i >= noStride {
			// Lines of one length (base64, fixed-width text) are common:
			// after two equal lines, guess where the next CRLFs are and
			// confirm in bulk (two Counts instead of an IndexByte a line).
			k, end := 0, i
			limit := min(len(body), i+strideSpan)
			for q := end + lineLen - 1; q < limit && body[q] == '\n' && body[q-1] == '\r'; q += lineLen {
				k++
				end = q + 1
				if dots && end < len(body) && body[end] == '.' {
					break
				}
			}
			if k > 0 {
				span := body[i:end]
				if bytes.Count(span, lfBytes) == k && bytes.Count(span, crBytes) == k {
					pairs += k
					i = end
					if dots && i < len(body) && body[i] == '.' {
						dst = append(dst, body[run:i]...)
						dst = append(dst, '.')
						run = i
					}
					continue
				}
				noStride = end
			}
		}
		j := bytes.IndexByte(body[i:], '\n')
		if j < 0 {
			break
		}
		j += i
		if j > 0 && body[j-1] == '\r' {
			pairs++
		} else {
			dst = append(dst, body[run:j]...)
			dst = append(dst, '\r', '\n')
			run = j + 1
		}
		if n := j + 1 - i; n == lineLen {
			sameLen++
		} else {
			lineLen, sameLen = n, 0
		}
		i = j + 1
		if dots && i < len(body) && body[i] == '.' {
			dst = append(dst, body[run:i]...)
			dst = append(dst, '.')
			run = i
		}
	}
	if pairs != crs {
		return dst, false
	}
	dst = append(dst, body[run:]...)
	s.midLine = body[len(body)-1] != '\n'
	return dst, true
}

// appendSlow stuffs body (which must not end with a CR) handling bare CRs.
func (s *lineState) appendSlow(dst, body []byte, dots bool) []byte {
	for len(body) > 0 {
		if dots && !s.midLine && body[0] == '.' {
			dst = append(dst, '.')
		}
		k := bytes.IndexAny(body, "\r\n")
		if k < 0 {
			dst = append(dst, body...)
			s.midLine = true
			return dst
		}
		dst = append(dst, body[:k]...)
		dst = append(dst, '\r', '\n')
		if body[k] == '\r' && k+1 < len(body) && body[k+1] == '\n' {
			k++
		}
		body = body[k+1:]
		s.midLine = false
	}
	return dst
}

// AppendStuffed appends the whole dot-stuffed body, terminator included, to
// dst: it is Append followed by AppendEnd on a fresh StuffState.
func AppendStuffed(dst, body []byte) []byte {
	var s StuffState
	return s.AppendEnd(s.Append(dst, body))
}

var (
	crBytes = []byte{'\r'}
	lfBytes = []byte{'\n'}
)

// strideSpan bounds the bytes appendFast confirms with one pair of Counts.
const strideSpan = 8 << 10

// growSlice returns b with room for at least n more bytes.
func growSlice(b []byte, n int) []byte {
	nb := make([]byte, len(b), 2*cap(b)+n)
	copy(nb, b)
	return nb
}

// ErrStufferClosed is returned by Stuffer.Write, Flush and Close after Close.
var ErrStufferClosed = errors.New("codec: write to closed Stuffer")

// stufferChunk bounds how much input a Stuffer transforms at once, so its
// buffer stays under about 2*stufferChunk bytes whatever the Write size.
const stufferChunk = 32 << 10

// Stuffer is an io.WriteCloser that dot-stuffs everything written to it (as
// StuffState does) and passes the result to an underlying writer in large
// blocks, reusing one internal buffer. Close writes the "CRLF.CRLF"
// terminator and flushes; it does not close the underlying writer.
//
// Output is buffered: small writes are gathered until about 32 KiB are
// ready, or until Flush or Close. The first error from the underlying writer
// is sticky: every later call returns it. A Stuffer is not safe for use by
// several goroutines at once.
type Stuffer struct {
	w      io.Writer
	st     StuffState
	buf    []byte
	err    error
	closed bool
}

// NewStuffer returns a Stuffer writing the stuffed body to w.
func NewStuffer(w io.Writer) *Stuffer {
	return &Stuffer{w: w}
}

// Write stuffs p into the buffer, writing full blocks to the underlying
// writer. It returns len(p) on success. On a write error it returns the
// number of bytes of p whose stuffed form was handed over before the failing
// block, and the error. After Close it returns ErrStufferClosed.
func (s *Stuffer) Write(p []byte) (int, error) {
	if s.closed {
		return 0, ErrStufferClosed
	}
	if s.err != nil {
		return 0, s.err
	}
	n := 0
	for len(p) > 0 {
		c := min(len(p), stufferChunk)
		if s.buf == nil { // sized for the first write; small bodies stay small
			s.buf = make([]byte, 0, max(512, min(2*c+c>>5+16, 2*stufferChunk+stufferChunk>>5+16)))
		}
		s.buf = s.st.Append(s.buf, p[:c])
		if len(s.buf) >= stufferChunk {
			if err := s.flush(); err != nil {
				return n, err
			}
		}
		n += c
		p = p[c:]
	}
	return n, nil
}

// Flush writes the buffered stuffed bytes to the underlying writer. A CR
// at the end of the data written so far stays held (it may pair with an LF
// written next).
func (s *Stuffer) Flush() error {
	if s.closed {
		return ErrStufferClosed
	}
	return s.flush()
}

// Close appends the terminator (a CRLF first if the body did not end with
// one, then ".\r\n") and flushes everything. It does not close the
// underlying writer. A second Close returns ErrStufferClosed.
func (s *Stuffer) Close() error {
	if s.closed {
		return ErrStufferClosed
	}
	s.closed = true
	if s.err != nil {
		return s.err
	}
	s.buf = s.st.AppendEnd(s.buf)
	return s.flush()
}

func (s *Stuffer) flush() error {
	if s.err != nil {
		return s.err
	}
	if len(s.buf) == 0 {
		return nil
	}
	n, err := s.w.Write(s.buf)
	if err == nil && n < len(s.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		s.err = err
		return err
	}
	s.buf = s.buf[:0]
	return nil
}
