package protocol

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
)

// Command line limits. RFC 5321 §4.5.3.1.4: "The maximum total length of
// a command line including the command word and the <CRLF> is 512
// octets." Service extensions raise it for the commands they add
// parameters to, each by what its RFC says (lineBonus). AUTH is the
// exception both ways: the AUTH command itself stays within 512 octets
// (RFC 4954 §4: an initial response that would make it longer must not
// be used), while the responses to challenges may be as long as the
// mechanism needs; RFC 4954 §4 calls 12,288 octets sufficient for the
// deployed ones, and servers (Postfix's smtpd_sasl_response_limit)
// accept that much.
const (
	MaxCommandLine  = 512
	MaxAuthResponse = 12288
)

// lineBonus lists, per command, the octets an advertised extension adds
// to MaxCommandLine.
var lineBonus = []struct {
	verb Verb
	ext  string
	n    int
}{
	{VerbMail, "SIZE", 26},     // RFC 1870 §3 (5): SIZE=value
	{VerbMail, "DSN", 100},     // RFC 3461 §4: RET and ENVID
	{VerbRcpt, "DSN", 500},     // RFC 3461 §4: NOTIFY and ORCPT
	{VerbMail, "SMTPUTF8", 10}, // RFC 6531 §3.1 (5): the SMTPUTF8 parameter
	{VerbMail, "AUTH", 500},    // RFC 4954 §3 (5): MAIL FROM AUTH=
}

// MaxLine returns the longest command line, CRLF included, that a server
// advertising e must accept for verb: MaxCommandLine plus what the
// extensions in e add (lineBonus); MaxAuthResponse for an AUTH response
// and for a Raw line (which may be one). Raw bytes (RawBytes) have no
// limit: they are the caller's.
func (e Extensions) MaxLine(verb Verb) int {
	return maxLine(verb, e.Has)
}

func maxLine(verb Verb, has func(string) bool) int {
	switch verb {
	case VerbAuthResponse, VerbRaw:
		return MaxAuthResponse
	}
	n := MaxCommandLine
	for _, b := range lineBonus {
		if b.verb == verb && has(b.ext) {
			n += b.n
		}
	}
	return n
}

// checkLength refuses a command longer than the limit for its verb with
// the extensions has says are advertised (ErrCommandTooLong).
func (c Command) checkLength(has func(string) bool) error {
	if c.isRawBytes() {
		return nil
	}
	n, limit := c.wireLen(), maxLine(c.Verb, has)
	if n > limit {
		return &argError{c.Verb.String() + " line of " + strconv.Itoa(n) + " octets, limit " + strconv.Itoa(limit), ErrCommandTooLong, nil}
	}
	return nil
}

// anyExtension is the has of the most permissive server: every limit at
// its highest, the bound Command.Validate applies without a conversation.
func anyExtension(string) bool { return true }

// wireLen is len(c.appendWire(nil)), computed without encoding.
func (c Command) wireLen() int {
	n := 2 // CRLF
	switch c.Verb {
	case VerbMail, VerbRcpt:
		n += len("RCPT TO:<>") + len(c.Arg)
		if c.Verb == VerbMail {
			n += len("MAIL FROM:<>") - len("RCPT TO:<>")
		}
		for _, p := range c.Params {
			n += 1 + len(p.Key)
			if p.Value != "" {
				n += 1 + len(p.Value)
			}
		}
	case VerbAuth:
		n += len("AUTH ") + len(c.Arg)
		if c.Data != nil {
			n += 1 + max(1, base64.StdEncoding.EncodedLen(len(c.Data)))
		}
	case VerbAuthResponse:
		n += base64.StdEncoding.EncodedLen(len(c.Data))
		if c.Cancel {
			n++
		}
	case VerbRaw:
		if c.isRawBytes() {
			return len(c.Data)
		}
		n += len(c.Arg)
	case VerbBdat:
		n += len("BDAT ") + len(c.Arg)
		if c.Last() {
			n += len(" LAST")
		}
	default:
		if c.Verb < numVerbs {
			n += len(verbNames[c.Verb])
		}
		if c.Arg != "" {
			n += 1 + len(c.Arg)
		}
	}
	return n
}

// ValidHelloName reports whether name may follow EHLO, HELO or LHLO (RFC
// 5321 §4.1.1.1 and §4.1.3): a Domain (dot-separated labels of letters,
// digits and inner hyphens, each at most 63 octets, 255 in all) or an
// address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]", or a
// standardized-tag literal "[tag:content]").
func ValidHelloName(name string) bool {
	if strings.HasPrefix(name, "[") {
		return validAddressLiteral(name)
	}
	if name == "" || len(name) > 255 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if !validLabel(label) {
			return false
		}
	}
	return true
}

// validLabel: sub-domain = Let-dig [Ldh-str] (RFC 5321 §4.1.2), at most
// 63 octets (RFC 1035 §2.3.4).
func validLabel(l string) bool {
	if l == "" || len(l) > 63 || !isAlnum(l[0]) || !isAlnum(l[len(l)-1]) {
		return false
	}
	for i := 0; i < len(l); i++ {
		if !isAlnum(l[i]) && l[i] != '-' {
			return false
		}
	}
	return true
}

// validAddressLiteral: "[" ( IPv4-address-literal / IPv6-address-literal
// / General-address-literal ) "]" (RFC 5321 §4.1.3).
func validAddressLiteral(s string) bool {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	inner := s[1 : len(s)-1]
	if a, err := netip.ParseAddr(inner); err == nil {
		return a.Is4()
	}
	tag, content, ok := strings.Cut(inner, ":")
	if !ok || content == "" {
		return false
	}
	if strings.EqualFold(tag, "IPv6") {
		a, err := netip.ParseAddr(content)
		return err == nil && a.Is6() && a.Zone() == ""
	}
	if !isKeyword(tag) || tag[len(tag)-1] == '-' { // Standardized-tag = Ldh-str
		return false
	}
	for i := 0; i < len(content); i++ { // dcontent = %d33-90 / %d94-126
		if b := content[i]; b < 33 || b > 126 || b >= 91 && b <= 93 {
			return false
		}
	}
	return true
}
