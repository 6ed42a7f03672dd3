package bench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Sender is the reverse-path of every benchmark message.
const Sender = "sender@example.org"

// LocalName is what every client sends in EHLO or LHLO (postwire would
// otherwise look up the host's name, which is not what is measured).
const LocalName = "bench.example"

// Recipients returns n forward-paths, rcpt0@example.net and on (Dovecot
// delivers rcptN to its user rcptN).
func Recipients(n int) []string {
	to := make([]string, n)
	for i := range to {
		to[i] = fmt.Sprintf("rcpt%d@example.net", i)
	}
	return to
}

var words = strings.Fields("lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.")

// MakeBody returns a text message of exactly size bytes: a header block,
// then 76-character lines ending in CRLF, every 17th starting with '.' (as
// quoted-printable text may), the last line shorter to fit.
func MakeBody(size int) []byte {
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString("From: Sender <sender@example.org>\r\n" +
		"To: Recipient <rcpt0@example.net>\r\n" +
		"Subject: postwire benchmark message\r\n" +
		"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n" +
		"Message-ID: <bench.1@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n" +
		"\r\n")
	const lineLen = 76
	var line []byte
	for w, n := 0, 0; b.Len() < size; n++ {
		line = line[:0]
		if n%17 == 0 {
			line = append(line, '.')
		}
		for len(line) < lineLen {
			line = append(line, words[w%len(words)]...)
			line = append(line, ' ')
			w++
		}
		line = line[:max(0, min(lineLen, size-b.Len()-2))]
		b.Write(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// MaxRaggedLine is the longest line of RaggedText, without its CRLF.
const MaxRaggedLine = 200

// RaggedText returns about size bytes (never more) of CRLF-terminated lines
// of 0 to MaxRaggedLine characters, uniformly drawn, one in 16 of them
// starting with '.': text where no two lines need be alike, unlike
// MakeBody's. The same size always gives the same text.
func RaggedText(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 0, size)
	for w := 0; ; {
		n := r.IntN(MaxRaggedLine + 1)
		if len(b)+n+2 > size {
			return b
		}
		start := len(b)
		if n > 0 && r.IntN(16) == 0 {
			b = append(b, '.')
		}
		for len(b)-start < n {
			b = append(b, words[w%len(words)]...)
			b = append(b, ' ')
			w++
		}
		b = append(b[:start+n], '\r', '\n')
	}
}
