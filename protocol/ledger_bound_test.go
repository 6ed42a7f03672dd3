package protocol

import (
	"errors"
	"testing"
)

// TestLedgerBoundedWhileNeverEmpty: a client that keeps one command in
// flight (pipelined RCPTs, each sent before the previous one's reply
// arrives) never empties the ledger; its memory must still be bounded
// by the commands pending, not by all the commands ever sent.
func TestLedgerBoundedWhileNeverEmpty(t *testing.T) {
	c := NewClient(Config{})
	feed := func(s string) {
		t.Helper()
		c.Advance(len(c.Outgoing()))
		if err := c.Receive([]byte(s)); err != nil {
			t.Fatal(err)
		}
		for {
			_, err := c.NextEvent()
			if errors.Is(err, ErrNeedData) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	feed("220 mx\r\n")
	if _, err := c.Send(Ehlo("client.example")); err != nil {
		t.Fatal(err)
	}
	feed("250-mx\r\n250 PIPELINING\r\n")
	if _, err := c.Send(Mail("a@b.example")); err != nil {
		t.Fatal(err)
	}
	feed("250 ok\r\n")
	if _, err := c.Send(Rcpt("r@d.example")); err != nil {
		t.Fatal(err)
	}
	for range 10000 {
		if _, err := c.Send(Rcpt("r@d.example")); err != nil {
			t.Fatal(err)
		}
		feed("250 ok\r\n") // the previous RCPT's: one stays in flight
		if c.Pending() != 1 {
			t.Fatalf("%d pending, want 1", c.Pending())
		}
	}
	if n := cap(c.ledger); n > 64 {
		t.Errorf("ledger capacity %d after 10,000 commands with one pending", n)
	}
}
