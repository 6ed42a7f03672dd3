package protocol

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Verb names an SMTP/LMTP command. The zero value VerbNone is not a command.
type Verb uint8

// The verbs. VerbEndData is the pseudo-command for the "." that ends a DATA
// body (queued by EndBody); VerbRaw is a whole command line given by the
// caller (smtplib's docmd).
const (
	VerbNone Verb = iota
	VerbHelo
	VerbEhlo
	VerbLhlo
	VerbStartTLS
	VerbAuth
	VerbAuthResponse
	VerbMail
	VerbRcpt
	VerbData
	VerbEndData
	VerbBdat
	VerbRset
	VerbVrfy
	VerbExpn
	VerbHelp
	VerbNoop
	VerbQuit
	VerbRaw
	numVerbs
)

var verbNames = [numVerbs]string{
	VerbNone:         "NONE",
	VerbHelo:         "HELO",
	VerbEhlo:         "EHLO",
	VerbLhlo:         "LHLO",
	VerbStartTLS:     "STARTTLS",
	VerbAuth:         "AUTH",
	VerbAuthResponse: "AUTH-RESPONSE",
	VerbMail:         "MAIL",
	VerbRcpt:         "RCPT",
	VerbData:         "DATA",
	VerbEndData:      "END-OF-DATA",
	VerbBdat:         "BDAT",
	VerbRset:         "RSET",
	VerbVrfy:         "VRFY",
	VerbExpn:         "EXPN",
	VerbHelp:         "HELP",
	VerbNoop:         "NOOP",
	VerbQuit:         "QUIT",
	VerbRaw:          "RAW",
}

// String returns the command's name ("MAIL", "END-OF-DATA", ...).
func (v Verb) String() string {
	if v < numVerbs {
		return verbNames[v]
	}
	return "Verb(" + strconv.Itoa(int(v)) + ")"
}

// Param is one ESMTP parameter of MAIL or RCPT (RFC 5321 §4.1.2
// esmtp-param). An empty Value means the keyword stands alone (SMTPUTF8).
type Param struct {
	Key   string // esmtp-keyword: a letter or digit, then letters, digits or '-'
	Value string // esmtp-value: printable ASCII except '=' ; "" = keyword only
}

// Command is one command to send. Build it with the constructors (Ehlo,
// Mail, ...); the fields are exported so that events can be compared as
// plain values.
type Command struct {
	Verb Verb
	// Arg is the EHLO/HELO/LHLO domain; the address WITHOUT angle brackets
	// for MAIL and RCPT ("" in MAIL is the null reverse-path <>); the AUTH
	// mechanism; the VRFY/EXPN/HELP/NOOP argument; for VerbRaw the whole
	// line without CRLF; for VerbBdat the chunk size in decimal.
	Arg string
	// Params are the ESMTP parameters of MAIL and RCPT; for VerbBdat
	// {Key: "LAST"} marks the last chunk.
	Params []Param
	// Data is the AUTH initial response or the answer to a 334 challenge,
	// raw: the core base64-encodes it. For AUTH nil means no initial
	// response and a non-nil empty slice sends "=" (RFC 4954). For
	// VerbRaw (RawBytes) it is the bytes to send as they are.
	Data []byte
	// Cancel, for VerbAuthResponse, sends "*" to cancel the exchange.
	Cancel bool
	// Replies is, for raw bytes (RawBytes), how many replies they ask
	// for, so that the ledger matches every reply that comes back. It is
	// 0 for every other command (one reply each).
	Replies int
}

// Helo returns HELO domain (RFC 5321 §4.1.1.1).
func Helo(domain string) Command { return Command{Verb: VerbHelo, Arg: domain} }

// Ehlo returns EHLO domain (RFC 5321 §4.1.1.1).
func Ehlo(domain string) Command { return Command{Verb: VerbEhlo, Arg: domain} }

// Lhlo returns LHLO domain (RFC 2033 §4.1), LMTP's EHLO.
func Lhlo(domain string) Command { return Command{Verb: VerbLhlo, Arg: domain} }

// StartTLS returns STARTTLS (RFC 3207).
func StartTLS() Command { return Command{Verb: VerbStartTLS} }

// Auth returns AUTH mechanism [initial-response] (RFC 4954). A nil
// initialResponse sends none; an empty non-nil one sends "=".
func Auth(mechanism string, initialResponse []byte) Command {
	return Command{Verb: VerbAuth, Arg: mechanism, Data: initialResponse}
}

// AuthResponse returns the answer to a 334 challenge; resp is sent
// base64-encoded (an empty resp sends an empty line).
func AuthResponse(resp []byte) Command { return Command{Verb: VerbAuthResponse, Data: resp} }

// AuthCancel returns the "*" line that cancels an AUTH exchange.
func AuthCancel() Command { return Command{Verb: VerbAuthResponse, Cancel: true} }

// Mail returns MAIL FROM:<from> [params]; from "" is the null reverse-path.
func Mail(from string, p ...Param) Command { return Command{Verb: VerbMail, Arg: from, Params: p} }

// Rcpt returns RCPT TO:<to> [params].
func Rcpt(to string, p ...Param) Command { return Command{Verb: VerbRcpt, Arg: to, Params: p} }

// Data returns DATA.
func Data() Command { return Command{Verb: VerbData} }

// Rset returns RSET.
func Rset() Command { return Command{Verb: VerbRset} }

// Noop returns NOOP.
func Noop() Command { return Command{Verb: VerbNoop} }

// Quit returns QUIT.
func Quit() Command { return Command{Verb: VerbQuit} }

// Vrfy returns VRFY arg.
func Vrfy(arg string) Command { return Command{Verb: VerbVrfy, Arg: arg} }

// Expn returns EXPN arg.
func Expn(arg string) Command { return Command{Verb: VerbExpn, Arg: arg} }

// Help returns HELP [arg].
func Help(arg string) Command { return Command{Verb: VerbHelp, Arg: arg} }

// Raw returns a command line sent as is (plus CRLF), like smtplib's docmd.
// The core checks it for control characters only and does not interpret
// it: the state does not change when it is sent or answered.
func Raw(line string) Command { return Command{Verb: VerbRaw, Arg: line} }

// RawBytes returns bytes sent exactly as given (no CRLF added, nothing
// checked but that there are some): the escape hatch for what no other
// Command can say, such as several pipelined lines written by hand.
// replies (at least 1) is how many replies the bytes ask for; the ledger
// matches that many to this Handle (Event.Done on the last), so the
// replies after it stay in step. Like Raw it changes no state, ends a
// pipelining group, and is refused where Raw is.
func RawBytes(b []byte, replies int) Command {
	return Command{Verb: VerbRaw, Data: b, Replies: replies}
}

// isRawBytes reports whether c is RawBytes' form of VerbRaw.
func (c Command) isRawBytes() bool { return c.Verb == VerbRaw && c.Data != nil }

// bdat returns the BDAT command for a chunk of n bytes. The size's
// decimal string is kept for the next chunk, which usually has the same
// size, so that a large message costs no allocation per chunk.
func (c *Client) bdat(n int, last bool) Command {
	if n != c.bdatLen || c.bdatArg == "" {
		c.bdatLen, c.bdatArg = n, strconv.Itoa(n)
	}
	cmd := Command{Verb: VerbBdat, Arg: c.bdatArg}
	if last {
		// The Client's own, not a package variable: a caller writing
		// into an Event's Params spoils nothing beyond this check.
		if c.lastParam[0] != (Param{Key: "LAST"}) {
			c.lastParam[0] = Param{Key: "LAST"}
		}
		cmd.Params = c.lastParam[:]
	}
	return cmd
}

// Last reports whether c is a BDAT command carrying LAST: the end of the
// message, whose reply (LMTP: replies) says whether it was accepted.
func (c Command) Last() bool {
	return c.Verb == VerbBdat && len(c.Params) == 1 && strings.EqualFold(c.Params[0].Key, "LAST")
}

// AppendWire appends the command line, CRLF included, to b.
//
// It refuses, with an error wrapping ErrLineBreak (CR or LF) or
// ErrInvalidArgument, every C0 control character and DEL in any argument;
// '<', '>' and spaces in MAIL/RCPT addresses (they would smuggle ESMTP
// parameters); parameter keywords that are not RFC 5321 esmtp-keywords and
// values holding '=', spaces or controls; missing and superfluous
// arguments; and a non-ASCII MAIL address unless the command carries the
// SMTPUTF8 parameter. A non-ASCII RCPT address is checked by Client.Send,
// which knows the transaction. VerbEndData is refused (use
// Client.EndBody). On error b is returned unchanged.
func (c Command) AppendWire(b []byte) ([]byte, error) {
	if err := c.validate(); err != nil {
		return b, err
	}
	return c.appendWire(b), nil
}

// Validate returns the error AppendWire would return, without encoding:
// the checks of the command on its own (Client.Send adds those that
// depend on the conversation).
func (c Command) Validate() error { return c.validate() }

// appendWire encodes a validated command.
func (c Command) appendWire(b []byte) []byte {
	switch c.Verb {
	case VerbMail:
		b = append(b, "MAIL FROM:<"...)
		b = append(b, c.Arg...)
		b = append(b, '>')
		b = appendParams(b, c.Params)
	case VerbRcpt:
		b = append(b, "RCPT TO:<"...)
		b = append(b, c.Arg...)
		b = append(b, '>')
		b = appendParams(b, c.Params)
	case VerbAuth:
		b = append(b, "AUTH "...)
		b = append(b, c.Arg...)
		if c.Data != nil {
			b = append(b, ' ')
			if len(c.Data) == 0 {
				b = append(b, '=')
			} else {
				b = base64.StdEncoding.AppendEncode(b, c.Data)
			}
		}
	case VerbAuthResponse:
		if c.Cancel {
			b = append(b, '*')
		} else {
			b = base64.StdEncoding.AppendEncode(b, c.Data)
		}
	case VerbRaw:
		if c.isRawBytes() {
			return append(b, c.Data...) // sent as given: the caller's line endings
		}
		b = append(b, c.Arg...)
	case VerbBdat:
		b = append(b, "BDAT "...)
		b = append(b, c.Arg...)
		if c.Last() {
			b = append(b, " LAST"...)
		}
	default:
		b = append(b, verbNames[c.Verb]...)
		if c.Arg != "" {
			b = append(b, ' ')
			b = append(b, c.Arg...)
		}
	}
	return append(b, '\r', '\n')
}

func appendParams(b []byte, ps []Param) []byte {
	for _, p := range ps {
		b = append(b, ' ')
		b = append(b, p.Key...)
		if p.Value != "" {
			b = append(b, '=')
			b = append(b, p.Value...)
		}
	}
	return b
}

// String renders the command for debug logs, without CRLF. AUTH initial
// responses and challenge answers (also in a Raw "AUTH mech ..." line) are
// shown as "[redacted]". Characters
// that AppendWire would refuse are shown quoted.
func (c Command) String() string {
	if c.Verb == VerbRaw && c.isRawBytes() {
		return "[" + strconv.Itoa(len(c.Data)) + " raw bytes]"
	}
	switch c.Verb {
	case VerbAuth:
		s := "AUTH " + safe(c.Arg)
		if c.Data != nil {
			s += " [redacted]"
		}
		return s
	case VerbAuthResponse:
		if c.Cancel {
			return "*"
		}
		return "[redacted]"
	case VerbEndData:
		return "."
	case VerbRaw:
		if len(c.Arg) > 5 && strings.EqualFold(c.Arg[:5], "AUTH ") {
			if mech, _, more := strings.Cut(c.Arg[5:], " "); more {
				return safe(c.Arg[:5]+mech) + " [redacted]"
			}
		}
	case VerbNone:
		return "NONE"
	}
	if c.Verb >= numVerbs {
		return c.Verb.String()
	}
	safeC := c
	safeC.Arg = safe(c.Arg)
	if len(c.Params) > 0 {
		safeC.Params = make([]Param, len(c.Params))
		for i, p := range c.Params {
			safeC.Params[i] = Param{safe(p.Key), safe(p.Value)}
		}
	}
	b := safeC.appendWire(nil)
	return string(b[:len(b)-2])
}

// safe quotes s when it holds control characters or invalid UTF-8.
func safe(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			q := strconv.Quote(s)
			return q[1 : len(q)-1]
		}
	}
	if !utf8.ValidString(s) {
		q := strconv.Quote(s)
		return q[1 : len(q)-1]
	}
	return s
}
