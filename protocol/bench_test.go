package protocol_test

import (
	"testing"

	"github.com/postwire/postwire/protocol"
)

// A typical 10-line EHLO reply (Postfix-like).
var ehlo10 = []byte("250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n" +
	"250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 CHUNKING\r\n")

var single = []byte("250 2.1.0 Ok\r\n")

// benchReply measures parsing one reply matched to a pending NOOP: the
// reply parser and the FIFO, without extension parsing.
func benchReply(b *testing.B, reply []byte) {
	c := ehloed(b, protocol.Config{}, "PIPELINING")
	b.ReportAllocs()
	b.SetBytes(int64(len(reply)))
	for b.Loop() {
		if _, err := c.Send(protocol.Noop()); err != nil {
			b.Fatal(err)
		}
		c.Advance(len(c.Outgoing()))
		if err := c.Receive(reply); err != nil {
			b.Fatal(err)
		}
		ev, err := c.NextEvent()
		if err != nil || ev.Reply.Code != 250 {
			b.Fatal(ev, err)
		}
	}
}

// BenchmarkParseReplyEHLO10: a 10-line reply.
func BenchmarkParseReplyEHLO10(b *testing.B) { benchReply(b, ehlo10) }

// BenchmarkParseReplySingle: "250 2.1.0 Ok".
func BenchmarkParseReplySingle(b *testing.B) { benchReply(b, single) }

// BenchmarkEHLO: the 10-line reply as the answer to EHLO, extensions
// parsed too.
func BenchmarkEHLO(b *testing.B) {
	c := greeted(b, protocol.Config{})
	b.ReportAllocs()
	b.SetBytes(int64(len(ehlo10)))
	for b.Loop() {
		if _, err := c.Send(protocol.Ehlo("client.example")); err != nil {
			b.Fatal(err)
		}
		c.Advance(len(c.Outgoing()))
		if err := c.Receive(ehlo10); err != nil {
			b.Fatal(err)
		}
		if _, err := c.NextEvent(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseReplyBytewise: the 10-line reply fed one byte at a time
// (the worst case for the incremental parser: it must not rescan).
func BenchmarkParseReplyBytewise(b *testing.B) {
	c := ehloed(b, protocol.Config{}, "PIPELINING")
	b.ReportAllocs()
	b.SetBytes(int64(len(ehlo10)))
	for b.Loop() {
		c.Send(protocol.Noop())
		c.Advance(len(c.Outgoing()))
		for i := range ehlo10 {
			c.Receive(ehlo10[i : i+1])
			if _, err := c.NextEvent(); err != nil && err != protocol.ErrNeedData {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPipelinedEnvelope: MAIL, 10 RCPT, DATA queued and answered.
func BenchmarkPipelinedEnvelope(b *testing.B) {
	c := ehloed(b, protocol.Config{}, "PIPELINING")
	replies := []byte("250 2.1.0 Ok\r\n")
	for range 10 {
		replies = append(replies, "250 2.1.5 Ok\r\n"...)
	}
	replies = append(replies, "354 go\r\n250 2.0.0 queued\r\n"...)
	rcpts := make([]protocol.Command, 10)
	for i := range rcpts {
		rcpts[i] = protocol.Rcpt("bob@example.org")
	}
	body := []byte("Subject: x\r\n\r\nhello\r\n")
	b.ReportAllocs()
	for b.Loop() {
		c.Send(protocol.Mail("alice@example.com"))
		for _, r := range rcpts {
			c.Send(r)
		}
		c.Send(protocol.Data())
		c.Advance(len(c.Outgoing()))
		c.Receive(replies)
		for range 12 {
			if _, err := c.NextEvent(); err != nil {
				b.Fatal(err)
			}
		}
		c.SendBody(body)
		c.EndBody()
		c.Advance(len(c.Outgoing()))
		if ev, err := c.NextEvent(); err != nil || ev.Cmd.Verb != protocol.VerbEndData {
			b.Fatal(ev, err)
		}
	}
}
