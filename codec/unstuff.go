package codec

import (
	"bytes"
	"errors"
)

// ErrEarlyTerminator is returned by Unstuff when a line holding only "."
// (the end-of-data mark) appears before the end of its input.
var ErrEarlyTerminator = errors.New("codec: end-of-data line before the end of the stuffed body")

// Unstuff reverses dot-stuffing: it takes the bytes a server receives between
// the 354 reply and the end of data, with or without the final ".\r\n" line,
// and returns the body. A '.' that starts a line is removed (RFC 5321 section
// 4.5.2: ".." becomes "."). Line endings are returned as they are: bare CR
// and bare LF are tolerated, and a bare LF also starts a new line.
//
// A line holding only "." (ending in CRLF or LF) is the terminator; if it is
// not the last line, Unstuff returns the body before it and
// ErrEarlyTerminator. The result never aliases stuffed.
//
// For every body x, Unstuff(AppendStuffed(nil, x)) equals
// NormalizeLineEndings(x).
func Unstuff(stuffed []byte) ([]byte, error) {
	out := make([]byte, 0, len(stuffed))
	for len(stuffed) > 0 {
		// stuffed starts a line here.
		if stuffed[0] == '.' {
			rest := stuffed[1:]
			if bytes.HasPrefix(rest, crlf) || bytes.HasPrefix(rest, lf) {
				end := 1 + len(crlf)
				if rest[0] == '\n' {
					end = 1 + len(lf)
				}
				if end == len(stuffed) {
					return out, nil
				}
				return out, ErrEarlyTerminator
			}
			stuffed = rest
		}
		j := bytes.IndexByte(stuffed, '\n')
		if j < 0 {
			return append(out, stuffed...), nil
		}
		out = append(out, stuffed[:j+1]...)
		stuffed = stuffed[j+1:]
	}
	return out, nil
}

var (
	crlf = []byte("\r\n")
	lf   = []byte("\n")
)

// NormalizeLineEndings returns b with every bare CR and bare LF turned into
// CRLF and, when b is not empty, a final CRLF added if missing: the body as
// AppendStuffed transmits it, before stuffing. The result never aliases b.
func NormalizeLineEndings(b []byte) []byte {
	var s CRLFState
	return s.AppendEnd(s.Append(make([]byte, 0, len(b)+len(b)/32+2), b))
}
