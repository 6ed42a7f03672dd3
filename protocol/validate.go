package protocol

import (
	"strings"

	"github.com/postwire/postwire/codec"
)

// validate checks everything about a command that does not depend on the
// conversation: characters, argument syntax, parameter syntax, and the
// line length no server could accept (the highest limit, as if every
// extension that raises it were advertised; Extensions.Permits applies
// the server's).
func (c Command) validate() error {
	if err := c.validateSyntax(); err != nil {
		return err
	}
	return c.checkLength(anyExtension)
}

func (c Command) validateSyntax() error {
	if err := checkText(c.Arg); err != nil {
		return err
	}
	for _, p := range c.Params {
		if err := checkText(p.Key); err != nil {
			return err
		}
		if err := checkText(p.Value); err != nil {
			return err
		}
	}
	if c.Data != nil && c.Verb != VerbAuth && c.Verb != VerbAuthResponse && c.Verb != VerbRaw {
		return invalidArg("only AUTH and raw bytes carry data")
	}
	if c.Replies != 0 && !c.isRawBytes() {
		return invalidArg("only raw bytes say how many replies they ask for")
	}
	if c.Cancel && (c.Verb != VerbAuthResponse || len(c.Data) > 0) {
		return invalidArg("cancel is an AUTH response without data")
	}
	switch c.Verb {
	case VerbHelo, VerbEhlo, VerbLhlo:
		if !ValidHelloName(c.Arg) {
			return invalidArg("hello needs a domain or an address literal: " + safe(c.Arg))
		}
		return noParams(c)
	case VerbStartTLS, VerbData, VerbRset, VerbQuit, VerbAuthResponse:
		if c.Arg != "" {
			return invalidArg(c.Verb.String() + " takes no argument")
		}
		return noParams(c)
	case VerbAuth:
		if !isMechanism(c.Arg) {
			return invalidArg("bad SASL mechanism name")
		}
		return noParams(c)
	case VerbMail:
		if c.Arg != "" {
			if err := checkAddr(c.Arg); err != nil {
				return err
			}
		}
		if err := checkParams(c.Params); err != nil {
			return err
		}
		if !codec.IsASCII(c.Arg) && !hasParam(c.Params, "SMTPUTF8") {
			return invalidArg("non-ASCII reverse-path needs the SMTPUTF8 parameter")
		}
		return nil
	case VerbRcpt:
		if c.Arg == "" {
			return invalidArg("RCPT needs an address")
		}
		if err := checkAddr(c.Arg); err != nil {
			return err
		}
		return checkParams(c.Params)
	case VerbRaw:
		if c.isRawBytes() {
			if c.Arg != "" || len(c.Data) == 0 || c.Replies < 1 {
				return invalidArg("raw bytes need bytes and at least one reply")
			}
			return noParams(c)
		}
		if c.Arg == "" {
			return invalidArg("RAW needs an argument")
		}
		return noParams(c)
	case VerbVrfy, VerbExpn:
		if c.Arg == "" {
			return invalidArg(c.Verb.String() + " needs an argument")
		}
		return noParams(c)
	case VerbHelp, VerbNoop:
		return noParams(c)
	case VerbBdat:
		if c.Arg == "" || len(c.Arg) > 18 || strings.Trim(c.Arg, "0123456789") != "" {
			return invalidArg("BDAT size must be decimal")
		}
		if len(c.Params) > 1 || len(c.Params) == 1 && !c.Last() || len(c.Params) == 1 && c.Params[0].Value != "" {
			return invalidArg("BDAT takes only LAST")
		}
		return nil
	}
	return invalidArg("not a command verb: " + c.Verb.String())
}

func noParams(c Command) error {
	if len(c.Params) > 0 {
		return invalidArg(c.Verb.String() + " takes no parameters")
	}
	return nil
}

// checkText refuses C0 controls and DEL: CR and LF as ErrLineBreak, the
// rest as ErrInvalidArgument.
func checkText(s string) error {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '\r' || b == '\n':
			return &argError{"CR or LF in argument", ErrLineBreak, nil}
		case b < 0x20 || b == 0x7f:
			return invalidArg("control character in argument")
		}
	}
	return nil
}

// checkParams checks esmtp-keyword and esmtp-value syntax (RFC 5321
// §4.1.2) and refuses duplicate keywords.
func checkParams(ps []Param) error {
	for i, p := range ps {
		if !isKeyword(p.Key) {
			return invalidArg("bad ESMTP parameter keyword " + safe(p.Key))
		}
		for j := 0; j < len(p.Value); j++ {
			if b := p.Value[j]; b <= ' ' || b == '=' || b >= 0x7f {
				return invalidArg("bad ESMTP parameter value for " + p.Key)
			}
		}
		for _, q := range ps[:i] {
			if strings.EqualFold(q.Key, p.Key) {
				return invalidArg("duplicate ESMTP parameter " + p.Key)
			}
		}
	}
	return nil
}

func hasParam(ps []Param, key string) bool {
	for _, p := range ps {
		if strings.EqualFold(p.Key, key) {
			return true
		}
	}
	return false
}

// isKeyword: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
func isKeyword(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

// isMechanism: sasl-mech = 1*20(UPPER-ALPHA / DIGIT / "-" / "_") (RFC
// 4422); lower case is accepted and sent as given.
func isMechanism(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '-' && s[i] != '_' {
			return false
		}
	}
	return true
}

func isAlnum(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// checkAddr refuses what codec.CheckAddress refuses: controls, angle
// brackets and spaces (they would smuggle ESMTP parameters), unbalanced
// quotes, invalid UTF-8. The error wraps both ErrInvalidArgument and the
// codec's *AddressError.
func checkAddr(a string) error {
	if err := codec.CheckAddress(a); err != nil {
		return &argError{"address refused", ErrInvalidArgument, err}
	}
	return nil
}
