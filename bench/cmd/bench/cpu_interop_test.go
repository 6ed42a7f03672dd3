//go:build interop

package main

import (
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/bench"
	"github.com/postwire/postwire/session/smtptest"
)

// TestSourceMessages runs Postfix's smtp-source (scripts/interop/install.sh
// installs it) with the CPU case's arguments against an smtptest server:
// every message on one connection, from and to the bench's addresses,
// each about the bench's size.
func TestSourceMessages(t *testing.T) {
	bin := findBinary("smtp-source")
	if bin == "" {
		t.Fatal("smtp-source is not installed (scripts/interop/install.sh installs it)")
	}
	s := smtptest.NewServer(smtptest.Config{Hostname: "mx.bench.example"})
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n, size = 3, 1 << 10
	to := bench.Recipients(1)[0]
	if out, err := exec.Command(bin, sourceArgs(addr.String(), n, size, bench.Sender, to)...).CombinedOutput(); err != nil {
		t.Fatalf("smtp-source: %v: %s", err, out)
	}
	s.Close() // wait for the conversation to be recorded
	type got struct {
		ConnID   int
		From     string
		To       []string
		NearSize bool
	}
	var gots, want []got
	for _, m := range s.Messages() {
		d := len(m.Data) - size
		gots = append(gots, got{m.ConnID, m.From, m.To, -4 <= d && d <= 4})
		if d != 0 {
			t.Logf("message of %d bytes, %d off", len(m.Data), d)
		}
	}
	for range n {
		want = append(want, got{s.Conns()[0].ID, bench.Sender, []string{to}, true})
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if c := len(s.Conns()); c != 1 {
		t.Errorf("%d connections, want 1", c)
	}
}
