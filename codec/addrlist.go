package codec

import (
	"errors"
	"strings"
)

// This file is the fallback address-list parser of ParseEnvelope, used when
// net/mail refuses a field. It reads malformed-but-common headers the way
// Python's email.utils.getaddresses (and so smtplib's send_message) does,
// except where that would guess: see lenientList.

// Causes of the lenient parser's errors; each comes inside a *HeaderError.
var (
	errUnclosed  = errors.New("unclosed quoted string, comment or domain literal")
	errStray     = errors.New("stray special character outside an address")
	errAmbiguous = errors.New("more than one address in one list item")
	errPhrase    = errors.New("display name without an address")
	errRoute     = errors.New("malformed source route")
	errManyAt    = errors.New("more than one '@' in an address")
	errDomain    = errors.New("white space or a quoted string in a domain")
)

type tokKind uint8

const (
	tokWord    tokKind = iota // atom or domain literal, as written
	tokEncoded                // RFC 2047 encoded word
	tokQuoted                 // quoted string, quotes and escapes as written
	tokSpace                  // white space or a comment
	tokSpecial                // one of , ; : < > @ .
)

type token struct {
	kind tokKind
	text string
}

func (t token) is(special byte) bool {
	return t.kind == tokSpecial && t.text[0] == special
}

// atomEnd reports whether c ends an atom. CR, LF and other controls do
// not: they stay inside the word, so that CheckAddress refuses them.
func atomEnd(c byte) bool {
	return c == ' ' || c == '\t' || strings.IndexByte(`()<>@,;:".[]`, c) >= 0
}

// tokenize splits a field value into tokens; runs of white space and
// comments become one tokSpace.
func tokenize(v string) ([]token, error) {
	var toks []token
	space := func() {
		if len(toks) == 0 || toks[len(toks)-1].kind != tokSpace {
			toks = append(toks, token{tokSpace, " "})
		}
	}
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t':
			space()
			i++
		case c == '(':
			j, ok := commentEnd(v, i)
			if !ok {
				return nil, errUnclosed
			}
			space()
			i = j
		case c == '"' || c == '[':
			j, ok := delimEnd(v, i)
			if !ok {
				return nil, errUnclosed
			}
			kind := tokWord
			if c == '"' {
				kind = tokQuoted
			}
			toks = append(toks, token{kind, v[i:j]})
			i = j
		case c == ')' || c == ']':
			return nil, errStray
		case atomEnd(c):
			toks = append(toks, token{tokSpecial, v[i : i+1]})
			i++
		default:
			if n := encodedWordLen(v[i:]); n > 0 {
				toks = append(toks, token{tokEncoded, v[i : i+n]})
				i += n
				continue
			}
			j := i
			for j < len(v) && !atomEnd(v[j]) {
				j++
			}
			toks = append(toks, token{tokWord, v[i:j]})
			i = j
		}
	}
	return toks, nil
}

// commentEnd returns the index just after the comment starting at v[i]
// ('('), which may nest and holds backslash escapes.
func commentEnd(v string, i int) (int, bool) {
	depth := 0
	for ; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// delimEnd returns the index just after the quoted string or domain
// literal starting at v[i], honouring backslash escapes.
func delimEnd(v string, i int) (int, bool) {
	end := byte('"')
	if v[i] == '[' {
		end = ']'
	}
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case end:
			return i + 1, true
		}
	}
	return 0, false
}

// maxEncodedWord is RFC 2047's limit on an encoded word's length; it also
// bounds the look-ahead, so that scanning stays linear in the field.
const maxEncodedWord = 75

// encodedWordLen returns the length of the RFC 2047 encoded word
// "=?charset?encoding?text?=" at the start of s, or 0. Such a word is kept
// whole even when its text holds a comma, which RFC 2047 forbids in a
// phrase but mailers write anyway (Python splits the word there).
func encodedWordLen(s string) int {
	if !strings.HasPrefix(s, "=?") {
		return 0
	}
	parts := 0 // '?'s seen after "=?": charset?encoding?text?=
	for i := 2; i < len(s) && i < maxEncodedWord; i++ {
		c := s[i]
		if c <= ' ' || c > '~' {
			return 0
		}
		if c != '?' {
			continue
		}
		if s[i-1] == '?' { // an empty charset, encoding or text
			return 0
		}
		if parts < 2 {
			parts++
			continue
		}
		if i+1 < len(s) && s[i+1] == '=' {
			return i + 2
		}
		return 0
	}
	return 0
}

// lenientList parses an address list that net/mail refused. It returns the
// addr-specs in order, with "" for an explicit empty angle-addr ("<>"),
// and does not check them with CheckAddress (the caller does).
//
// It accepts what getaddresses accepts: bare local parts ("Jeff"), display
// names with unquoted dots ("John Q. Public <jqp@example.com>"), a missing
// '>' at the end of an item, empty items and trailing commas (they add
// nothing), groups (nested, or without their ';'), comments anywhere,
// source routes ("<@relay:a@example.com>"), white space around '@' and
// '.' (RFC 5322's obsolete syntax).
//
// It refuses what getaddresses's strict mode refuses too, or where its
// answer would be a guess: two addresses in one item ("a@example.com
// <b@example.com>", "<a@example.com> Bob"), a ';' outside a group, anything
// but ',' or ';' after a group's ';', a '>' or ':' outside an angle-addr,
// an unclosed quote, comment or domain literal, a display name with no
// address ("John Smith", which Python sends as RCPT TO:<John>), two '@' in
// one address.
func lenientList(v string) ([]string, error) {
	toks, err := tokenize(v)
	if err != nil {
		return nil, err
	}
	var (
		out     []string
		item    []token
		depth   int  // open groups
		inAngle bool // after '<' in the current item
		closed  bool // a group just ended: only ',' or ';' may follow
	)
	flush := func() error {
		a, ok, err := itemAddress(item)
		item, inAngle = item[:0], false
		if ok {
			out = append(out, a)
		}
		return err
	}
	for _, t := range toks {
		switch {
		case t.is(','):
			if err := flush(); err != nil {
				return nil, err
			}
			closed = false
			continue
		case t.is(';'):
			if depth == 0 {
				return nil, errStray
			}
			if err := flush(); err != nil {
				return nil, err
			}
			depth--
			closed = true
			continue
		case t.kind == tokSpace:
		case closed:
			return nil, errStray // "G: a@example.com; b@example.org"
		case t.is(':') && !inAngle && phraseOnly(item):
			depth++ // a group's name: its members follow
			item = item[:0]
			continue
		case t.is('<'):
			inAngle = true
		case t.is('>'):
			inAngle = false
		}
		item = append(item, t)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// phraseOnly reports whether toks are words, dots and spaces only: a
// display name or a group name.
func phraseOnly(toks []token) bool {
	for _, t := range toks {
		if t.kind == tokSpecial && !t.is('.') {
			return false
		}
	}
	return true
}

// trimSpace drops tokSpace tokens at both ends.
func trimSpace(toks []token) []token {
	for len(toks) > 0 && toks[0].kind == tokSpace {
		toks = toks[1:]
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == tokSpace {
		toks = toks[:len(toks)-1]
	}
	return toks
}

// itemAddress returns the address of one list item; ok is false for an
// empty item.
func itemAddress(item []token) (addr string, ok bool, err error) {
	item = trimSpace(item)
	if len(item) == 0 {
		return "", false, nil
	}
	lt := -1
	for i, t := range item {
		if t.is('<') {
			lt = i
			break
		}
	}
	if lt < 0 {
		a, err := addrSpec(item)
		return a, err == nil, err
	}
	if !phraseOnly(item[:lt]) {
		return "", false, errAmbiguous // "a@example.com <b@example.com>"
	}
	inner := item[lt+1:]
	for i, t := range inner {
		if t.is('>') {
			if len(trimSpace(inner[i+1:])) > 0 {
				return "", false, errAmbiguous // "<a@example.com> Bob"
			}
			inner = inner[:i]
			break
		}
	}
	inner, err = stripRoute(trimSpace(inner))
	if err != nil {
		return "", false, err
	}
	if len(inner) == 0 {
		return "", true, nil // "<>"
	}
	a, err := addrSpec(inner)
	return a, err == nil, err
}

// stripRoute drops an obsolete source route "@relay:" before an addr-spec.
func stripRoute(toks []token) ([]token, error) {
	if len(toks) == 0 || !toks[0].is('@') {
		return toks, nil
	}
	for i, t := range toks {
		if t.is(':') {
			return trimSpace(toks[i+1:]), nil
		}
	}
	return nil, errRoute
}

// addrSpec joins the tokens of an addr-spec, or of a bare local part when
// there is no '@'. White space next to '@' or '.' is dropped (RFC 5322's
// obsolete CFWS there); other white space in the local part is kept, for
// CheckAddress to refuse. A bare local part is atoms and dots ("Jeff",
// "j.doe") or one quoted string, which stands for its content as in
// Python; a domain is atoms, dots and domain literals.
func addrSpec(toks []token) (string, error) {
	at := -1
	for i, t := range toks {
		switch {
		case t.is('@') && at >= 0:
			return "", errManyAt
		case t.is('@'):
			at = i
		case t.kind == tokSpecial && !t.is('.'):
			return "", errStray // '<', '>' or ':' where no address has them
		}
	}
	if at < 0 {
		return bareLocalPart(toks)
	}
	for _, t := range toks[at+1:] {
		if t.kind == tokQuoted {
			return "", errDomain
		}
	}
	var b strings.Builder
	for i, t := range toks {
		if t.kind == tokSpace && (toks[i-1].kind == tokSpecial || toks[i+1].kind == tokSpecial) {
			continue // toks is trimmed: a space has tokens on both sides
		}
		if t.kind == tokSpace && i > at {
			return "", errDomain // Python joins "exam ple.com" into one name
		}
		b.WriteString(t.text)
	}
	return b.String(), nil
}

// bareLocalPart is addrSpec without an '@' ("Jeff"), which smtplib sends
// as RCPT TO:<Jeff>. An encoded word there is a display name whose
// address is missing (Python would send it as the address).
func bareLocalPart(toks []token) (string, error) {
	if len(toks) == 1 && toks[0].kind == tokQuoted {
		return unquote(toks[0].text), nil
	}
	var b strings.Builder
	for _, t := range toks {
		if t.kind != tokWord && !t.is('.') {
			return "", errPhrase // "John Smith": Python keeps only "John"
		}
		b.WriteString(t.text)
	}
	if !strings.ContainsFunc(b.String(), func(r rune) bool { return r != '.' }) {
		return "", errPhrase // dots alone
	}
	return b.String(), nil
}

// unquote returns the content of a quoted string, escapes resolved.
func unquote(q string) string {
	q = q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '\\' && i+1 < len(q) {
			i++
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
