package bench

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/postwire/postwire/session"
)

const (
	// sendBodySize is the size of the message in the Send benchmarks.
	sendBodySize = 10 << 10
	// benchRTT is the simulated round-trip time of the *RTT benchmarks:
	// small, to keep the run short, but large against loopback's own. It is
	// 1ms rather than less because Go timers on the machines this was
	// written on fire no sooner than about 1.1ms whatever is asked, so a
	// smaller figure would only make the label wrong.
	benchRTT = time.Millisecond
	// batchSize is the number of messages per BenchmarkSendBatch op.
	batchSize = 10
)

var (
	sendBody = makeBody(sendBodySize)
	rttLabel = durationLabel("rtt", benchRTT)
)

// BenchmarkSend sends one message per iteration (MAIL, RCPTs, a 10 KiB body)
// on a connection greeted before the timer starts, over loopback TCP.
func BenchmarkSend(b *testing.B) { benchSend(b, 0, "") }

// BenchmarkSendRTT is BenchmarkSend with benchRTT added to every round trip
// (transport.LatencyConn), which is where pipelining shows.
func BenchmarkSendRTT(b *testing.B) { benchSend(b, benchRTT, "-"+rttLabel) }

func benchSend(b *testing.B, rtt time.Duration, suffix string) {
	_, addr := startServer(b, true)
	for _, c := range clients {
		b.Run(c.name, func(b *testing.B) {
			for _, n := range []int{1, 10} {
				b.Run(fmt.Sprintf("%drcpt%s", n, suffix), func(b *testing.B) {
					m, lc := connect(b, addr, rtt, c)
					to := recipients(n)
					body := bytes.NewReader(sendBody)
					// One message before the measurement, so every client
					// is past its first-use work (go-smtp's lazy state).
					if err := m.send(sender, to, body); err != nil {
						b.Fatalf("warm-up send: %v", err)
					}
					start, msgs := lc.RoundTrips(), 0
					b.SetBytes(int64(len(sendBody)))
					b.ReportAllocs()
					for b.Loop() {
						body.Reset(sendBody)
						if err := m.send(sender, to, body); err != nil {
							b.Fatalf("send: %v", err)
						}
						msgs++
					}
					b.ReportMetric(float64(lc.RoundTrips()-start)/float64(msgs), "roundtrips/msg")
				})
			}
		})
	}
}

// BenchmarkSendBatch sends batchSize one-recipient messages per op, with
// SendBatch ("postwire": the next MAIL rides with the previous end of data)
// and with batchSize SendMail calls ("postwire-sequential"), on loopback and
// with benchRTT.
func BenchmarkSendBatch(b *testing.B) {
	_, addr := startServer(b, true)
	modes := []struct {
		name string
		send func(c *session.Client, envs []session.Envelope) error
	}{
		{"postwire", sendBatch},
		{"postwire-sequential", sendSequential},
	}
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			for _, v := range []struct {
				name string
				rtt  time.Duration
			}{{"loopback", 0}, {rttLabel, benchRTT}} {
				b.Run(v.name, func(b *testing.B) {
					m, lc := connect(b, addr, v.rtt, clients[0])
					c := m.(*postwireMailer).c
					envs, readers := batch(batchSize)
					if err := mode.send(c, envs); err != nil {
						b.Fatalf("warm-up: %v", err)
					}
					start, msgs := lc.RoundTrips(), 0
					b.SetBytes(int64(batchSize * len(sendBody)))
					b.ReportAllocs()
					for b.Loop() {
						for _, r := range readers {
							r.Reset(sendBody)
						}
						if err := mode.send(c, envs); err != nil {
							b.Fatal(err)
						}
						msgs += batchSize
					}
					b.ReportMetric(float64(lc.RoundTrips()-start)/float64(msgs), "roundtrips/msg")
				})
			}
		})
	}
}

// batch returns n envelopes of sendBody to one recipient each, and their
// readers (to be Reset before every reuse).
func batch(n int) ([]session.Envelope, []*bytes.Reader) {
	envs := make([]session.Envelope, n)
	readers := make([]*bytes.Reader, n)
	for i := range envs {
		readers[i] = bytes.NewReader(sendBody)
		envs[i] = session.Envelope{From: sender, To: recipients(1), Body: readers[i]}
	}
	return envs, readers
}

func sendBatch(c *session.Client, envs []session.Envelope) error {
	for i, r := range c.SendBatch(context.Background(), envs) {
		if r.Err != nil {
			return fmt.Errorf("message %d: %w", i, r.Err)
		}
	}
	return nil
}

func sendSequential(c *session.Client, envs []session.Envelope) error {
	for i, e := range envs {
		if _, err := c.SendMail(context.Background(), e.From, e.To, e.Body, e.Options); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	return nil
}

// durationLabel names d in ASCII for a benchmark name: "rtt1ms", "rtt200us".
func durationLabel(prefix string, d time.Duration) string {
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%s%dms", prefix, d.Milliseconds())
	}
	return fmt.Sprintf("%s%dus", prefix, d.Microseconds())
}
