package codec

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrBadXtext is the cause of every XtextDecode error.
var ErrBadXtext = errors.New("codec: malformed xtext")

// XtextError describes malformed xtext: Offset is the byte offset in Input
// where decoding failed. It unwraps to ErrBadXtext.
type XtextError struct {
	Input  string
	Offset int
}

// Error implements error.
func (e *XtextError) Error() string {
	return "codec: malformed xtext at offset " + strconv.Itoa(e.Offset) + " in " + strconv.Quote(e.Input)
}

// Unwrap returns ErrBadXtext.
func (e *XtextError) Unwrap() error { return ErrBadXtext }

const upperHex = "0123456789ABCDEF"

// xtextPlain reports whether c stands for itself in xtext: "!" through "~"
// except "+" and "=".
func xtextPlain(c byte) bool {
	return c >= '!' && c <= '~' && c != '+' && c != '='
}

// XtextEncode encodes s as xtext (RFC 3461 section 4), as used by the DSN
// parameters ORCPT and ENVID: the bytes "!" through "~" other than "+" and
// "=" stand for themselves; every other byte (including those of non-ASCII
// UTF-8) becomes "+XX" with two upper-case hex digits. The result is
// printable ASCII without spaces, so it cannot break a command line.
func XtextEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !xtextPlain(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if xtextPlain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('+')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0xf])
	}
	return b.String()
}

// XtextDecode decodes xtext. It returns a *XtextError (unwrapping to
// ErrBadXtext) when s holds a byte outside "!" through "~", a raw "=", or a
// "+" not followed by two upper-case hex digits, as RFC 3461 requires. The
// decoded bytes are returned as they are; they need not be valid UTF-8.
func XtextDecode(s string) (string, error) {
	plus := strings.IndexByte(s, '+')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '+' && !xtextPlain(c) {
			return "", &XtextError{Input: s, Offset: i}
		}
	}
	if plus < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:plus])
	for i := plus; i < len(s); i++ {
		c := s[i]
		if c != '+' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", &XtextError{Input: s, Offset: i}
		}
		hi, ok1 := unhexUpper(s[i+1])
		lo, ok2 := unhexUpper(s[i+2])
		if !ok1 || !ok2 {
			return "", &XtextError{Input: s, Offset: i}
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), nil
}

func unhexUpper(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ORCPT returns the value of the DSN parameter ORCPT (RFC 3461 section
// 4.2) for an original recipient address, without the "ORCPT=":
//
//   - "rfc822;" and the address as xtext when it is ASCII;
//   - "utf-8;" and the address as RFC 6533's utf-8-addr-xtext when it is
//     not: QCHARs ("!" through "~" except "+", "=" and "\") stand for
//     themselves, and every other character becomes \x{HEX}, its code
//     point in upper-case hex without leading zeros ("\x{E9}" for "é",
//     "\x{5C}" for "\", "\x{20}" for a space in a quoted local part).
//
// The utf-8 form is 7-bit, so it is valid whether or not the server
// offers SMTPUTF8 (RFC 6533 section 3). An address that is not valid
// UTF-8 or holds a control character cannot be written in that form; it
// gets the rfc822 form (every byte xtext-escaped) instead, so the result
// is always printable ASCII without spaces. Such an address fails
// CheckAddress anyway.
func ORCPT(addr string) string {
	if IsASCII(addr) || !utf8.ValidString(addr) || hasControl(addr) {
		return "rfc822;" + XtextEncode(addr)
	}
	var b strings.Builder
	b.Grow(len("utf-8;") + 2*len(addr))
	b.WriteString("utf-8;")
	for _, r := range addr {
		if r < utf8.RuneSelf && r != '\\' && xtextPlain(byte(r)) {
			b.WriteRune(r)
			continue
		}
		b.WriteString(`\x{`)
		b.WriteString(strings.ToUpper(strconv.FormatInt(int64(r), 16)))
		b.WriteByte('}')
	}
	return b.String()
}

// hasControl reports whether s holds a C0 control byte (a space is not one).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' {
			return true
		}
	}
	return false
}
