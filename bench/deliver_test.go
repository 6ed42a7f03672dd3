package bench

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/session"
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

// TestClientsDeliver checks that every client the benchmarks compare gets
// the same message to the server, byte for byte, with the round trips the
// benchmarks report: the peers one per command, postwire pipelined.
func TestClientsDeliver(t *testing.T) {
	body := makeBody(sendBodySize)
	tests := []struct {
		client   string
		chunked  bool              // BDAT rather than DATA
		maxTrips func(n int) int64 // per message, n recipients
		exact    bool              // maxTrips is the exact count
	}{
		// MAIL+RCPTs(+DATA) in one write, the body in another: two round
		// trips whatever the number of recipients.
		{"postwire", true, func(int) int64 { return 2 }, false},
		{"postwire-data", false, func(int) int64 { return 2 }, false},
		// MAIL, each RCPT, DATA and the final dot each wait for a reply.
		{"netsmtp", false, func(n int) int64 { return int64(n) + 3 }, true},
		{"gosmtp", false, func(n int) int64 { return int64(n) + 3 }, true},
	}
	if len(tests) != len(clients) {
		t.Fatalf("%d clients, %d test cases: cover every client", len(clients), len(tests))
	}
	for i, tt := range tests {
		c := clients[i]
		if c.name != tt.client {
			t.Fatalf("clients[%d] is %q, test case %q", i, c.name, tt.client)
		}
		for _, n := range []int{1, 10} {
			t.Run(fmt.Sprintf("%s/%drcpt", c.name, n), func(t *testing.T) {
				s, addr := startServer(t, false)
				m, lc := connect(t, addr, 0, c)
				to := recipients(n)
				for range 2 { // the second message reuses the connection
					before := lc.RoundTrips()
					if err := m.send(sender, to, bytes.NewReader(body)); err != nil {
						t.Fatalf("send: %v", err)
					}
					trips := lc.RoundTrips() - before
					if want := tt.maxTrips(n); trips > want || tt.exact && trips != want {
						t.Errorf("round trips per message = %d, want %d (exact: %v)", trips, want, tt.exact)
					}
				}
				one := delivered{From: sender, To: to, Data: string(body), Chunked: tt.chunked}
				if diff := cmp.Diff([]delivered{one, one}, project(s.Messages())); diff != "" {
					t.Errorf("messages at the server (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestBatchDelivers checks the two postwire modes of BenchmarkSendBatch:
// every message arrives intact, and SendBatch needs fewer round trips.
func TestBatchDelivers(t *testing.T) {
	const n = 4
	tests := []struct {
		name     string
		send     func(*session.Client, []session.Envelope) error
		maxTrips int64
	}{
		// Each message's end of data goes out with the next message's
		// envelope: about one round trip per message, plus one.
		{"postwire", sendBatch, n + 1},
		{"postwire-sequential", sendSequential, 2 * n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, addr := startServer(t, false)
			m, lc := connect(t, addr, 0, clients[0])
			envs, _ := batch(n)
			before := lc.RoundTrips()
			if err := tt.send(m.(*postwireMailer).c, envs); err != nil {
				t.Fatalf("send: %v", err)
			}
			if trips := lc.RoundTrips() - before; trips > tt.maxTrips {
				t.Errorf("round trips for %d messages = %d, want at most %d", n, trips, tt.maxTrips)
			}
			one := delivered{From: sender, To: recipients(1), Data: string(sendBody), Chunked: true}
			want := []delivered{one, one, one, one}
			if diff := cmp.Diff(want, project(s.Messages())); diff != "" {
				t.Errorf("messages at the server (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMakeBody checks the benchmark bodies: the exact size asked for, CRLF
// line endings only, lines of at most 76 characters, some dot-stuffing work.
func TestMakeBody(t *testing.T) {
	for _, size := range []int{sendBodySize, 1 << 20} {
		b := makeBody(size)
		if len(b) != size {
			t.Errorf("makeBody(%d): %d bytes", size, len(b))
		}
		if !bytes.HasSuffix(b, []byte("\r\n")) {
			t.Errorf("makeBody(%d) does not end in CRLF", size)
		}
		lines := bytes.Split(b[:len(b)-2], []byte("\r\n"))
		dots := 0
		for i, l := range lines {
			if len(l) > 76 {
				t.Fatalf("makeBody(%d): line %d has %d characters", size, i, len(l))
			}
			if bytes.ContainsAny(l, "\r\n") {
				t.Fatalf("makeBody(%d): bare CR or LF in line %d", size, i)
			}
			if bytes.HasPrefix(l, []byte(".")) {
				dots++
			}
		}
		if dots == 0 {
			t.Errorf("makeBody(%d): no line starts with '.'", size)
		}
	}
}
