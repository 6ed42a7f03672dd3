package smtptest

import "strings"

// cutPrefixFold cuts prefix from s, ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// parsePath splits `<path> param param` (spaces after the colon are
// tolerated) into the path without its brackets and the parameters. A
// quoted local part may hold '>' and escaped characters. It refuses a
// path without brackets and any control character, space outside quotes,
// or '<' inside the path.
func parsePath(s string) (path string, params []string, ok bool) {
	s = strings.TrimLeft(s, " ")
	if !strings.HasPrefix(s, "<") {
		return "", nil, false
	}
	inQuote, end := false, -1
	for i := 1; i < len(s) && end < 0; i++ {
		switch b := s[i]; {
		case b < 0x20 || b == 0x7f:
			return "", nil, false
		case inQuote && b == '\\':
			i++
		case b == '"':
			inQuote = !inQuote
		case inQuote:
		case b == '>':
			end = i
		case b == '<' || b == ' ':
			return "", nil, false
		}
	}
	if end < 0 {
		return "", nil, false
	}
	path = s[1:end]
	rest := s[end+1:]
	if rest != "" && rest[0] != ' ' {
		return "", nil, false
	}
	for _, f := range strings.Split(rest, " ") {
		if f == "" {
			continue
		}
		for i := 0; i < len(f); i++ {
			if f[i] < 0x20 || f[i] == 0x7f {
				return "", nil, false
			}
		}
		params = append(params, f)
	}
	return path, params, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// validNotify checks a DSN NOTIFY value: NEVER, or a comma list of
// SUCCESS, FAILURE, DELAY (RFC 3461 section 4.1).
func validNotify(v string) bool {
	if strings.EqualFold(v, "NEVER") {
		return true
	}
	if v == "" {
		return false
	}
	for _, p := range strings.Split(v, ",") {
		switch strings.ToUpper(p) {
		case "SUCCESS", "FAILURE", "DELAY":
		default:
			return false
		}
	}
	return true
}

// capBuffer accumulates a message body up to a cap; beyond it the bytes
// are only counted.
type capBuffer struct {
	data    []byte
	size    int64
	max     int64 // cap on len(data)
	over    bool  // size passed max: data is incomplete and dropped
	discard bool  // keep nothing (Config.Discard)
}

func newCapBuffer(cfg *Config) capBuffer {
	return capBuffer{max: cfg.maxMessage(), discard: cfg.Discard}
}

// append adds p, keeping at most max bytes in total.
func (b *capBuffer) append(p []byte) {
	b.size += int64(len(p))
	if b.over || b.discard {
		return
	}
	if b.size > b.max {
		b.over, b.data = true, nil
		return
	}
	b.data = append(b.data, p...)
}

// appendBuffer adds what another capBuffer holds (a BDAT chunk).
func (b *capBuffer) appendBuffer(o *capBuffer) {
	if o.over {
		b.size += o.size
		b.over, b.data = true, nil
		return
	}
	b.append(o.data)
	b.size += o.size - int64(len(o.data)) // o may have counted without keeping (discard)
}
