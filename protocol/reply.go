package protocol

import (
	"bytes"
	"strconv"
	"strings"
)

// EnhancedCode is an RFC 3463 enhanced status code, class.subject.detail.
// The zero value means the reply carried none.
type EnhancedCode struct {
	Class, Subject, Detail int
}

// String returns "2.1.0", or "" for the zero value.
func (e EnhancedCode) String() string {
	if e == (EnhancedCode{}) {
		return ""
	}
	return strconv.Itoa(e.Class) + "." + strconv.Itoa(e.Subject) + "." + strconv.Itoa(e.Detail)
}

// Reply is one complete server reply, multiline replies joined.
type Reply struct {
	Code int // 200..599
	// Enhanced is the RFC 3463 code of the first line, when that line
	// starts with a well-formed x.y.z whose class equals the first digit
	// of Code (so never for 3xx replies). Otherwise zero, and the text
	// stays in Lines.
	Enhanced EnhancedCode
	// Lines holds the text of each line with the code, the separator and
	// (where it equals Enhanced) the enhanced code removed. A bare "250"
	// gives one empty line. Never empty for a parsed reply. It is
	// read-only: equal replies in a row share it.
	Lines []string
}

// Positive reports a 2xx reply.
func (r Reply) Positive() bool { return r.Code/100 == 2 }

// Intermediate reports a 3xx reply (354 after DATA, 334 during AUTH).
func (r Reply) Intermediate() bool { return r.Code/100 == 3 }

// Transient reports a 4xx reply.
func (r Reply) Transient() bool { return r.Code/100 == 4 }

// Permanent reports a 5xx reply.
func (r Reply) Permanent() bool { return r.Code/100 == 5 }

// Text returns the lines joined with "\n".
func (r Reply) Text() string { return strings.Join(r.Lines, "\n") }

// ReceivedLines returns the reply's lines as the server wrote them,
// without line endings: "250-2.1.0 Ok", "250 2.1.0 done". It is computed
// on demand from Code, Enhanced and Lines (nothing is stored twice), so
// two details are normalised: the separator after the code is the one
// RFC 5321 prescribes ('-' on every line but the last), and a
// continuation line that carried no enhanced code although the first did
// is shown with the first line's (RFC 2034 §4 asks for it on every line;
// a line with a different code keeps its own, which stayed in Lines).
func (r Reply) ReceivedLines() []string {
	code := strconv.Itoa(r.Code)
	enh := r.Enhanced.String()
	out := make([]string, len(r.Lines))
	for i, l := range r.Lines {
		sep := "-"
		if i == len(r.Lines)-1 {
			sep = " "
		}
		switch {
		case enh != "" && (i == 0 || !startsEnhanced(l, r.Code/100)):
			out[i] = code + sep + enh + " " + l
		case l == "" && sep == " ":
			out[i] = code // a bare "250"
		default:
			out[i] = code + sep + l
		}
		if enh != "" && l == "" {
			out[i] = code + sep + enh
		}
	}
	return out
}

// startsEnhanced reports whether text starts with an enhanced code of
// the given class.
func startsEnhanced(text string, class int) bool {
	_, _, ok := parseEnhanced([]byte(text), class)
	return ok
}

// String renders the reply as "250 2.1.0 Ok" (first line only when there
// are several, followed by " (+n lines)").
func (r Reply) String() string {
	s := strconv.Itoa(r.Code)
	if e := r.Enhanced.String(); e != "" {
		s += " " + e
	}
	if len(r.Lines) > 0 && r.Lines[0] != "" {
		s += " " + r.Lines[0]
	}
	if len(r.Lines) > 1 {
		s += " (+" + strconv.Itoa(len(r.Lines)-1) + " lines)"
	}
	return s
}

// Defaults for Config's zero values.
const (
	DefaultMaxLineLength = 8192
	DefaultMaxReplyLines = 1000
	minLineLength        = 6 // "250\r\n" plus one: anything smaller could not hold a reply
)

// parseError is a failure of the reply parser with the stream offset where
// it was found; the Client wraps it into a *PeerError.
type parseError struct {
	off int64
	err error
}

// span is a line's text, as offsets from the start of the reply.
type span struct{ from, to int }

// replyParser is the incremental, bounded reply parser. It owns the
// received bytes: buf[start:] is what has not been consumed yet. It never
// searches a byte twice (scan), and it keeps at most one line beyond what
// the limits allow.
type replyParser struct {
	maxLine, maxLines int

	buf   []byte
	off   int64 // stream offset of buf[0]
	start int   // first byte of the reply being parsed
	line  int   // first byte of the current (incomplete) line
	scan  int   // bytes before scan (and after line) hold no LF

	code   int  // of the first line; 0 before it
	hasEnh bool // the first line had an enhanced code, ecode
	ecode  EnhancedCode
	spans  []span // text of each complete line, relative to start

	// slab backs the Lines of small replies: each reply takes its own
	// capacity-capped window, never reused, so a Reply the caller keeps
	// is never overwritten; a full slab is left to the garbage collector
	// once no Reply refers to it. It saves one allocation per reply.
	slab []string

	last    Reply  // the previous reply, and its bytes as received
	lastStr string // (see build)
}

// slabSize is the number of lines in a slab; replies with more than half of
// it get a slice of their own.
const slabSize = 64

func newReplyParser(maxLine, maxLines int) replyParser {
	if maxLine <= 0 {
		maxLine = DefaultMaxLineLength
	}
	if maxLine < minLineLength {
		maxLine = minLineLength
	}
	if maxLines <= 0 {
		maxLines = DefaultMaxReplyLines
	}
	return replyParser{maxLine: maxLine, maxLines: maxLines}
}

// feed appends p, first dropping consumed bytes so the buffer stays
// bounded by what is unparsed.
func (p *replyParser) feed(b []byte) {
	if p.start > 0 && (p.start == len(p.buf) || len(p.buf)+len(b) > cap(p.buf)) {
		n := copy(p.buf, p.buf[p.start:])
		p.buf = p.buf[:n]
		p.off += int64(p.start)
		p.line -= p.start
		p.scan -= p.start
		p.start = 0
	}
	p.buf = append(p.buf, b...)
}

// buffered returns the number of received bytes not yet consumed.
func (p *replyParser) buffered() int { return len(p.buf) - p.start }

// received returns the number of bytes received so far.
func (p *replyParser) received() int64 { return p.off + int64(len(p.buf)) }

// inReply reports whether part of a reply has been received.
func (p *replyParser) inReply() bool { return len(p.buf) > p.start }

// offset returns the stream offset of the first unconsumed byte.
func (p *replyParser) offset() int64 { return p.off + int64(p.start) }

func (p *replyParser) resetReply() {
	p.code, p.hasEnh, p.ecode, p.spans = 0, false, EnhancedCode{}, p.spans[:0]
}

// next returns the next complete reply, or ok=false when more bytes are
// needed, or a *parseError.
func (p *replyParser) next() (r Reply, ok bool, perr *parseError) {
	for {
		limit := min(len(p.buf), p.line+p.maxLine)
		i := bytes.IndexByte(p.buf[p.scan:limit], '\n')
		if i < 0 {
			if len(p.buf)-p.line >= p.maxLine {
				return Reply{}, false, p.fail(ErrLineTooLong)
			}
			p.scan = len(p.buf)
			return Reply{}, false, nil
		}
		end := p.scan + i // index of LF
		raw := p.buf[p.line:end]
		next := end + 1
		final, err := p.addLine(raw)
		if err != nil {
			return Reply{}, false, p.fail(err)
		}
		p.line, p.scan = next, next
		if final {
			r = p.build(next)
			p.start = next
			p.resetReply()
			if p.start == len(p.buf) && cap(p.buf) > 4*p.maxLine {
				p.off += int64(p.start) // drop a buffer grown by a big reply
				p.buf, p.start, p.line, p.scan = nil, 0, 0, 0
			}
			return r, true, nil
		}
	}
}

func (p *replyParser) fail(err error) *parseError {
	return &parseError{off: p.off + int64(p.line), err: err}
}

// addLine checks one line (without its LF) and records its text.
func (p *replyParser) addLine(raw []byte) (final bool, err error) {
	if n := len(raw); n > 0 && raw[n-1] == '\r' {
		raw = raw[:n-1]
	}
	if bytes.IndexByte(raw, '\r') >= 0 {
		return false, ErrMalformedReply // CR not followed by LF
	}
	if len(raw) < 3 || raw[0] < '2' || raw[0] > '5' || !isDigit(raw[1]) || !isDigit(raw[2]) {
		return false, ErrMalformedReply
	}
	code := int(raw[0]-'0')*100 + int(raw[1]-'0')*10 + int(raw[2]-'0')
	textAt := len(raw)
	final = true
	if len(raw) > 3 {
		switch raw[3] {
		case ' ':
		case '-':
			final = false
		default:
			return false, ErrMalformedReply
		}
		textAt = 4
	}
	first := len(p.spans) == 0
	if first {
		p.code = code
	} else if code != p.code {
		return false, ErrCodeMismatch
	}
	if !final && len(p.spans)+1 >= p.maxLines {
		return false, ErrReplyTooLong
	}
	text := raw[textAt:]
	if n, e, ok := parseEnhanced(text, code/100); ok && (first || p.hasEnh && e == p.ecode) {
		p.hasEnh, p.ecode = true, e
		textAt += min(n+1, len(text))
	}
	// raw starts at p.line; spans are relative to the reply's start.
	base := p.line - p.start
	p.spans = append(p.spans, span{base + textAt, base + len(raw)})
	return final, nil
}

// build makes the Reply of the lines recorded: one string for the whole
// reply, and its lines as substrings in a window of the slab (a slice of
// their own for long replies).
//
// A reply identical, byte for byte, to the one before it (the "250 2.0.0
// Ok" to every BDAT chunk of a large message) is that same Reply again:
// no allocation, Lines shared. Replies are read-only values; still, a
// caller that wrote into the Lines of one only changes the replies it
// holds, never a later one: the cached lines are checked first.
func (p *replyParser) build(end int) Reply {
	raw := p.buf[p.start:end]
	if p.last.Lines != nil && string(raw) == p.lastStr && p.lastIntact() {
		return p.last
	}
	s := string(raw)
	var lines []string
	switch n := len(p.spans); {
	case n > slabSize/2:
		lines = make([]string, n)
	default:
		if cap(p.slab)-len(p.slab) < n {
			p.slab = make([]string, 0, slabSize)
		}
		k := len(p.slab)
		p.slab = p.slab[:k+n]
		lines = p.slab[k : k+n : k+n]
	}
	for i, sp := range p.spans {
		lines[i] = s[sp.from:sp.to]
	}
	r := Reply{Code: p.code, Enhanced: p.ecode, Lines: lines}
	p.last, p.lastStr = r, s
	return r
}

// lastIntact reports whether the cached reply's Lines are still the
// substrings of lastStr the spans name (the same reply parsed again has
// the same spans). Equal strings sharing their bytes compare in O(1).
func (p *replyParser) lastIntact() bool {
	if len(p.last.Lines) != len(p.spans) {
		return false
	}
	for i, sp := range p.spans {
		if p.last.Lines[i] != p.lastStr[sp.from:sp.to] {
			return false
		}
	}
	return true
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// parseEnhanced parses an RFC 3463 status code at the start of t:
// class "." subject "." detail, class in 2, 4, 5 and equal to want,
// subject and detail 1 to 3 digits without leading zeros, followed by a
// space or the end. It returns the length of the code.
func parseEnhanced(t []byte, want int) (n int, e EnhancedCode, ok bool) {
	if len(t) < 5 || t[1] != '.' || (t[0] != '2' && t[0] != '4' && t[0] != '5') || int(t[0]-'0') != want {
		return 0, e, false
	}
	e.Class = int(t[0] - '0')
	i := 2
	var ok1, ok2 bool
	if e.Subject, i, ok1 = enhancedPart(t, i); !ok1 || i >= len(t) || t[i] != '.' {
		return 0, EnhancedCode{}, false
	}
	if e.Detail, i, ok2 = enhancedPart(t, i+1); !ok2 || i < len(t) && t[i] != ' ' {
		return 0, EnhancedCode{}, false
	}
	return i, e, true
}

func enhancedPart(t []byte, i int) (v, next int, ok bool) {
	j := i
	for j < len(t) && isDigit(t[j]) && j-i < 4 {
		j++
	}
	n := j - i
	if n == 0 || n > 3 || n > 1 && t[i] == '0' {
		return 0, i, false
	}
	for _, b := range t[i:j] {
		v = v*10 + int(b-'0')
	}
	return v, j, true
}
