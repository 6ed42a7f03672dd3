package smtptest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/postwire/postwire/session/smtptest"
)

// BenchmarkTransaction measures one pipelined transaction with a 10 KiB
// body through the server (Config.Discard) over transport.Pipe.
func BenchmarkTransaction(b *testing.B) {
	s := smtptest.NewServer(smtptest.Config{Discard: true})
	defer s.Close()
	c := newClient(b, s.Pipe())
	c.conn.SetDeadline(time.Time{})
	c.reply()
	c.cmd("EHLO bench")
	body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 160)
	envelope := "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c.write(envelope)
		c.reply()
		c.reply()
		c.reply()
		c.write(body + ".\r\n")
		if r := c.reply(); !strings.HasPrefix(r, "250") {
			b.Fatalf("final reply %q", r)
		}
	}
}
