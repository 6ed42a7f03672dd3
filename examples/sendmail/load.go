package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/session"
)

// sender sends one message and returns what session.Client.SendMail
// returns; closeFn ends what it holds.
type sender struct {
	send    func(ctx context.Context, body io.Reader) (*session.SendResult, error)
	closeFn func(ctx context.Context)
}

// newSender is the one place that knows how a copy travels: a client of
// the worker's own, dialled at once, and again after a failure that ended
// the connection (a 421, a time-out, a hang-up). A session.Pool shared by
// the workers can take its place here.
func newSender(ctx context.Context, c config, opts *session.Options) sender {
	client, dialErr := connect(ctx, c, opts)
	return sender{
		send: func(ctx context.Context, body io.Reader) (*session.SendResult, error) {
			if client == nil {
				if dialErr != nil { // the first dial's failure goes to the first copy
					err := dialErr
					dialErr = nil
					return nil, err
				}
				var err error
				if client, err = connect(ctx, c, opts); err != nil {
					return nil, err
				}
			}
			res, err := deliver(ctx, client, c, body)
			if err != nil && connectionGone(err) {
				client.Close()
				client = nil
			}
			return res, err
		},
		closeFn: func(ctx context.Context) {
			if client != nil {
				client.Quit(ctx) // then closed, whatever the reply
				client.Close()
			}
		},
	}
}

// connectionGone reports whether the client cannot go on after err: it
// can after a refusing reply from a server that is still talking.
func connectionGone(err error) bool {
	var reply *session.ReplyError
	return !errors.As(err, &reply) || errors.Is(err, session.ErrServerDisconnected)
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

// loadTest sends c.count copies of msg over c.pool connections, one
// worker goroutine each, and prints the counts and the throughput.
func loadTest(ctx context.Context, c config, opts *session.Options, msg []byte, sio stdio) int {
	workers := min(c.pool, c.count)
	var (
		next      atomic.Int64 // copies handed out
		t         tally
		wg, ready sync.WaitGroup
		start     = time.Now() // the time includes connecting
	)
	wg.Add(workers)
	ready.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			s := newSender(ctx, c, opts)
			defer s.closeFn(ctx)
			// Every connection is open before the first copy goes, so
			// that -pool N means N connections however fast they are.
			ready.Done()
			ready.Wait()
			for next.Add(1) <= int64(c.count) && ctx.Err() == nil {
				t.add(s.send(ctx, bytes.NewReader(msg)))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		t.first(exitCode(err), err) // interrupted: not every copy was tried
	}

	done := t.accepted.Load() + t.partial.Load()
	fmt.Fprintf(sio.out, "%d of %d messages accepted over %d connections in %.3fs: %.1f messages/s\n",
		done, c.count, workers, elapsed.Seconds(), float64(done)/elapsed.Seconds())
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
