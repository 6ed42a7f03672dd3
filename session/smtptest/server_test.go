package smtptest_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/session/smtptest"
)

var bytesAsString = cmp.Transformer("string", func(b []byte) string { return string(b) })

func TestTransaction(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // runs after the servers' Close cleanups
	for _, how := range []string{"pipe", "tcp", "unix"} {
		t.Run(how, func(t *testing.T) {
			s := startServer(t, smtptest.Config{})
			c := dial(t, s, how)
			if got, want := c.reply(), "220 smtptest.local ESMTP smtptest\r\n"; got != want {
				t.Errorf("greeting %q, want %q", got, want)
			}
			wantEHLO := "250-smtptest.local greets client.example\r\n" +
				"250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n" +
				"250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n"
			if diff := cmp.Diff(wantEHLO, c.cmd("EHLO client.example")); diff != "" {
				t.Errorf("EHLO reply (-want +got):\n%s", diff)
			}
			got, want := c.converse([]step{
				{"MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=42", "250 2.1.0"},
				{"RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org", "250 2.1.5"},
				{"RCPT TO:<c@example.org>", "250 2.1.5"},
				{"DATA", "354"},
			})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("conversation (-want +got):\n%s", diff)
			}
			body := "Subject: hi\r\n\r\n..leading dot\r\n..\r\n"
			if got := code(c.cmd(body + ".")); got != "250 2.0.0" {
				t.Errorf("end of data: %s", got)
			}
			if got := code(c.cmd("QUIT")); got != "221 2.0.0" {
				t.Errorf("QUIT: %s", got)
			}
			c.expectEOF()

			wantMsgs := []smtptest.Message{{
				ConnID:     1,
				Helo:       "client.example",
				From:       "a@example.org",
				MailParams: []string{"BODY=8BITMIME", "SIZE=42"},
				To:         []string{"b@example.org", "c@example.org"},
				RcptParams: [][]string{{"NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;b@example.org"}, nil},
				Data:       []byte("Subject: hi\r\n\r\n.leading dot\r\n.\r\n"),
				Size:       int64(len("Subject: hi\r\n\r\n.leading dot\r\n.\r\n")),
			}}
			if diff := cmp.Diff(wantMsgs, s.Messages(), bytesAsString, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Messages (-want +got):\n%s", diff)
			}
			wantReceived := "EHLO client.example\r\n" +
				"MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=42\r\n" +
				"RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org\r\n" +
				"RCPT TO:<c@example.org>\r\nDATA\r\n" + body + ".\r\nQUIT\r\n"
			if diff := cmp.Diff(wantReceived, string(s.Received())); diff != "" {
				t.Errorf("Received (-want +got):\n%s", diff)
			}
			waitConns(t, s, 1)
			conns := s.Conns()
			if len(conns) != 1 || !conns[0].Done || conns[0].Err != nil || string(conns[0].Received) != wantReceived {
				t.Errorf("Conns() = %+v", conns)
			}
			if !strings.HasPrefix(string(conns[0].Sent), "220 smtptest.local") || !strings.HasSuffix(string(conns[0].Sent), "221 2.0.0 smtptest.local closing connection\r\n") {
				t.Errorf("Sent = %q", conns[0].Sent)
			}
		})
	}
}

func TestPipelinedRepliesInOneWrite(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // runs after the servers' Close cleanups
	s := startServer(t, smtptest.Config{})
	c := newClient(t, s.Pipe())
	c.reply()
	c.cmd("EHLO x")
	c.write("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n")
	// transport.Pipe delivers one server Write per client Read (up to 64 KiB):
	// all four replies must have left in one Write.
	buf := make([]byte, 4096)
	n, err := c.conn.Read(buf)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := "250 2.1.0 sender OK\r\n250 2.1.5 recipient OK\r\n250 2.1.5 recipient OK\r\n354 end data with <CR><LF>.<CR><LF>\r\n"
	if diff := cmp.Diff(want, string(buf[:n])); diff != "" {
		t.Errorf("one Read (-want +got):\n%s", diff)
	}
	// Body, end of data and the next transaction in one flight (RFC 2920).
	c.write("body\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<d@x>\r\nDATA\r\n")
	n, err = c.conn.Read(buf)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got := strings.Count(string(buf[:n]), "\r\n"); got != 4 {
		t.Errorf("second flight: %d replies in one Read, want 4: %q", got, buf[:n])
	}
	c.cmd("second\r\n.")
	msgs := s.Messages()
	if len(msgs) != 2 || msgs[1].From != "" || string(msgs[1].Data) != "second\r\n" {
		t.Errorf("Messages = %+v", msgs)
	}
}

func TestBDAT(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // runs after the servers' Close cleanups
	s := startServer(t, smtptest.Config{})
	c := newClient(t, s.Pipe())
	c.reply()
	c.cmd("EHLO x")
	chunk1 := "Subject: x\r\n\r\n.a\r\n.\r\n"
	chunk2 := "bare\nend"
	c.write("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 21\r\n" + chunk1 + "BDAT 8 LAST\r\n" + chunk2)
	var got []string
	for range 4 {
		got = append(got, code(c.reply()))
	}
	want := []string{"250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	// Out of a transaction: DATA refused; BDAT refused but its chunk consumed.
	c.write("DATA\r\nBDAT 6 LAST\r\nNOOP\r\nNOOP\r\n")
	got = []string{code(c.reply()), code(c.reply()), code(c.reply())}
	want = []string{"503 5.5.1", "503 5.5.1", "250 2.0.0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("out of transaction (-want +got):\n%s", diff)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages", len(msgs))
	}
	if diff := cmp.Diff(chunk1+chunk2, string(msgs[0].Data)); diff != "" || !msgs[0].Chunked || msgs[0].BareLineEndings {
		t.Errorf("message %+v; data diff:\n%s", msgs[0], diff)
	}
}
