package codec

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Causes of CheckAddress errors; each comes wrapped in an *AddressError.
var (
	// ErrAddressLineBreak: the address holds a CR or LF, which would end
	// the command line early and let the rest be read as a new command.
	ErrAddressLineBreak = errors.New("codec: line break in address")
	// ErrAddressControl: the address holds NUL, another C0 control byte
	// (TAB included) or DEL.
	ErrAddressControl = errors.New("codec: control character in address")
	// ErrAddressBrackets: the address holds '<', '>' or a space outside a
	// quoted local part, which would close the path early and let text
	// after it be read as ESMTP parameters.
	ErrAddressBrackets = errors.New("codec: angle bracket or space in address")
	// ErrAddressSyntax: unbalanced double quotes, an empty local part or
	// domain around '@', invalid UTF-8, or more than MaxAddressLength bytes.
	ErrAddressSyntax = errors.New("codec: malformed address")
)

// MaxAddressLength is the longest address CheckAddress accepts, in bytes.
// RFC 5321 limits a path to 256 octets, but servers differ; this bound only
// keeps hostile input from growing commands without limit.
const MaxAddressLength = 4096

// AddressError reports an address CheckAddress refused; Err is one of the
// ErrAddress* sentinels.
type AddressError struct {
	Addr string
	Err  error
}

// Error implements error.
func (e *AddressError) Error() string {
	a := e.Addr
	if len(a) > 128 {
		a = a[:128] + "..."
	}
	return e.Err.Error() + ": " + strconv.Quote(a)
}

// Unwrap returns the cause.
func (e *AddressError) Unwrap() error { return e.Err }

// CheckAddress reports whether addr, a reverse-path or forward-path given
// WITHOUT its angle brackets, is safe to put on the wire inside "<...>".
// The empty string is valid: it is the null reverse-path "<>".
//
// It is not a full RFC 5321 parser; it refuses what would corrupt the
// command or smuggle something into it: CR or LF (ErrAddressLineBreak),
// NUL, other C0 controls and DEL (ErrAddressControl), '<' and '>' anywhere
// and spaces outside double quotes (ErrAddressBrackets; RFC 5321 allows a
// space in a quoted local part such as "john doe"@example.org), and unbalanced double quotes, an
// empty local part or empty domain when '@' is present, invalid UTF-8 or
// more than MaxAddressLength bytes (ErrAddressSyntax). Non-ASCII UTF-8 is
// accepted; see IsASCII for whether SMTPUTF8 is then needed. The error is
// an *AddressError wrapping the sentinel; when several faults are present a
// line break is reported first, otherwise the first fault found.
func CheckAddress(addr string) error {
	if addr == "" {
		return nil
	}
	if len(addr) > MaxAddressLength {
		return &AddressError{Addr: addr, Err: ErrAddressSyntax}
	}
	if strings.ContainsAny(addr, "\r\n") { // the worst fault wins
		return &AddressError{Addr: addr, Err: ErrAddressLineBreak}
	}
	inQuote, escaped := false, false
	at := -1 // index of the last '@' outside quotes
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return &AddressError{Addr: addr, Err: ErrAddressControl}
		case c == '<' || c == '>' || c == ' ' && !inQuote:
			return &AddressError{Addr: addr, Err: ErrAddressBrackets}
		}
		switch {
		case escaped:
			escaped = false
		case inQuote && c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '@':
			at = i
		}
	}
	if inQuote || !utf8.ValidString(addr) {
		return &AddressError{Addr: addr, Err: ErrAddressSyntax}
	}
	if at == 0 || at == len(addr)-1 {
		return &AddressError{Addr: addr, Err: ErrAddressSyntax}
	}
	return nil
}

// IsASCII reports whether s is pure 7-bit ASCII. An address that is not
// needs the SMTPUTF8 extension (RFC 6531).
func IsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ReversePath returns the reverse-path a caller's sender string stands
// for, read the way smtplib's quoteaddr reads the from_addr of sendmail:
// surrounding blanks (space, tab) are dropped, and one pair of angle
// brackets around the whole string is removed, so "<>" is the null
// reverse-path "" (as for smtplib and every MTA) and "<a@example.com>" is
// a@example.com. Anything else, brackets inside included, is returned as
// it was (blanks trimmed) for CheckAddress to judge; CR and LF are never
// trimmed, so a line break still reaches CheckAddress and is refused.
// ReversePath("") is "", the null path as before.
func ReversePath(s string) string {
	t := strings.Trim(s, " \t")
	if len(t) < 2 || t[0] != '<' || t[len(t)-1] != '>' {
		return t
	}
	inner := t[1 : len(t)-1]
	if strings.ContainsAny(inner, "<>") {
		return t // "<a@x> SIZE=1 <b@y>": not one path
	}
	return strings.Trim(inner, " \t")
}
