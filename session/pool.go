package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Pool defaults.
const (
	DefaultPoolMaxConns    = 4
	DefaultPoolMaxBatch    = 16
	DefaultPoolIdleTimeout = 30 * time.Second
	DefaultPoolCheckIdle   = 5 * time.Second
)

// maxSends bounds how often the pool hands one message to a connection:
// the first try and up to two re-sends, so that a server answering every
// MAIL with 421 cannot make it loop.
const maxSends = 3

// maxDialFails is how many failed dials a message waits through before it
// gets the dial error (sooner if its context ends).
const maxDialFails = 3

// PoolOptions configure a Pool. Only Dial is required.
type PoolOptions struct {
	// Dial opens one connection, ready to send: dialled, greeted, and
	// with STARTTLS and AUTH done if wanted (for example Dial then
	// StartTLS then Login, or DialLMTP, or NewClient over a custom
	// net.Conn). The pool greets the server itself if Dial did not; a
	// failure there counts as a failed dial. ctx ends when every message
	// waiting for the connection has given up, or when Close gives up;
	// Dial must honour it, as Close waits for a dial in progress.
	Dial func(ctx context.Context) (*Client, error)
	// MaxConns caps the connections open at once (DefaultPoolMaxConns
	// when 0).
	MaxConns int
	// MaxMessagesPerConn, when positive, makes the pool QUIT a connection
	// after that many messages and dial a new one (servers cap it too:
	// Exim's smtp_accept_max_per_connection is 1,000).
	MaxMessagesPerConn int
	// IdleTimeout: a connection unused for this long is QUIT and closed
	// (DefaultPoolIdleTimeout when 0). Keep it below the server's own
	// idle time-out (RFC 5321 asks for at least 5 minutes).
	IdleTimeout time.Duration
	// CheckIdle: a connection unused for longer than this is tested with
	// NOOP before its next messages, so that one the server dropped in
	// silence is replaced before a message fails on it
	// (DefaultPoolCheckIdle when 0; negative: never).
	CheckIdle time.Duration
	// MaxBatch caps how many waiting messages one connection takes at
	// once and sends with Client.SendBatch (pipelined when the server
	// offers PIPELINING). DefaultPoolMaxBatch when 0; 1 turns batching
	// off.
	MaxBatch int
	// Logger, if non-nil, receives a record per dial, dial failure,
	// re-send and closed connection. The Clients log through their own
	// Options.Logger.
	Logger *slog.Logger
}

// PoolStats are the pool's counters since NewPool, for export to any
// metrics system. Every message handed to the pool ends in exactly one of
// Sent, Refused, Unknown and Failed, once it has its result.
type PoolStats struct {
	Sent       uint64 // accepted by the server (the result's error is nil)
	Refused    uint64 // refused by the server: *SenderRefusedError, *RecipientsRefusedError, *DataError
	Unknown    uint64 // *UnknownDeliveryError: the data was sent, the reply never came
	Failed     uint64 // any other error: connection lost, not sent, dial error, context, pool closed
	Retried    uint64 // re-sends (see Pool on which results are re-sent)
	Dials      uint64 // dial attempts
	DialErrors uint64 // failed dial attempts
	Open       int    // connections open now
	Queued     int    // messages waiting for a connection now
}

// Pool sends messages over up to MaxConns connections, each a Client made
// by PoolOptions.Dial, and is safe for concurrent use: the concurrent
// sender that one Client is not.
//
// Each connection is owned by one goroutine of the pool, which takes the
// messages waiting (up to MaxBatch at once) and sends them together with
// Client.SendBatch, so that under load messages are pipelined behind each
// other. Connections are reused across messages and replaced when they
// fail (421, EOF, a time-out), after MaxMessagesPerConn messages, and when
// idle for IdleTimeout. Failed dials are retried with a jittered
// exponential back-off (100 ms doubling to 10 s) shared by the pool. The
// pool sends no RSET of its own: SendBatch ends each failed transaction
// itself, and leaves none open.
//
// # Results
//
// A message's result is exactly what Client.SendBatch returned for it on
// the connection that sent it, with the two exceptions below, where
// nothing of the message reached the server in a way that lets it accept
// the message and its Body has not been read (or is an io.Seeker, put
// back where it started: with PIPELINING and CHUNKING the body goes out
// with MAIL), so the pool sends it again on another connection instead
// (at most twice):
//
//   - a *SenderRefusedError whose reply code is 421: the server refused
//     MAIL and closed the connection, as Exim does after 1,000 messages
//     and servers do when they shut down;
//   - a nil BatchResult.Result with an error matching ErrClosed: the
//     connection had already failed (or the server had closed it) before
//     the message's MAIL was sent, or the server answered a command
//     pipelined ahead of the message's with 421 (as Exim's 421 to the
//     1,001st MAIL reaches the messages behind it) and processed none
//     of them.
//
// Every other result is final. In particular a message whose result is
// an *UnknownDeliveryError (ErrDeliveryUnknown: its end of data was
// written but the reply never came) is never sent again, as the server
// may have delivered it; nor is a message whose connection failed after
// its MAIL went out, as its body may have been read in part and a Body is
// an io.Reader that cannot be rewound. A 4xx reply to a recipient or to
// the data is the caller's to retry later (RFC 5321 section 4.5.4).
//
// A message still waiting for a connection when its context ends gets the
// context's error (joined with the last dial error, if the last dial
// failed), and one that has waited through three failed dials gets the
// dial error. Once a message is being sent, its connection's context ends
// only when every message of the batch has given up (or Close gives up):
// one impatient caller does not abort its neighbours' messages, and Send
// then waits for the result that tells what the server did.
type Pool struct {
	opts PoolOptions

	mu      sync.Mutex
	queue   []*request            // waiting messages, oldest first
	idle    []*poolConn           // workers waiting for messages
	conns   map[*poolConn]*Client // open connections, for abort
	workers int                   // running workers (at most MaxConns)
	coming  int                   // workers kicked that have not yet looked at the queue
	closing bool                  // Close was called: no new messages
	aborted bool                  // Close gave up: connections closed hard

	// Dial back-off, shared by the workers.
	dialFails   int
	nextDial    time.Time
	lastDialErr error

	drain     chan struct{} // closed by Close: idle workers quit
	hard      context.Context
	hardAbort context.CancelFunc
	wg        sync.WaitGroup

	sent, refused, unknown, failed atomic.Uint64
	retried, dials, dialErrors     atomic.Uint64
	open                           atomic.Int64
}

// request is one message in the pool.
type request struct {
	ctx       context.Context
	env       Envelope // its Body is body
	body      *poolBody
	state     reqState
	sends     int         // times handed to Client.SendBatch
	dialFails int         // failed dials it waited through
	stop      func() bool // unregisters the context watch
	res       BatchResult
	done      chan struct{}
}

type reqState uint8

const (
	reqQueued reqState = iota
	reqTaken           // a worker is sending it
	reqDone
)

// NewPool returns a pool; it dials nothing until the first message.
func NewPool(o PoolOptions) (*Pool, error) {
	if o.Dial == nil {
		return nil, errors.New("session: PoolOptions.Dial is nil")
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultPoolMaxConns
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultPoolMaxBatch
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultPoolIdleTimeout
	}
	if o.CheckIdle == 0 {
		o.CheckIdle = DefaultPoolCheckIdle
	}
	p := &Pool{opts: o, conns: make(map[*poolConn]*Client), drain: make(chan struct{})}
	p.hard, p.hardAbort = context.WithCancel(context.Background())
	return p, nil
}

// Send sends one message and returns what Client.SendMail would have
// returned for it (see Pool for the re-sends and for waiting). After Close
// it fails at once with an error matching ErrClosed.
func (p *Pool) Send(ctx context.Context, env Envelope) (*SendResult, error) {
	r := p.SendBatch(ctx, []Envelope{env})
	return r[0].Result, r[0].Err
}

// SendBatch queues several messages and returns one result per message,
// in order, once all have one. The messages may go over different
// connections, and share connections with other callers' messages.
func (p *Pool) SendBatch(ctx context.Context, envs []Envelope) []BatchResult {
	out := make([]BatchResult, len(envs))
	if ctx == nil {
		for i := range out {
			out[i].Err = ErrNilContext
		}
		return out
	}
	reqs := make([]*request, len(envs))
	p.mu.Lock()
	for i, env := range envs {
		r := &request{ctx: ctx, env: env, done: make(chan struct{})}
		if env.Body != nil {
			r.body = newPoolBody(env.Body)
			r.env.Body = r.body
		}
		reqs[i] = r
		if p.closing {
			p.finish(r, BatchResult{Err: errPoolClosed})
			continue
		}
		p.queue = append(p.queue, r)
		r.stop = context.AfterFunc(ctx, func() { p.expire(r) })
		p.kick()
	}
	p.mu.Unlock()
	for i, r := range reqs {
		<-r.done
		out[i] = r.res
	}
	return out
}

// Stats returns the counters.
func (p *Pool) Stats() PoolStats {
	return PoolStats{
		Sent:       p.sent.Load(),
		Refused:    p.refused.Load(),
		Unknown:    p.unknown.Load(),
		Failed:     p.failed.Load(),
		Retried:    p.retried.Load(),
		Dials:      p.dials.Load(),
		DialErrors: p.dialErrors.Load(),
		Open:       int(p.open.Load()),
		Queued:     p.queued(),
	}
}

func (p *Pool) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// Close stops the pool: Send fails from now on, the messages already
// queued or in flight are sent, and then every connection is QUIT. When
// ctx ends first, the connections are closed without QUIT (the messages
// then in flight get the Client's errors, those still waiting an error
// matching ErrClosed) and Close returns ctx's error. Every goroutine of
// the pool has ended when Close returns. Close may be called more than
// once.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closing {
		p.closing = true
		close(p.drain)
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		select {
		case <-done: // both ready: the drain won
			return nil
		default:
		}
	}
	p.abort()
	<-done
	return ctx.Err()
}

// abort closes every connection hard and fails the messages still queued.
func (p *Pool) abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.aborted = true
	p.hardAbort()
	for _, c := range p.conns {
		c.Close()
	}
	for _, r := range p.queue {
		p.finish(r, BatchResult{Err: errPoolClosed})
	}
	p.queue = nil
}

// kick makes sure a worker will look at the queue: an idle one, or a new
// one while fewer than MaxConns run. Called with p.mu held.
func (p *Pool) kick() {
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		w.coming = true
		p.coming++
		w.wake <- struct{}{}
		return
	}
	if p.workers < p.opts.MaxConns {
		p.workers++
		p.coming++
		p.wg.Add(1)
		go p.work(&poolConn{p: p, wake: make(chan struct{}, 1), coming: true})
	}
}

// expire runs when a message's context ends: if it is still waiting, it
// leaves the queue with the context's error.
func (p *Pool) expire(r *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.state != reqQueued {
		return
	}
	for i, q := range p.queue {
		if q == r {
			p.queue = append(p.queue[:i], p.queue[i+1:]...)
			break
		}
	}
	p.finish(r, BatchResult{Err: p.waitError(r.ctx)})
}

// waitError is the error of a message whose context ended before it was
// sent. Called with p.mu held.
func (p *Pool) waitError(ctx context.Context) error {
	if p.lastDialErr != nil {
		return fmt.Errorf("session: pool: %w (last dial error: %w)", ctx.Err(), p.lastDialErr)
	}
	return ctx.Err()
}

// settle hands each message of a sent batch its result, or queues it
// again (first in line) when retryable says it may be sent again. The
// worker w counts as idle from now on: it is about to look at the queue
// again, so kick need not start another worker for a message sent next
// (as one is when messages are sent one after the other).
func (p *Pool) settle(w *poolConn, batch []*request, res []BatchResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, w)
	var again []*request
	for i, r := range batch {
		if retryable(res[i]) && (r.body == nil || r.body.rewind()) && r.sends < maxSends && r.ctx.Err() == nil && !p.aborted {
			r.state = reqQueued
			again = append(again, r)
			p.retried.Add(1)
			p.logf(slog.LevelInfo, "pool: re-sending message", "from", r.env.From, "error", res[i].Err)
			continue
		}
		p.finish(r, res[i])
	}
	if len(again) > 0 {
		p.queue = append(again, p.queue...)
		p.kick()
	}
}

// retryable is the rule of Pool's doc: whether a message may be sent
// again because nothing of it was accepted and its body was not read.
func retryable(r BatchResult) bool {
	if r.Result == nil {
		// Not attempted: the connection had failed before its MAIL.
		return errors.Is(r.Err, ErrClosed)
	}
	var sr *SenderRefusedError
	return errors.As(r.Err, &sr) && sr.Reply != nil && sr.Reply.Code == 421
}

// finish gives r its result and counts it. Called with p.mu held.
func (p *Pool) finish(r *request, res BatchResult) {
	r.state = reqDone
	r.res = res
	if r.stop != nil {
		r.stop()
	}
	var (
		sr *SenderRefusedError
		rr *RecipientsRefusedError
		de *DataError
	)
	switch err := res.Err; {
	case err == nil:
		p.sent.Add(1)
	case errors.Is(err, ErrDeliveryUnknown):
		p.unknown.Add(1)
	case errors.As(err, &sr), errors.As(err, &rr), errors.As(err, &de):
		p.refused.Add(1)
	default:
		p.failed.Add(1)
	}
	close(r.done)
}

func (p *Pool) logf(level slog.Level, msg string, args ...any) {
	if p.opts.Logger != nil {
		p.opts.Logger.Log(context.Background(), level, msg, args...)
	}
}

// errPoolClosed is the result of a message the pool did not send because
// it was closed.
var errPoolClosed error = poolClosedError{}

type poolClosedError struct{}

func (poolClosedError) Error() string { return "session: pool closed" }

// Is makes it match ErrClosed.
func (poolClosedError) Is(target error) bool { return target == ErrClosed }
