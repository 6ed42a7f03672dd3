package session_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
	"github.com/postwire/postwire/transport"
)

// benchBody is a 10 KiB message of short lines.
var benchBody = bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur.\r\n"), 250)

func benchClient(b *testing.B, cfg smtptest.Config) (*session.Client, *transport.LatencyConn) {
	b.Helper()
	cfg.Discard = true
	s := smtptest.NewServer(cfg)
	b.Cleanup(func() { s.Close() })
	lat := transport.NewLatencyConn(s.Pipe(), 0)
	c, err := session.NewClient(context.Background(), lat, "mx.test", &session.Options{LocalName: "client.test"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c, lat
}

// BenchmarkSendMail sends one 10 KiB message per iteration over one
// connection and reports the round trips per message.
func BenchmarkSendMail(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  smtptest.Config
	}{
		{"DATA-pipelined", smtptest.Config{DisableChunking: true}},
		{"DATA-lockstep", smtptest.Config{DisableChunking: true, DisablePipelining: true}},
		{"BDAT-pipelined", smtptest.Config{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, lat := benchClient(b, bc.cfg)
			ctx := context.Background()
			to := []string{"b@y.test", "c@y.test"}
			if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
				b.Fatal(err)
			}
			start := lat.RoundTrips()
			b.SetBytes(int64(len(benchBody)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.SendMail(ctx, "a@x.test", to, bytes.NewReader(benchBody), nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(lat.RoundTrips()-start)/float64(b.N), "rtt/msg")
		})
	}
}

// BenchmarkSendBatch sends batches of 10 messages: with PIPELINING each
// message costs about one round trip.
func BenchmarkSendBatch(b *testing.B) {
	c, lat := benchClient(b, smtptest.Config{DisableChunking: true})
	ctx := context.Background()
	if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
		b.Fatal(err)
	}
	start := lat.RoundTrips()
	b.SetBytes(10 * int64(len(benchBody)))
	b.ReportAllocs()
	msgs := make([]session.Envelope, 10)
	for b.Loop() {
		for i := range msgs {
			msgs[i] = session.Envelope{From: "a@x.test", To: []string{"b@y.test"}, Body: bytes.NewReader(benchBody)}
		}
		for _, r := range c.SendBatch(ctx, msgs) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(lat.RoundTrips()-start)/float64(b.N*len(msgs)), "rtt/msg")
}

// BenchmarkBatchWindow sends batches of 256 1 KiB messages with CHUNKING
// behind 5 ms each way for several Options.BatchWindow values: the
// measurement behind DefaultBatchWindow (make bench prints it).
func BenchmarkBatchWindow(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 16)
	for _, window := range []int{1, 4, 8, 16, 32, 64} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			s := smtptest.NewServer(smtptest.Config{Discard: true})
			b.Cleanup(func() { s.Close() })
			lat := transport.NewLatencyConn(s.Pipe(), 10*time.Millisecond)
			ctx := context.Background()
			c, err := session.NewClient(ctx, lat, "mx.test", &session.Options{LocalName: "client.test", BatchWindow: window})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
				b.Fatal(err)
			}
			envs := make([]session.Envelope, 256)
			sent := 0
			start := lat.RoundTrips()
			for b.Loop() {
				for i := range envs {
					envs[i] = session.Envelope{From: "a@x.test", To: []string{"b@y.test"}, Body: bytes.NewReader(body)}
				}
				for _, r := range c.SendBatch(ctx, envs) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
				sent += len(envs)
			}
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(lat.RoundTrips()-start)/float64(sent), "rtt/msg")
		})
	}
}
