package session

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/transport"
)

// aLongTimeAgo is a deadline in the past: it unblocks any pending I/O.
var aLongTimeAgo = time.Unix(1, 0)

// readBufferSize is the size of the buffer replies are read into.
const readBufferSize = 4096

// Client is one SMTP or LMTP conversation with a server: the blocking,
// context-aware counterpart of Python's smtplib.SMTP and smtplib.LMTP.
//
// Every method that talks to the server takes a context.Context first.
// When the context is cancelled or its deadline passes, the call returns
// the context's error, the connection is closed (its state is unknown),
// and no goroutine is left behind. Per-command time-outs (Options.Timeouts,
// RFC 5321 section 4.5.3.2) apply on top of the context.
//
// Extensions are used when the server offers them: PIPELINING (a
// transaction's commands go out in one write), CHUNKING (BDAT), SIZE,
// 8BITMIME, SMTPUTF8, DSN and REQUIRETLS as requested in SendOptions.
//
// After a fatal error (the connection failed, the server broke the
// protocol, a time-out, cancellation, or a 421 reply) the connection is
// closed and every later call fails with an error matching ErrClosed.
//
// A Client is not safe for concurrent use, except Close, which may be
// called from any goroutine at any time to abort a call in progress.
type Client struct {
	mu     sync.Mutex // guards conn against Close from another goroutine
	conn   net.Conn
	closed atomic.Bool
	busy   atomic.Bool // a call is in progress (guard.go)

	pc        *protocol.Client
	opts      Options
	log       *slog.Logger
	host      string // the host dialled: TLS ServerName, OAUTHBEARER host
	port      int
	localName string
	buf       []byte
	body      []byte    // message data buffer, allocated on first use
	chunk     []byte    // BDAT chunk buffer, allocated on first use
	salvageBy time.Time // non-zero: reading, until then, what the server said before it hung up (see Client.salvage)

	greeting  protocol.Reply
	hello     protocol.Reply // the last EHLO/HELO/LHLO reply, whatever its code
	helloVerb protocol.Verb  // the verb that got it
	tlsReply  protocol.Reply // the 220 to STARTTLS
	err       error          // sticky: why the client is unusable
	didHello  bool
	esmtp     bool
	isTLS     bool
	tlsTried  bool // TLSPolicy applied
	authed    bool

	// Putcmd and SendRaw: the replies Getreply has not returned yet, and
	// the newest of those commands (the core says whether it is still
	// owed replies: they are answered in order).
	rawReplies []protocol.Reply
	rawLast    protocol.Handle

	// handlers wait for the replies to the commands the core has queued,
	// by handle (the greeting's is NoHandle); the core's ledger says which
	// reply answers which command.
	handlers map[protocol.Handle]handler

	watched   context.Context // the context whose end interrupts I/O (see watch)
	stopWatch func()
}

// Dial connects to addr ("host" or "host:port", port 25 by default; IPv6
// literals as "[::1]:25"), reads the greeting and returns the Client.
// Errors: a *ConnectError wrapping the dial error (a *transport.DialError,
// which matches the context's error when ctx ended) or the greeting's
// *ReplyError; a *transport.AddressError for a malformed addr.
func Dial(ctx context.Context, addr string, o *Options) (*Client, error) {
	return dial(ctx, addr, 25, o, false)
}

// DialTLS is Dial over implicit TLS (SMTPS, RFC 8314): port 465 by
// default, the handshake done before the greeting. Options.TLSConfig is
// used (cloned) with ServerName defaulting to the host; certificates are
// verified unless that config says otherwise.
func DialTLS(ctx context.Context, addr string, o *Options) (*Client, error) {
	return dial(ctx, addr, 465, o, true)
}

// DialLMTP connects to an LMTP server (RFC 2033) at addr: an absolute Unix
// socket path such as "/var/run/dovecot/lmtp", or "host[:port]" with port
// 24 by default. An addr holding "/" is a path; a relative one is refused
// (transport.ErrRelativePath) since it would depend on the working
// directory. The returned Client speaks LMTP whatever o.LMTP says.
func DialLMTP(ctx context.Context, addr string, o *Options) (*Client, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.LMTP = true
	if strings.ContainsRune(addr, '/') { // a socket path; relative ones are refused
		conn, err := transport.DialUnix(ctx, addr, opts.transportOptions())
		if err != nil {
			return nil, &ConnectError{Addr: addr, Err: err}
		}
		return newClient(ctx, conn, "localhost", 0, addr, &opts)
	}
	return dial(ctx, addr, 24, &opts, false)
}

func dial(ctx context.Context, addr string, defPort int, o *Options, implicitTLS bool) (*Client, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	host, port, err := transport.SplitHostPort(addr, defPort)
	if err != nil {
		return nil, err
	}
	hostport := net.JoinHostPort(host, fmt.Sprint(port))
	var conn net.Conn
	if implicitTLS {
		tc, err := transport.DialTLS(ctx, "tcp", hostport, opts.TLSConfig, opts.transportOptions())
		if err != nil {
			return nil, &ConnectError{Addr: hostport, Err: err}
		}
		conn = tc
	} else {
		conn, err = transport.Dial(ctx, "tcp", hostport, opts.transportOptions())
		if err != nil {
			return nil, &ConnectError{Addr: hostport, Err: err}
		}
	}
	return newClient(ctx, conn, host, port, hostport, &opts)
}

// NewClient starts a conversation over conn, an open connection to an
// SMTP server (or LMTP with o.LMTP), and reads the greeting. host is the
// server's name: the default TLS ServerName for StartTLS and the host
// reported to OAUTHBEARER. A *tls.Conn counts as encrypted.
//
// A greeting that is not 2xx gives a *ConnectError wrapping its
// *ReplyError, after QUIT was sent and answered (RFC 5321 §3.1: a server
// that greets with 554 waits for it) unless the greeting was a 421,
// which closes at once; a lost connection, a protocol violation, a time-out or the
// end of ctx give their own errors. On any error conn is closed.
func NewClient(ctx context.Context, conn net.Conn, host string, o *Options) (*Client, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	port := 0
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok && a != nil {
		port = a.Port
	}
	return newClient(ctx, conn, host, port, "", &opts)
}

func newClient(ctx context.Context, conn net.Conn, host string, port int, addr string, o *Options) (*Client, error) {
	if ctx == nil {
		conn.Close()
		return nil, ErrNilContext
	}
	c := &Client{
		conn: conn,
		pc: protocol.NewClient(protocol.Config{
			LMTP:          o.LMTP,
			MaxLineLength: o.MaxLineLength,
			MaxReplyLines: o.MaxReplyLines,
		}),
		opts:     *o,
		log:      o.Logger,
		host:     host,
		port:     port,
		buf:      make([]byte, readBufferSize),
		handlers: make(map[protocol.Handle]handler),
	}
	_, c.isTLS = conn.(tlsConn)
	c.localName = localName(o, conn)
	var (
		greeting protocol.Event
		gerr     error
		done     bool
	)
	c.handlers[protocol.NoHandle] = replyFunc(func(ev protocol.Event, err error) { greeting, gerr, done = ev, err, true })
	for !done {
		if err := c.pump(ctx); err != nil && gerr == nil {
			gerr = err
			break
		}
	}
	if gerr == nil {
		gerr = c.peerError(c.pc.Err()) // more than the greeting before any command
	}
	if gerr != nil {
		c.shutdown(gerr)
		return nil, gerr
	}
	c.greeting = greeting.Reply
	if !greeting.Reply.Positive() {
		err := &ConnectError{Addr: addr, Err: newReplyError(protocol.Command{}, greeting.Reply)}
		if greeting.Reply.Code != 421 { // a 421 has closed the channel (RFC 5321 §3.8)
			// RFC 5321 §3.1: after a 554 greeting the server waits for
			// QUIT (answering anything else 503); say goodbye properly.
			_, _ = c.roundTrip(ctx, protocol.Quit())
		}
		c.shutdown(err)
		return nil, err
	}
	return c, nil
}

// Greeting returns the server's greeting (the 220 banner).
func (c *Client) Greeting() protocol.Reply { return c.greeting }

// TLS reports whether the connection is encrypted (DialTLS, or after a
// successful StartTLS).
func (c *Client) TLS() bool { return c.isTLS }

// LMTP reports whether the client speaks LMTP.
func (c *Client) LMTP() bool { return c.opts.LMTP }

// Conn returns the connection currently in use (a *tls.Conn after
// StartTLS). Reading or writing it directly corrupts the conversation.
func (c *Client) Conn() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// Close closes the connection without QUIT. It is safe to call from any
// goroutine, also while another call is in progress (that call then fails
// with an error matching ErrClosed), and more than once (later calls
// return nil).
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Swap(true) {
		return nil
	}
	return c.conn.Close()
}

// shutdown records err as the reason the client is unusable, closes the
// connection and fails every command still waiting for a reply.
func (c *Client) shutdown(err error) {
	if c.err == nil {
		c.err = err
	}
	c.Close()
	waiting := slices.Sorted(maps.Keys(c.handlers)) // oldest command first
	for _, h := range waiting {
		fn := c.handlers[h]
		delete(c.handlers, h)
		fn.onReply(protocol.Event{Handle: h}, err)
	}
}
