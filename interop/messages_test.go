//go:build interop

package interop

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// message is one test message: raw is what the client is given, want what must be stored.
type message struct {
	name     string
	raw      []byte
	want     []byte
	eightBit bool // needs BODY=8BITMIME
	large    bool // streamed through a reader that hides its size
}

// arrived is the reference for what a message must be on arrival, written independently of
// package codec: every CRLF, bare LF and bare CR becomes one CRLF, and a final CRLF is added
// to a non-empty message that lacks one. (Dot-stuffing is undone by the server.)
func arrived(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+len(raw)/16+2)
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '\r':
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
			out = append(out, '\r', '\n')
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// header builds a header block with the envelope in it, for SendMessage.
func header(eol, from string, to []string, subject string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Postwire Interop <%s>%s", from, eol)
	fmt.Fprintf(&b, "To: %s%s", strings.Join(to, ", "), eol)
	fmt.Fprintf(&b, "Subject: postwire interop: %s%s", subject, eol)
	b.WriteString("Message-ID: <" + strings.ReplaceAll(from, "@", ".") + "@postwire.test>" + eol)
	for _, h := range extra {
		b.WriteString(h + eol)
	}
	b.WriteString(eol)
	return b.String()
}

// corpus returns the messages every server gets, addressed from sender to rcpts. With
// eightBit false (a server without 8BITMIME) the 8-bit message is left out.
func corpus(sender string, rcpts []string, eightBit bool) []message {
	msgs := smallCorpus(sender, rcpts, eightBit)
	large := largeBody(header("\r\n", sender, rcpts, "large streamed"), 5<<20)
	return append(msgs, message{name: "large-5MiB", raw: large, want: arrived(large), large: true})
}

// smallCorpus is the corpus without its large message, cheap enough to build per message of
// a thousand-message batch.
func smallCorpus(sender string, rcpts []string, eightBit bool) []message {
	h := func(subject string, extra ...string) string {
		return header("\r\n", sender, rcpts, subject, extra...)
	}
	var msgs []message
	add := func(name, raw string, want string) {
		m := message{name: name, raw: []byte(raw)}
		if want != "" {
			m.want = []byte(want)
		} else {
			m.want = arrived(m.raw)
		}
		msgs = append(msgs, m)
	}

	add("plain", h("plain")+"Hello from postwire.\r\n\r\nA second paragraph.\r\n", "")

	// Dot-stuffing torture: every kind of line starting with '.', a lone "." mid-message, a
	// CRLF.CRLF that must not end the data, and a last line "." without a final CRLF.
	dots := h("dots") + ".\r\n..\r\n...\r\n.leading dot\r\n..two leading dots\r\n" +
		"trailing dot.\r\n .space first\r\n.\t tab\r\nmiddle\r\n.\r\nafter a lone dot\r\n" +
		"\r\n.\r\n\r\n" + "x\r\n.\r\n.\r\ny\r\n" + "."
	add("dots", dots, "")

	// Bare LF and bare CR, in the header block and the body, including the SMTP smuggling
	// shapes "\n.\n" and "\r\n.\n" that must not end the data early.
	bare := header("\n", sender, rcpts, "bare line endings") +
		"line one\nline two\r\nline three\rline four\n.\nafter bare-LF dot\r\n.\nlast"
	wantBare := strings.ReplaceAll(header("\n", sender, rcpts, "bare line endings"), "\n", "\r\n") +
		"line one\r\nline two\r\nline three\r\nline four\r\n.\r\nafter bare-LF dot\r\n.\r\nlast\r\n"
	add("bare-lf", bare, wantBare)

	add("no-final-crlf", h("no final CRLF")+"the body ends without a line break", "")

	add("long-line", h("long line")+strings.Repeat("0123456789", 99)+"abcdefgh\r\n."+strings.Repeat("x", 997)+"\r\n", "")

	add("header-only", h("header only"), "")

	if eightBit {
		add("8bit-utf8", h("8-bit UTF-8", "MIME-Version: 1.0",
			"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit")+
			"Grüße aus Zürich, ça va? Ελληνικά, русский, 日本語, 한국어, emoji 📬.\r\n.ünïcode after a dot\r\n", "")
		msgs[len(msgs)-1].eightBit = true
	}
	return msgs
}

// largeBody returns a deterministic message of about n bytes: lines of varied length, some
// starting with dots, some ending in bare LF or bare CR, so that line endings and stuffing
// cross the boundaries of the reader's and the writer's chunks.
func largeBody(head string, n int) []byte {
	b := make([]byte, 0, n+200)
	b = append(b, head...)
	state := uint32(2463534242)
	next := func() uint32 { // xorshift32
		state ^= state << 13
		state ^= state >> 17
		state ^= state << 5
		return state
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-_=:;,"
	for i := 0; len(b) < n; i++ {
		if i%7 == 0 {
			b = append(b, '.')
		}
		if i%31 == 0 {
			b = append(b, '.', '.')
		}
		l := int(next() % 200)
		for j := 0; j < l; j++ {
			b = append(b, alphabet[next()%uint32(len(alphabet))])
		}
		switch next() % 10 {
		case 0:
			b = append(b, '\n')
		case 1:
			b = append(b, '\r')
		default:
			b = append(b, '\r', '\n')
		}
	}
	return b
}

// oddReader hides the size of the body (so it is streamed, without SIZE) and returns it in
// odd-sized pieces, 4093 bytes at most, so CR/LF pairs and ".": line starts fall across reads.
type oddReader struct {
	b []byte
	n int
}

func (r *oddReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	r.n++
	k := min(len(p), len(r.b), 4093-(r.n%3)*1000)
	copy(p, r.b[:k])
	r.b = r.b[k:]
	return k, nil
}

// body returns the reader a message is sent from: a *bytes.Reader (size known, so SIZE is
// sent when offered) or, for the large message, an oddReader.
func (m message) body() io.Reader {
	if m.large {
		return &oddReader{b: m.raw}
	}
	return bytes.NewReader(m.raw)
}
