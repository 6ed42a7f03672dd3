package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
)

// maxHeld is the largest message that -count or -pool hold in memory.
const maxHeld = 16 << 20

// errTooBig: the message is larger than maxHeld and must be held.
var errTooBig = errors.New("the message is larger than 16 MiB, the most -count and -pool hold in memory")

// readError: reading the message from standard input failed.
type readError struct{ err error }

func (e *readError) Error() string { return "reading the message: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// inputReader marks standard input's errors as *readError, so that they
// are told apart from the connection's after the session returns them.
type inputReader struct{ r io.Reader }

func (r inputReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

// message is what to send: held in memory (built, or read for a load
// test), or streamed from standard input.
type message struct {
	bytes  []byte
	stream io.Reader // nil when held
}

func (m message) reader() io.Reader {
	if m.stream != nil {
		return m.stream
	}
	return bytes.NewReader(m.bytes)
}

// message returns the message the flags ask for, warning on standard error
// when standard input holds nothing. It is read before connecting, so a
// slow writer does not keep the server waiting (only its first byte when
// it is streamed).
func (c *config) message(sio stdio) (message, error) {
	if c.build {
		return message{bytes: c.testMessage(time.Now(), messageID(c.from))}, nil
	}
	in := bufio.NewReader(inputReader{sio.in})
	if _, err := in.Peek(1); err == io.EOF {
		fmt.Fprintln(sio.err, "sendmail: warning: the message on standard input is empty")
	} else if err != nil {
		return message{}, err
	}
	if c.count == 1 && c.pool == 1 {
		return message{stream: in}, nil
	}
	b, err := io.ReadAll(io.LimitReader(in, maxHeld+1))
	if err != nil {
		return message{}, err
	}
	if len(b) > maxHeld {
		return message{}, errTooBig
	}
	return message{bytes: b}, nil
}

// testMessage builds the message of -subject and -body, with the headers
// swaks gives its test messages.
func (c *config) testMessage(now time.Time, id string) []byte {
	date := now.Format(time.RFC1123Z) // RFC 5322's date-time
	subject, body := c.subject, c.body
	if subject == "" {
		subject = "test " + date
	}
	if body == "" {
		body = "This is a test mailing"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "Date: %s\r\nFrom: %s\r\nTo: %s\r\n", date, c.from, strings.Join(c.to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\nMessage-ID: %s\r\n", mime.QEncoding.Encode("utf-8", subject), id)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n")
	if !isASCII(body) {
		b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	}
	b.WriteString("\r\n")
	for line := range strings.Lines(body) {
		b.WriteString(strings.TrimRight(line, "\r\n"))
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// messageID returns a new unique Message-ID in the sender's domain.
func messageID(from string) string {
	var r [12]byte
	rand.Read(r[:]) // never fails (crypto/rand, Go 1.24)
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = from[i+1:]
	}
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">"
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
