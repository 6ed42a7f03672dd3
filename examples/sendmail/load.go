package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/session"
)

// newPool is the one place that knows how the copies travel: a
// session.Pool of up to c.pool connections, each dialled, secured and
// logged in as a single send's (see connect). It re-dials after a failure
// that ended a connection (a 421, a time-out, a hang-up) and pipelines the
// copies waiting for the same connection.
func newPool(c config, opts *session.Options) (*session.Pool, error) {
	return session.NewPool(session.PoolOptions{
		MaxConns: c.pool,
		Dial:     func(ctx context.Context) (*session.Client, error) { return connect(ctx, c, opts) },
	})
}

// envelopeOf is the envelope of a copy: -from and -to as given, else
// taken from msg's header block as Client.SendMessage takes it (Bcc
// fields removed from what is sent).
func envelopeOf(c config, msg []byte) (from string, to []string, body []byte, err error) {
	if len(c.to) > 0 {
		return c.from, c.to, msg, nil
	}
	hdr := codec.SplitHeader(msg)
	if hdr < 0 {
		hdr = len(msg) // no blank line: the whole message is the header block
	}
	env, err := codec.ParseEnvelope(msg[:hdr])
	if err != nil {
		return "", nil, nil, err
	}
	return env.From, env.To, append(env.Header, msg[hdr:]...), nil
}

// tally counts the outcomes of a load test.
type tally struct {
	accepted, partial, failed atomic.Int64

	mu        sync.Mutex
	firstCode int   // exit status of the first copy that failed; 0 for none
	firstErr  error // its error; nil for a partial refusal
}

func (t *tally) add(res *session.SendResult, err error) {
	code := cli.ExitOK
	switch {
	case err != nil:
		t.failed.Add(1)
		code = exitCode(err)
	case len(res.Refused) > 0:
		t.partial.Add(1)
		code = refusedCode(res)
	default:
		t.accepted.Add(1)
		return
	}
	t.first(code, err)
}

// first keeps the exit status and error of the first failure.
func (t *tally) first(code int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.firstCode == cli.ExitOK {
		t.firstCode, t.firstErr = code, err
	}
}

// loadTest sends c.count copies of msg through a pool of c.pool
// connections, from enough goroutines to keep each connection's pipeline
// full, and prints the counts and the throughput.
func loadTest(ctx context.Context, c config, opts *session.Options, msg []byte, sio stdio) int {
	var t tally
	start := time.Now() // the time includes connecting
	from, to, body, err := envelopeOf(c, msg)
	if err != nil {
		t.failed.Add(int64(c.count)) // every copy would fail the same way
		t.first(exitCode(err), err)
		return t.report(c, 0, time.Since(start), sio)
	}
	p, err := newPool(c, opts)
	if err != nil {
		return exitCode(err) // not reached: Dial is set
	}
	var (
		next atomic.Int64 // copies handed out
		wg   sync.WaitGroup
	)
	senders := min(c.count, c.pool*session.DefaultPoolMaxBatch)
	wg.Add(senders)
	for range senders {
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(c.count) && ctx.Err() == nil {
				t.add(p.Send(ctx, session.Envelope{From: from, To: to, Body: bytes.NewReader(body)}))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	p.Close(ctx) // QUIT every connection; interrupted: closed at once
	if err := ctx.Err(); err != nil {
		t.first(exitCode(err), err) // interrupted: not every copy was tried
	}
	st := p.Stats()
	return t.report(c, int(st.Dials-st.DialErrors), elapsed, sio)
}

// report prints the summary of a load test over conns connections and
// returns the exit status.
func (t *tally) report(c config, conns int, elapsed time.Duration, sio stdio) int {
	done := t.accepted.Load() + t.partial.Load()
	fmt.Fprintf(sio.out, "%d of %d messages accepted over %d connections in %.3fs: %.1f messages/s\n",
		done, c.count, conns, elapsed.Seconds(), float64(done)/elapsed.Seconds())
	if t.partial.Load() > 0 || t.failed.Load() > 0 {
		fmt.Fprintf(sio.out, "%d with some recipients refused, %d failed\n", t.partial.Load(), t.failed.Load())
	}
	switch {
	case t.firstErr != nil:
		fmt.Fprintf(sio.err, "sendmail: %s: the first failure: %s\n", c.addr(), cli.Describe(t.firstErr))
	case t.firstCode != cli.ExitOK:
		fmt.Fprintf(sio.err, "sendmail: %s: some recipients refused\n", c.addr())
	}
	return t.firstCode
}
