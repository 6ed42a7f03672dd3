package smtptest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// Addr is the first TCP listener's address, whatever else the server
// listens on, and "" until there is one.
func TestAddr(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := startServer(t, smtptest.Config{})
	if got := s.Addr(); got != "" {
		t.Errorf("Addr() before Listen = %q, want \"\"", got)
	}
	if _, err := s.Listen("unix", filepath.Join(t.TempDir(), "s.sock")); err != nil {
		t.Fatal(err)
	}
	if got := s.Addr(); got != "" {
		t.Errorf("Addr() on a Unix socket only = %q, want \"\"", got)
	}
	first, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Addr(), first.String(); got != want {
		t.Errorf("Addr() = %q, want the first TCP listener's %q", got, want)
	}
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q, want 127.0.0.1:port", s.Addr())
	}
}

// A Reply's enhanced code reaches the client as the same value: the
// session's ReplyError holds the type smtptest.Reply does. The client
// dials Addr.
func TestEnhancedRoundTrip(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	full := smtptest.Reply{Code: 452, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 2, Detail: 2}, Text: "mailbox full"}
	s := startServer(t, smtptest.Config{RcptFunc: func(addr string) smtptest.Reply {
		if addr == "full@example.net" {
			return full
		}
		return smtptest.Reply{}
	}})
	if _, err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a safety net
	defer cancel()
	c, err := session.Dial(ctx, s.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.SendMail(ctx, "a@example.org", []string{"b@example.net", "full@example.net"}, strings.NewReader("x\r\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Refusal("full@example.net")
	if r == nil {
		t.Fatalf("full@example.net not refused: %+v", res)
	}
	got := smtptest.Reply{Code: r.Code, Enhanced: r.Enhanced, Text: r.Text}
	if diff := cmp.Diff(full, got); diff != "" {
		t.Errorf("refusal as the client saw it (-want +got):\n%s", diff)
	}
}

// sendN sends n one-recipient messages from m1@x, m2@x, ... on one
// connection, then QUIT.
func sendN(t *testing.T, s *smtptest.Server, first, n int) {
	t.Helper()
	c := newClient(t, s.Pipe())
	c.reply()
	c.cmd("EHLO x")
	for i := first; i < first+n; i++ {
		c.cmd(fmt.Sprintf("MAIL FROM:<m%d@x>", i))
		c.cmd("RCPT TO:<r@x>")
		c.cmd("DATA")
		if got := code(c.cmd(fmt.Sprintf("message %d\r\n.", i))); got != "250 2.0.0" {
			t.Fatalf("message %d: %s", i, got)
		}
	}
	c.cmd("QUIT")
	c.expectEOF()
}

// senders returns the senders of the stored messages and checks that each
// message's data is its own.
func senders(t *testing.T, s *smtptest.Server) []string {
	t.Helper()
	var got []string
	for _, m := range s.Messages() {
		var i int
		if _, err := fmt.Sscanf(m.From, "m%d@x", &i); err != nil {
			t.Fatalf("sender %q: %v", m.From, err)
		}
		if want := fmt.Sprintf("message %d\r\n", i); string(m.Data) != want {
			t.Errorf("message from %s holds %q, want %q", m.From, m.Data, want)
		}
		got = append(got, m.From)
	}
	return got
}

func TestMaxMessages(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	tests := []struct {
		max  int
		want []string
	}{
		{0, []string{"m1@x", "m2@x", "m3@x", "m4@x", "m5@x", "m6@x", "m7@x"}},
		{1, []string{"m7@x"}},
		{3, []string{"m5@x", "m6@x", "m7@x"}},
		{7, []string{"m1@x", "m2@x", "m3@x", "m4@x", "m5@x", "m6@x", "m7@x"}},
		{10, []string{"m1@x", "m2@x", "m3@x", "m4@x", "m5@x", "m6@x", "m7@x"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			s := startServer(t, smtptest.Config{MaxMessages: tt.max})
			sendN(t, s, 1, 7)
			if diff := cmp.Diff(tt.want, senders(t, s)); diff != "" {
				t.Errorf("stored senders (-want +got):\n%s", diff)
			}
		})
	}
}

// The cap holds however long the server runs: after every message the
// newest max are kept, as the window slides over many more.
func TestMaxMessagesSlides(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	const max = 4
	s := startServer(t, smtptest.Config{MaxMessages: max})
	for i := 1; i <= 3*max+1; i++ {
		sendN(t, s, i, 1)
		var want []string
		for j := i - min(i, max) + 1; j <= i; j++ {
			want = append(want, fmt.Sprintf("m%d@x", j))
		}
		if diff := cmp.Diff(want, senders(t, s)); diff != "" {
			t.Fatalf("after message %d, stored senders (-want +got):\n%s", i, diff)
		}
	}
}

// Reset forgets the messages, the received bytes and the ended
// connections' transcripts; a connection in progress keeps being
// recorded, and IDs and WaitConns's count go on.
func TestReset(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := startServer(t, smtptest.Config{})
	sendN(t, s, 1, 2) // connection 1, ended
	waitConns(t, s, 1)
	live := newClient(t, s.Pipe()) // connection 2, in progress
	live.reply()
	live.cmd("EHLO live")

	s.Reset()
	if got := s.Messages(); len(got) != 0 {
		t.Errorf("Messages() after Reset = %+v, want none", got)
	}
	if got := s.Received(); len(got) != 0 {
		t.Errorf("Received() after Reset = %q, want nothing", got)
	}
	var ids []int
	for _, c := range s.Conns() {
		ids = append(ids, c.ID)
	}
	if diff := cmp.Diff([]int{2}, ids); diff != "" {
		t.Errorf("connections kept by Reset (-want +got):\n%s", diff)
	}

	live.cmd("NOOP")
	sendN(t, s, 3, 1) // connection 3
	if diff := cmp.Diff([]string{"m3@x"}, senders(t, s)); diff != "" {
		t.Errorf("stored senders after Reset (-want +got):\n%s", diff)
	}
	waitConns(t, s, 2) // 1 and 3 ended: counted since NewServer
	ids = ids[:0]
	var liveReceived string
	for _, c := range s.Conns() {
		ids = append(ids, c.ID)
		if c.ID == 2 {
			liveReceived = string(c.Received)
		}
	}
	if diff := cmp.Diff([]int{2, 3}, ids); diff != "" {
		t.Errorf("connection IDs after Reset (-want +got):\n%s", diff)
	}
	if want := "EHLO live\r\nNOOP\r\n"; liveReceived != want {
		t.Errorf("live connection's transcript %q, want %q", liveReceived, want)
	}
	if got := string(s.Received()); !strings.HasPrefix(got, "NOOP\r\nEHLO x\r\n") {
		t.Errorf("Received() after Reset starts %q, want what came after it", got)
	}
}
