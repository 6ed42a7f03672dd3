package session_test

import (
	"bytes"
	"context"
	"testing"

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
