package transport_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/transport"
)

// TestLatencyConnRoundTrips: one wait per write-then-read turnaround,
// however the writes and reads are split.
func TestLatencyConnRoundTrips(t *testing.T) {
	defer test.CheckRoutines(t)()
	type step struct {
		write string // written by the client
		reply string // written by the server and read back by the client
	}
	tests := []struct {
		name  string
		steps []step
		want  int64
	}{
		{"three lock-step exchanges", []step{{"EHLO x\r\n", "250 ok\r\n"}, {"MAIL FROM:<>\r\n", "250 ok\r\n"}, {"QUIT\r\n", "221 bye\r\n"}}, 3},
		{"pipelined: one write, several replies", []step{{"MAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\n", "250 ok\r\n250 ok\r\n354 go\r\n"}}, 1},
		{"reads without a write", []step{{"", "220 hi\r\n"}, {"", "more\r\n"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, server := transport.Pipe()
			defer server.Close()
			c := transport.NewLatencyConn(raw, time.Microsecond)
			defer c.Close()
			bound(raw, server)
			for _, s := range tt.steps {
				if s.write != "" {
					// Two Writes for one request: still one round trip.
					half := len(s.write) / 2
					if _, err := c.Write([]byte(s.write[:half])); err != nil {
						t.Fatalf("Write: %v", err)
					}
					if _, err := c.Write([]byte(s.write[half:])); err != nil {
						t.Fatalf("Write: %v", err)
					}
					if _, err := io.ReadFull(server, make([]byte, len(s.write))); err != nil {
						t.Fatalf("server ReadFull: %v", err)
					}
				}
				if _, err := server.Write([]byte(s.reply)); err != nil {
					t.Fatalf("server Write: %v", err)
				}
				// Read the reply in small pieces: only the first waits.
				got := make([]byte, len(s.reply))
				for off := 0; off < len(got); {
					n, err := c.Read(got[off:min(off+3, len(got))])
					if err != nil {
						t.Fatalf("Read: %v", err)
					}
					off += n
				}
				if diff := cmp.Diff(s.reply, string(got)); diff != "" {
					t.Errorf("reply (-want +got):\n%s", diff)
				}
			}
			if got := c.RoundTrips(); got != tt.want {
				t.Errorf("RoundTrips() = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestLatencyConnInterrupt: the read deadline and Close cut the simulated
// wait short; an interrupted wait is not counted.
func TestLatencyConnInterrupt(t *testing.T) {
	defer test.CheckRoutines(t)()
	raw, server := transport.Pipe()
	defer server.Close()
	c := transport.NewLatencyConn(raw, time.Hour)
	if _, err := c.Write([]byte("NOOP\r\n")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		done <- err
	}()
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Errorf("Read during wait: %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read deadline did not interrupt the one-hour wait")
	}
	if n := c.RoundTrips(); n != 0 {
		t.Errorf("RoundTrips() = %d after an interrupted wait, want 0", n)
	}

	// The next Read waits again; Close interrupts it.
	c.SetReadDeadline(time.Time{})
	go func() {
		_, err := c.Read(make([]byte, 10))
		done <- err
	}()
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not interrupt the wait")
	}
}

func TestLatencyConnNil(t *testing.T) {
	c := transport.NewLatencyConn(nil, time.Second)
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, transport.ErrNilConn) {
		t.Errorf("Read: %v", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, transport.ErrNilConn) {
		t.Errorf("Write: %v", err)
	}
	if err := c.SetDeadline(time.Time{}); !errors.Is(err, transport.ErrNilConn) {
		t.Errorf("SetDeadline: %v", err)
	}
	if c.LocalAddr() != nil || c.RemoteAddr() != nil || transport.IsLoopback(c) {
		t.Error("nil LatencyConn has addresses or is loopback")
	}
	if err := c.Close(); !errors.Is(err, transport.ErrNilConn) {
		t.Errorf("Close: %v", err)
	}
}

// BenchmarkLatencyConnLockStep measures 10 lock-step exchanges over a
// Pipe with no added delay and reports the round trips per iteration.
func BenchmarkLatencyConnLockStep(b *testing.B) {
	raw, server := transport.Pipe()
	defer server.Close()
	c := transport.NewLatencyConn(raw, 0)
	defer c.Close()
	go io.Copy(server, server) // echo
	buf := make([]byte, 8)
	b.ReportAllocs()
	for b.Loop() {
		for range 10 {
			c.Write([]byte("NOOP\r\n"))
			io.ReadFull(c, buf[:6])
		}
	}
	b.ReportMetric(float64(c.RoundTrips())/float64(b.N), "roundtrips/op")
}

func BenchmarkPipeThroughput(b *testing.B) {
	a, z := transport.Pipe()
	defer a.Close()
	data := make([]byte, 1<<20)
	go io.Copy(io.Discard, z)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Write(data); err != nil {
			b.Fatal(err)
		}
	}
}
