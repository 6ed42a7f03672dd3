package session_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
	"github.com/postwire/postwire/transport"
)

// poolBenchBody is a 2 KiB notification.
var poolBenchBody = bytes.Repeat([]byte("Your order has shipped and is on its way.\r\n"), 48)

// sendStrategy sends msgs messages from goroutines goroutines using dial
// for its connections, and returns how many failed.
type sendStrategy func(ctx context.Context, dial func(context.Context) (*session.Client, error), goroutines, msgs int) int64

// strategies are the ways to send concurrently that the benchmark compares.
var strategies = []struct {
	name string
	send sendStrategy
}{
	{"pool-8", sendPool},
	{"client-per-goroutine", sendClientPerGoroutine},
	{"mutex-one-client", sendMutexClient},
}

func benchEnvelope() session.Envelope {
	return session.Envelope{From: "shop@x.test", To: []string{"customer@y.test"}, Body: bytes.NewReader(poolBenchBody)}
}

// spread runs f(i) for i in [0, msgs) over goroutines goroutines, each
// taking the next index, and counts f's errors.
func spread(goroutines, msgs int, f func(g int) error) int64 {
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(msgs) {
				if f(g) != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return failed.Load()
}

func sendPool(ctx context.Context, dial func(context.Context) (*session.Client, error), goroutines, msgs int) int64 {
	p, err := session.NewPool(session.PoolOptions{Dial: dial, MaxConns: 8})
	if err != nil {
		return int64(msgs)
	}
	defer p.Close(ctx)
	return spread(goroutines, msgs, func(int) error {
		_, err := p.Send(ctx, benchEnvelope())
		return err
	})
}

func sendClientPerGoroutine(ctx context.Context, dial func(context.Context) (*session.Client, error), goroutines, msgs int) int64 {
	clients := make([]*session.Client, goroutines) // clients[g] is goroutine g's
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Quit(ctx)
			}
		}
	}()
	return spread(goroutines, msgs, func(g int) error {
		if clients[g] == nil {
			c, err := dial(ctx)
			if err != nil {
				return err
			}
			clients[g] = c
		}
		e := benchEnvelope()
		_, err := clients[g].SendMail(ctx, e.From, e.To, e.Body, nil)
		return err
	})
}

func sendMutexClient(ctx context.Context, dial func(context.Context) (*session.Client, error), goroutines, msgs int) int64 {
	c, err := dial(ctx)
	if err != nil {
		return int64(msgs)
	}
	defer c.Quit(ctx)
	var mu sync.Mutex
	return spread(goroutines, msgs, func(int) error {
		mu.Lock()
		defer mu.Unlock()
		e := benchEnvelope()
		_, err := c.SendMail(ctx, e.From, e.To, e.Body, nil)
		return err
	})
}

// BenchmarkPool: 64 goroutines send 10,000 messages over loopback TCP and
// behind 5 ms each way (a LatencyConn with a 10 ms round trip), through a
// Pool of 8 connections, through one Client per goroutine, and through one
// Client behind a mutex (go-mail's way). It reports messages per second
// and connections used. Behind the latency the mutex sends 1,000: it
// pays a round trip or two per message, so 10,000 would take two minutes
// to measure the same rate.
func BenchmarkPool(b *testing.B) {
	const msgs = 10000
	for _, net := range []struct {
		name string
		rtt  time.Duration
	}{
		{"loopback", 0},
		{"5ms-each-way", 10 * time.Millisecond},
	} {
		for _, s := range strategies {
			n := msgs
			if net.rtt > 0 && s.name == "mutex-one-client" {
				n = msgs / 10
			}
			b.Run(net.name+"/"+s.name, func(b *testing.B) {
				benchStrategy(b, s.send, net.rtt, n)
			})
		}
	}
}

func benchStrategy(b *testing.B, send sendStrategy, rtt time.Duration, msgs int) {
	const goroutines = 64
	srv := smtptest.NewServer(smtptest.Config{Hostname: serverName, Discard: true})
	b.Cleanup(func() { srv.Close() })
	addr, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	dial := func(ctx context.Context) (*session.Client, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr.String())
		if err != nil {
			return nil, err
		}
		return session.NewClient(ctx, transport.NewLatencyConn(conn, rtt), serverName, opts())
	}
	ctx := context.Background()
	var sent int
	for b.Loop() {
		if failed := send(ctx, dial, goroutines, msgs); failed > 0 {
			b.Fatalf("%d of %d messages failed", failed, msgs)
		}
		sent += msgs
	}
	if got := len(srv.Messages()); got != sent {
		b.Fatalf("%d messages stored, %d sent", got, sent)
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(len(srv.Conns()))/float64(b.N), "conns")
}
