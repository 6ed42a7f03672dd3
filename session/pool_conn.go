package session

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/postwire/postwire/protocol"
)

// Dial back-off bounds: the delay after n consecutive failed dials is
// dialBackoffMin·2ⁿ⁻¹, at most dialBackoffMax, less a random part of up to
// half (so that pools restarted together do not dial in step).
const (
	dialBackoffMin = 100 * time.Millisecond
	dialBackoffMax = 10 * time.Second
)

// quitTimeout bounds the QUIT of a connection the pool no longer needs.
const quitTimeout = 5 * time.Second

// poolConn is one worker of a Pool and the connection it owns. Only the
// worker's goroutine touches its fields.
type poolConn struct {
	p        *Pool
	wake     chan struct{} // a message was queued for this idle worker
	coming   bool          // kicked, counted in p.coming (guarded by p.mu)
	c        *Client       // nil: not connected
	sent     int           // messages handed to c
	lastUsed time.Time
}

// work is a worker's goroutine: it takes batches until the pool has none
// for it, then QUITs its connection.
func (p *Pool) work(w *poolConn) {
	defer p.wg.Done()
	for {
		batch := p.take(w)
		if batch == nil {
			break
		}
		w.run(batch)
	}
	w.drop("idle")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.workers--
	if len(p.queue) > 0 && !p.aborted {
		// Queued while this worker was leaving, when kick found no room.
		p.kick()
	}
}

// take waits for messages and takes up to MaxBatch of them (and no more
// than the connection may still carry). It returns nil when the worker
// should quit: Close gave up, the pool is closing and the queue is empty,
// the connection was idle for IdleTimeout, or the worker has no
// connection and nothing to do.
func (p *Pool) take(w *poolConn) []*request {
	expired := false
	for {
		if w.c == nil {
			p.waitDialTurn()
		}
		p.mu.Lock()
		p.unidle(w)
		if w.coming {
			w.coming = false
			p.coming--
		}
		if p.aborted {
			p.mu.Unlock()
			return nil
		}
		if batch := p.takeQueued(w); len(batch) > 0 {
			p.mu.Unlock()
			return batch
		}
		if expired || p.closing || w.c == nil {
			p.mu.Unlock()
			return nil
		}
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		expired = w.idle()
	}
}

// takeQueued takes the messages w may send now, from the front of the
// queue: at most MaxBatch, and its share when other workers were kicked
// for the messages queued, so that a burst is spread over the
// connections. A message whose context has ended (and whose expire is
// still to run) gets its error here instead: sent, it would abort the
// connection. Called with p.mu held.
func (p *Pool) takeQueued(w *poolConn) []*request {
	share := (len(p.queue) + p.coming) / (1 + p.coming) // rounded up
	n := min(p.opts.MaxBatch, share)
	if max := p.opts.MaxMessagesPerConn; max > 0 && w.c != nil {
		n = min(n, max-w.sent)
	}
	var batch []*request
	i := 0
	for ; i < len(p.queue) && len(batch) < n; i++ {
		r := p.queue[i]
		if r.ctx.Err() != nil {
			p.finish(r, BatchResult{Err: p.waitError(r.ctx)})
			continue
		}
		r.state = reqTaken
		batch = append(batch, r)
	}
	p.queue = append(p.queue[:0], p.queue[i:]...)
	return batch
}

// idle waits, registered in p.idle, for a message, Close or the idle
// time-out, and reports whether the time-out ended the wait.
func (w *poolConn) idle() (expired bool) {
	p := w.p
	t := time.NewTimer(p.opts.IdleTimeout)
	woken := false
	select {
	case <-w.wake:
		woken = true
	case <-p.drain:
	case <-t.C:
		expired = true
	}
	t.Stop()
	p.mu.Lock()
	woken = p.unidle(w) || woken // kick may have chosen it as the timer fired
	p.mu.Unlock()
	return expired && !woken
}

// unidle takes w out of p.idle and reports whether kick had chosen it (it
// then takes the message kick was for). Called with p.mu held.
func (p *Pool) unidle(w *poolConn) bool {
	for i, v := range p.idle {
		if v == w {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			break
		}
	}
	select {
	case <-w.wake:
		return true
	default:
		return false
	}
}

// waitDialTurn waits out the dial back-off, or until Close gives up.
func (p *Pool) waitDialTurn() {
	p.mu.Lock()
	d := time.Until(p.nextDial)
	p.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.hard.Done():
	}
}

// run sends one batch and settles its results.
func (w *poolConn) run(batch []*request) {
	p := w.p
	ctx, stop := p.batchContext(batch)
	defer stop()
	if w.c != nil && p.opts.CheckIdle > 0 && time.Since(w.lastUsed) > p.opts.CheckIdle {
		if _, err := w.c.Noop(ctx); err != nil {
			w.drop("NOOP failed: " + err.Error())
		}
	}
	if w.c == nil {
		if err := w.dial(ctx); err != nil {
			p.dialFailed(ctx, batch, err)
			return
		}
	}
	envs := make([]Envelope, len(batch))
	for i, r := range batch {
		envs[i] = r.env
		r.sends++
	}
	res := w.c.SendBatch(ctx, envs)
	w.sent += len(batch)
	w.lastUsed = time.Now()
	// Results first: a message queued again goes to another connection,
	// as this worker is busy until its connection is dropped.
	p.settle(w, batch, res)
	for _, r := range res {
		if !reusable(r.Err) {
			w.drop("connection failed: " + r.Err.Error())
			return
		}
	}
	if max := p.opts.MaxMessagesPerConn; max > 0 && w.sent >= max {
		w.drop("MaxMessagesPerConn reached")
	}
}

// batchContext returns the context a batch is sent with: it ends when
// every message's own context has ended, or when Close gives up. It keeps
// the values of the first message's context (for the Client's logger).
func (p *Pool) batchContext(batch []*request) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	stops := make([]func() bool, 0, len(batch)+1)
	stops = append(stops, context.AfterFunc(p.hard, cancel))
	var left atomic.Int64
	left.Store(int64(len(batch)))
	for _, r := range batch {
		stops = append(stops, context.AfterFunc(r.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		}))
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// dial opens the worker's connection and greets the server.
func (w *poolConn) dial(ctx context.Context) error {
	p := w.p
	p.dials.Add(1)
	c, err := p.opts.Dial(ctx)
	if err == nil && c == nil {
		err = errors.New("session: PoolOptions.Dial returned no Client and no error")
	}
	if err == nil {
		if err = c.EhloOrHeloIfNeeded(ctx); err != nil {
			c.Close()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		return err
	}
	if p.aborted {
		c.Close()
		return errPoolClosed
	}
	p.dialFails, p.nextDial, p.lastDialErr = 0, time.Time{}, nil
	p.conns[w] = c
	p.open.Add(1)
	w.c, w.sent, w.lastUsed = c, 0, time.Now()
	p.logf(slog.LevelDebug, "pool: connected", "open", p.open.Load())
	return nil
}

// dialFailed records a failed dial, moves the back-off on (unless the
// dial was abandoned: ctx, the batch's, ended), and queues the batch
// again, except the messages that have waited through maxDialFails dials
// (they get err) or whose context has ended.
func (p *Pool) dialFailed(ctx context.Context, batch []*request, err error) {
	p.dialErrors.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
		p.lastDialErr = err
	}
	if ctx.Err() == nil {
		p.dialFails++
		d := min(dialBackoffMin<<min(p.dialFails-1, 16), dialBackoffMax)
		d -= rand.N(d / 2)
		p.nextDial = time.Now().Add(d)
		p.logf(slog.LevelWarn, "pool: dial failed", "error", err, "retry_in", d)
	}
	var again []*request
	for _, r := range batch {
		r.dialFails++
		switch {
		case r.ctx.Err() != nil:
			p.finish(r, BatchResult{Err: p.waitError(r.ctx)})
		case r.dialFails >= maxDialFails || p.aborted:
			p.finish(r, BatchResult{Err: err})
		default:
			r.state = reqQueued
			again = append(again, r)
		}
	}
	p.queue = append(again, p.queue...)
}

// drop ends the worker's connection, with QUIT when it still works.
func (w *poolConn) drop(why string) {
	if w.c == nil {
		return
	}
	p := w.p
	p.mu.Lock()
	delete(p.conns, w)
	p.open.Add(-1)
	p.mu.Unlock()
	p.logf(slog.LevelDebug, "pool: closing connection", "reason", why, "messages", w.sent)
	ctx, cancel := context.WithTimeout(p.hard, quitTimeout)
	w.c.Quit(ctx) // closes the connection whatever happens
	cancel()
	w.c = nil
}

// reusable reports whether a connection may carry more messages after a
// message ended with err: only after the server's answer to that message
// (or a refusal made before anything was sent) with the connection intact.
func reusable(err error) bool {
	if err == nil {
		return true
	}
	for _, fatal := range []error{ErrServerDisconnected, ErrClosed, ErrTimeout, ErrDeliveryUnknown, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, fatal) { // ErrServerDisconnected also matches a 421 anywhere in err
			return false
		}
	}
	var (
		sr *SenderRefusedError
		rr *RecipientsRefusedError
		de *DataError
		ns *NotSupportedError
		ue *protocol.UsageError
	)
	return errors.As(err, &sr) || errors.As(err, &rr) || errors.As(err, &de) || errors.As(err, &ns) ||
		errors.As(err, &ue) || errors.Is(err, ErrMessageTooLarge) || errors.Is(err, ErrNoRecipients)
}
