package codec

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/mail"
	"strconv"
	"strings"
)

// Envelope is what SMTP needs to send a message, taken from its header.
type Envelope struct {
	// From is the reverse-path (an addr-spec, no angle brackets): from
	// Sender, else From (or Resent-Sender, else Resent-From). "" is the
	// null reverse-path, given as "<>" in that field, as smtplib reads it.
	From string
	// To holds the forward-paths: the addresses of every To, Cc and Bcc
	// field (or Resent-To, Resent-Cc, Resent-Bcc) in the order the fields
	// appear in the header; duplicates are kept.
	To []string
	// Header is the header block as it must be transmitted: byte-identical
	// to the input (folded lines and line endings kept) except that the Bcc
	// and Resent-Bcc fields, with their continuation lines, are removed. It
	// ends with the blank line.
	Header []byte
}

// Errors of ParseEnvelope.
var (
	// ErrMultipleResent: more than one Resent-Date field, so more than one
	// Resent- block, and no way to tell which one applies.
	ErrMultipleResent = errors.New("codec: message has more than one Resent- header block")
	// ErrNoSender: no usable Sender or From (Resent-Sender or Resent-From).
	ErrNoSender = errors.New("codec: message header has no sender address")
	// ErrNoRecipients: no address in To, Cc or Bcc (or their Resent- forms).
	ErrNoRecipients = errors.New("codec: message header has no recipient address")
	// ErrHeaderSyntax: a header line is malformed, or an address field
	// that is needed cannot be parsed. It comes inside a *HeaderError.
	ErrHeaderSyntax = errors.New("codec: malformed message header")
)

// HeaderError locates a malformed header: Line is the 1-based line number
// in the header block, Field the field name ("" when the line has none) and
// Err the underlying cause (for example net/mail's error), if any.
// errors.Is(err, ErrHeaderSyntax) holds for every *HeaderError.
type HeaderError struct {
	Line  int
	Field string
	Err   error
}

// Error implements error.
func (e *HeaderError) Error() string {
	s := ErrHeaderSyntax.Error() + ": line " + strconv.Itoa(e.Line)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrHeaderSyntax and the cause.
func (e *HeaderError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrHeaderSyntax}
	}
	return []error{ErrHeaderSyntax, e.Err}
}

var (
	errNoColon      = errors.New("line has no colon")
	errBadFieldName = errors.New("bad field name")
	errOrphanFold   = errors.New("continuation line before the first field")
	errBareCR       = errors.New("bare CR in header line")
)

// SplitHeader returns the length of the header block at the start of b: the
// index just after the first empty line, which may end in CRLF or in a bare
// LF. It returns -1 if b holds no empty line yet (read more). A b that
// starts with an empty line has an empty header and gives 1 or 2.
func SplitHeader(b []byte) int {
	if len(b) > 0 && b[0] == '\n' {
		return 1
	}
	if len(b) > 1 && b[0] == '\r' && b[1] == '\n' {
		return 2
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1 // start of the next line
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
}

// headerField is one field of a raw header block.
type headerField struct {
	name       string // as written, without trailing white space
	value      string // unfolded: line breaks of continuation lines removed
	start, end int    // the field's bytes in the block, line breaks included
	line       int    // 1-based line of the field's first line
}

// parseFields splits a header block (blank line excluded) into fields.
func parseFields(h []byte) ([]headerField, error) {
	var fields []headerField
	line := 0
	for pos := 0; pos < len(h); {
		line++
		end := len(h)
		if j := bytes.IndexByte(h[pos:], '\n'); j >= 0 {
			end = pos + j + 1
		}
		text := h[pos:end]
		text = bytes.TrimSuffix(text, lf)
		text = bytes.TrimSuffix(text, crBytes)
		if len(text) == 0 { // a lone CR: not a field, not a blank line
			return nil, &HeaderError{Line: line, Err: errNoColon}
		}
		if bytes.IndexByte(text, '\r') >= 0 {
			// The stuffer will turn this CR into a line break, so what
			// follows it would become a field of its own on the wire
			// (a Bcc, say) that this parser never saw.
			return nil, &HeaderError{Line: line, Err: errBareCR}
		}
		if text[0] == ' ' || text[0] == '\t' {
			if len(fields) == 0 {
				return nil, &HeaderError{Line: line, Err: errOrphanFold}
			}
			f := &fields[len(fields)-1]
			f.value += string(text)
			f.end = end
			pos = end
			continue
		}
		colon := bytes.IndexByte(text, ':')
		if colon < 0 {
			return nil, &HeaderError{Line: line, Err: errNoColon}
		}
		name := string(bytes.TrimRight(text[:colon], " \t"))
		if !validFieldName(name) {
			return nil, &HeaderError{Line: line, Field: name, Err: errBadFieldName}
		}
		fields = append(fields, headerField{
			name: name, value: string(text[colon+1:]),
			start: pos, end: end, line: line,
		})
		pos = end
	}
	return fields, nil
}

// validFieldName: RFC 5322 ftext, printable ASCII except ':'.
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' || s[i] == ':' {
			return false
		}
	}
	return true
}

// addressParser decodes RFC 2047 display names leniently: an unknown
// charset leaves the word's bytes as they are instead of failing the whole
// address list (only the addresses matter here).
var addressParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, input io.Reader) (io.Reader, error) { return input, nil },
}}

// addresses parses a field's address list. An empty value is no address.
// net/mail reads it first; when net/mail refuses it, lenientList does, as
// smtplib would. "" in the result is an explicit "<>". Every address must
// pass CheckAddress: what would corrupt the command line is refused here,
// with the field's location, rather than sent as smtplib would send it.
func (f *headerField) addresses() ([]string, error) {
	v := strings.TrimSpace(f.value)
	if v == "" {
		return nil, nil
	}
	var out []string
	if list, err := addressParser.ParseList(v); err == nil {
		out = make([]string, 0, len(list))
		for _, a := range list {
			out = append(out, wireAddr(a.Address))
		}
	} else if out, err = lenientList(v); err != nil {
		return nil, &HeaderError{Line: f.line, Field: f.name, Err: err}
	}
	for _, a := range out {
		if err := CheckAddress(a); err != nil {
			return nil, &HeaderError{Line: f.line, Field: f.name, Err: err}
		}
	}
	return out, nil
}

// wireAddr turns net/mail's decoded address back into wire form: a local
// part that is not a dot-atom (net/mail hands it back unquoted) is quoted
// again. UTF-8 is kept as is.
func wireAddr(a string) string {
	s := (&mail.Address{Address: a}).String() // "<addr-spec>" when Name is empty
	return strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
}

// ParseEnvelope derives the envelope of a message from its header block,
// following Python smtplib's send_message:
//
//   - The header block is everything up to and including the first empty
//     line (CRLF or bare LF); anything after it is ignored. Without an empty
//     line the whole input is the header block, and Header gets the missing
//     line break and a blank line ("\r\n") appended.
//   - Exactly one Resent-Date field means one Resent- block: the sender
//     comes from Resent-Sender, else Resent-From, and the recipients from
//     Resent-To, Resent-Cc and Resent-Bcc. More than one Resent-Date gives
//     ErrMultipleResent. Like smtplib, Resent- fields without a
//     Resent-Date are ignored (the plain fields are used).
//   - Otherwise the sender comes from Sender, else From. A Sender field
//     whose value is empty is skipped. When the chosen field lists several
//     addresses the first is used (as smtplib does). An empty angle-addr
//     there ("<>", "Mail Delivery System <>") is the null reverse-path:
//     From is "" (smtplib sends MAIL FROM:<> for it too).
//   - Recipients are the addresses of every To, Cc and Bcc field (or their
//     Resent- forms), in header order, duplicates kept; groups are expanded
//     and empty groups ("undisclosed-recipients:;") add nothing, nor do
//     empty list items and "<>".
//   - A bare CR inside a header line is refused (*HeaderError): the
//     dot-stuffer would turn it into a line break and start a field this
//     parser did not see.
//   - Bcc and Resent-Bcc fields are always removed from Header, together
//     with their continuation lines; nothing else changes.
//
// Field names match case-insensitively. Address fields are parsed by
// net/mail, so UTF-8 addresses (RFC 6532) and RFC 2047 display names are
// accepted. A field net/mail refuses is read again as leniently as
// smtplib's email.utils.getaddresses reads it: bare local parts
// ("Resent-To: a@example.com, Jeff" gives a@example.com and Jeff),
// unquoted dots in display names, a missing '>', comments, groups without
// their ';', empty items and trailing commas. Still refused, as smtplib's
// strict parsing refuses them or where its answer is a guess: two
// addresses in one item ("a@example.com <b@example.org>"), a ';' outside a
// group, an unclosed quote or comment, a display name with no address
// ("John Smith", which smtplib sends as RCPT TO:<John>). Every
// address returned passes CheckAddress: one that does not (a space, '<',
// '>', a control character) is refused rather than put on the wire.
//
// An unparsable address field that is needed, or a line that is not a
// field, gives a *HeaderError (errors.Is ErrHeaderSyntax; for an address
// that CheckAddress refuses, errors.As also finds its *AddressError). No
// sender gives ErrNoSender, no recipient ErrNoRecipients.
func ParseEnvelope(header []byte) (Envelope, error) {
	block, blank := header, []byte(nil)
	if n := SplitHeader(header); n >= 0 {
		block = header[:n]
		i := n - 1 // the blank line is "\n" or "\r\n"
		if i > 0 && block[i-1] == '\r' {
			i--
		}
		block, blank = block[:i], block[i:]
	}
	fields, err := parseFields(block)
	if err != nil {
		return Envelope{}, err
	}

	prefix := ""
	resent := 0
	for i := range fields {
		if strings.EqualFold(fields[i].name, "Resent-Date") {
			resent++
		}
	}
	switch {
	case resent > 1:
		return Envelope{}, ErrMultipleResent
	case resent == 1:
		prefix = "Resent-"
	}

	var env Envelope
	env.From, err = sender(fields, prefix)
	if err != nil {
		return Envelope{}, err
	}
	for i := range fields {
		f := &fields[i]
		if !fieldIs(f.name, prefix, "To") && !fieldIs(f.name, prefix, "Cc") && !fieldIs(f.name, prefix, "Bcc") {
			continue
		}
		addrs, err := f.addresses()
		if err != nil {
			return Envelope{}, err
		}
		for _, a := range addrs {
			if a != "" { // "<>" names no recipient; smtplib would send RCPT TO:<>
				env.To = append(env.To, a)
			}
		}
	}
	if len(env.To) == 0 {
		return Envelope{}, ErrNoRecipients
	}

	env.Header = make([]byte, 0, len(block)+len(blank)+4)
	for i := range fields {
		f := &fields[i]
		if strings.EqualFold(f.name, "Bcc") || strings.EqualFold(f.name, "Resent-Bcc") {
			continue
		}
		env.Header = append(env.Header, block[f.start:f.end]...)
	}
	if blank == nil {
		if len(env.Header) > 0 && env.Header[len(env.Header)-1] != '\n' {
			env.Header = append(env.Header, '\r', '\n')
		}
		blank = crlf
	}
	env.Header = append(env.Header, blank...)
	return env, nil
}

// fieldIs reports whether name is prefix+want, ignoring case.
func fieldIs(name, prefix, want string) bool {
	return len(name) == len(prefix)+len(want) &&
		strings.EqualFold(name[:len(prefix)], prefix) &&
		strings.EqualFold(name[len(prefix):], want)
}

// sender picks the reverse-path: the first address of the first non-empty
// prefix+Sender field, else of the first prefix+From field.
func sender(fields []headerField, prefix string) (string, error) {
	for _, want := range []string{"Sender", "From"} {
		for i := range fields {
			f := &fields[i]
			if !fieldIs(f.name, prefix, want) {
				continue
			}
			addrs, err := f.addresses()
			if err != nil {
				return "", err
			}
			if len(addrs) > 0 {
				return addrs[0], nil // "" for "<>": the null reverse-path
			}
			if want == "From" {
				return "", ErrNoSender
			}
			break // empty Sender: fall back to From
		}
	}
	return "", ErrNoSender
}
