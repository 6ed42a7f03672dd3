package bench

import (
	"fmt"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/session/smtptest"
)

// delivered is what the comparison needs from a smtptest.Message.
type delivered struct {
	From            string
	To              []string
	Data            string
	Chunked         bool
	BareLineEndings bool
}

func project(msgs []smtptest.Message) []delivered {
	out := make([]delivered, len(msgs))
	for i, m := range msgs {
		out[i] = delivered{m.From, m.To, string(m.Data), m.Chunked, m.BareLineEndings}
	}
	return out
}

// startServer runs an smtptest server (keeping every message) on loopback
// TCP; it advertises PIPELINING and CHUNKING among its defaults.
func startServer(t *testing.T, lmtp bool) (*smtptest.Server, string) {
	t.Helper()
	s := smtptest.NewServer(smtptest.Config{Hostname: "mx.bench.example", LMTP: lmtp})
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("server Close: %v", err)
		}
	})
	return s, addr.String()
}

// start dials addr and starts c on a TurnConn; the Mailer quits when the
// test ends.
func start(t *testing.T, c Client, addr string, lmtp bool, msg Message) (Mailer, *TurnConn) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	conn := NewTurnConn(raw, 0)
	m, err := c.Start(conn, lmtp, msg)
	if err != nil {
		t.Fatalf("%s: start: %v", c.Name, err)
	}
	t.Cleanup(func() {
		if err := m.Quit(); err != nil {
			t.Errorf("%s: quit: %v", c.Name, err)
		}
	})
	return m, conn
}

// TestClientsDeliver checks that every client compared gets the same
// messages to the server, byte for byte, over SMTP and LMTP, within the
// round trips the figures are read against: the peers one per command,
// postwire's SendMail pipelined to at most 2, SendBatch at most one per
// message and one more.
func TestClientsDeliver(t *testing.T) {
	const batch = 3
	body := MakeBody(1 << 10)
	tests := []struct {
		client   string
		chunked  bool                // BDAT rather than DATA when offered
		maxTrips func(rcpts int) int // per Send of the client's Unit
		exact    bool
	}{
		{"postwire", true, func(int) int { return 2 }, false},
		{"postwire-batch", true, func(int) int { return batch + 1 }, false},
		// MAIL, each RCPT, DATA and the final dot each wait for a reply.
		{"netsmtp", false, func(n int) int { return n + 3 }, true},
		{"gosmtp", false, func(n int) int { return n + 3 }, true},
	}
	clients := Clients(batch)
	if len(tests) != len(clients) {
		t.Fatalf("%d clients, %d test cases: cover every client", len(clients), len(tests))
	}
	for i, tt := range tests {
		c := clients[i]
		if c.Name != tt.client {
			t.Fatalf("clients[%d] is %q, test case %q", i, c.Name, tt.client)
		}
		for _, lmtp := range []bool{false, true} {
			if lmtp && c.SMTPOnly {
				continue
			}
			for _, n := range []int{1, 10} {
				t.Run(fmt.Sprintf("%s/lmtp=%v/%drcpt", c.Name, lmtp, n), func(t *testing.T) {
					s, addr := startServer(t, lmtp)
					msg := Message{From: Sender, To: Recipients(n), Body: body}
					m, conn := start(t, c, addr, lmtp, msg)
					// The first Send is the warm-up, as in Interleave
					// (postwire's includes its EHLO); the second is counted.
					if err := m.Send(c.Unit); err != nil {
						t.Fatalf("first send: %v", err)
					}
					before := conn.Turns()
					if err := m.Send(c.Unit); err != nil {
						t.Fatalf("second send: %v", err)
					}
					trips := int(conn.Turns() - before)
					if want := tt.maxTrips(n); trips > want || tt.exact && trips != want {
						t.Errorf("round trips per Send = %d, want %d (exact: %v)", trips, want, tt.exact)
					}
					one := delivered{From: Sender, To: msg.To, Data: string(body), Chunked: tt.chunked}
					want := make([]delivered, 2*c.Unit)
					for i := range want {
						want[i] = one
					}
					if diff := cmp.Diff(want, project(s.Messages())); diff != "" {
						t.Errorf("messages at the server (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

// TestNetSMTPRefusesLMTP: net/smtp has no LMTP client, so the LMTP cases
// leave it out rather than let it misread the per-recipient replies.
func TestNetSMTPRefusesLMTP(t *testing.T) {
	for _, c := range Clients(1) {
		if !c.SMTPOnly {
			continue
		}
		client, server := net.Pipe()
		defer server.Close()
		if _, err := c.Start(client, true, Message{}); err == nil {
			t.Errorf("%s: Start over LMTP succeeded", c.Name)
		}
		if _, err := client.Write([]byte("x")); err == nil {
			t.Errorf("%s: conn left open after a failed Start", c.Name)
		}
	}
}
