package smtptest

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/postwire/postwire/transport"
)

// Server is an in-process SMTP or LMTP server. Its methods are safe for
// concurrent use. Create it with NewServer and end it with Close.
type Server struct {
	cfg Config

	mu        sync.Mutex
	cond      *sync.Cond // signalled when a conversation ends
	closed    bool
	done      chan struct{} // closed by Close
	listeners []net.Listener
	conns     map[net.Conn]struct{}
	records   []*ConnRecord
	nextID    int // of the next connection; records may have been Reset
	ended     int
	messages  []Message
	received  []byte
	wg        sync.WaitGroup
}

// NewServer returns a server with the given configuration. It starts
// nothing: use ServeConn, Listen or Pipe.
func NewServer(cfg Config) *Server {
	cfg.ExtraExtensions = append([]string(nil), cfg.ExtraExtensions...)
	cfg.AuthMechanisms = append([]string(nil), cfg.AuthMechanisms...)
	s := &Server{
		cfg:   cfg,
		done:  make(chan struct{}),
		conns: make(map[net.Conn]struct{}),
	}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// ServeConn runs one conversation on conn and returns when it ends; conn
// is closed on return. It returns nil when the client sent QUIT, closed the
// connection between commands, or a hook disconnected it;
// ErrServerClosed when Close ended it; otherwise the I/O or TLS error that
// ended it.
func (s *Server) ServeConn(conn net.Conn) error {
	rec, ok := s.track(conn)
	if !ok {
		conn.Close()
		return ErrServerClosed
	}
	c := newConn(s, conn, rec)
	return s.untrack(conn, rec, c, c.serve())
}

// track registers conn; false after Close.
func (s *Server) track(conn net.Conn) (*ConnRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	s.conns[conn] = struct{}{}
	s.nextID++
	rec := &ConnRecord{ID: s.nextID}
	s.records = append(s.records, rec)
	return rec, true
}

// untrack ends the bookkeeping of a conversation and returns its final error.
func (s *Server) untrack(conn net.Conn, rec *ConnRecord, c *conn, err error) error {
	c.closeAll()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed && err != nil {
		err = ErrServerClosed
	}
	delete(s.conns, conn)
	rec.Done = true
	rec.Err = err
	s.ended++
	s.cond.Broadcast()
	return err
}

// serveBackground runs ServeConn in a goroutine that Close waits for.
// It must be called with s.wg already incremented.
func (s *Server) serveBackground(conn net.Conn) {
	defer s.wg.Done()
	_ = s.ServeConn(conn)
}

// Listen listens on network ("tcp", "tcp4", "tcp6" or "unix") and addr
// (e.g. "127.0.0.1:0", or an absolute socket path) and serves every
// accepted connection in the background until Close. It returns the
// listener's address. It may be called several times.
func (s *Server) Listen(network, addr string) (net.Addr, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil, ErrServerClosed
	}
	s.listeners = append(s.listeners, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	go s.acceptLoop(ln)
	return ln.Addr(), nil
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed by Close (or broken): stop
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveBackground(conn)
	}
}

// Addr returns the "host:port" of the first TCP listener started by
// Listen, e.g. "127.0.0.1:41234", ready for session.Dial; "" when the
// server listens on no TCP address.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ln := range s.listeners {
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			return a.String()
		}
	}
	return ""
}

// Pipe returns the client end of an in-memory connection (transport.Pipe)
// whose server end is served in the background. Closing the returned conn
// ends the conversation. After Close it returns a conn whose peer is
// already closed.
func (s *Server) Pipe() net.Conn {
	client, server := transport.Pipe()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		server.Close()
		return client
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go s.serveBackground(server)
	return client
}

// Close stops the listeners, closes every connection and waits until
// every goroutine the server started has returned. Recorded messages and
// bytes stay readable. Close is idempotent and always returns nil.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
		for _, ln := range s.listeners {
			ln.Close()
		}
		for c := range s.conns {
			c.SetDeadline(time.Unix(1, 0)) // unblocks I/O even if Close alone would not
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Messages returns a copy of the transactions accepted so far (since
// Reset; the newest Config.MaxMessages of them when that is set), in the
// order their final reply was decided.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i := range s.messages {
		out[i] = s.messages[i].clone()
	}
	return out
}

// Reset forgets what was recorded so far: the messages, the received
// bytes and the transcripts of the connections that have ended (those in
// progress go on being recorded). Connection IDs and the count WaitConns
// waits for go on from where they were. With Config.MaxMessages, it lets a
// long-running test server (a load test, say) keep its memory bounded.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = nil
	s.received = nil
	live := s.records[:0]
	for _, r := range s.records {
		if !r.Done {
			live = append(live, r)
		}
	}
	clear(s.records[len(live):]) // let the dropped transcripts be collected
	s.records = live
}

// Received returns a copy of every byte the server read from its
// clients, all connections together, in the order it read them (capped
// by Config.MaxRecorded; empty with Config.Discard). After STARTTLS it
// holds the decrypted bytes.
func (s *Server) Received() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte{}, s.received...)
}

// Conns returns a copy of the transcript of every connection, in the
// order they started.
func (s *Server) Conns() []ConnRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConnRecord, len(s.records))
	for i, r := range s.records {
		out[i] = *r
		out[i].Received = append([]byte{}, r.Received...)
		out[i].Sent = append([]byte{}, r.Sent...)
	}
	return out
}

// WaitConns blocks until at least n conversations have ended (counting
// since NewServer) or ctx is done, whose error it then returns.
func (s *Server) WaitConns(ctx context.Context, n int) error {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cond.Broadcast()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.ended < n {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.cond.Wait()
	}
	return nil
}

// record appends p to the server's and the connection's received log.
func (s *Server) record(rec *ConnRecord, p []byte, sent bool) {
	if s.cfg.Discard || len(p) == 0 {
		return
	}
	max := s.cfg.maxRecorded()
	s.mu.Lock()
	defer s.mu.Unlock()
	if sent {
		rec.Sent = appendCapped(rec.Sent, p, max)
		return
	}
	rec.Received = appendCapped(rec.Received, p, max)
	s.received = appendCapped(s.received, p, max)
}

func appendCapped(dst, p []byte, max int64) []byte {
	room := max - int64(len(dst))
	if room <= 0 {
		return dst
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	return append(dst, p...)
}

// addMessage records an accepted transaction.
func (s *Server) addMessage(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max := s.cfg.MaxMessages; max > 0 && len(s.messages) >= max {
		// Drop the oldest. Re-slicing keeps this O(1); append copies the
		// live window to a new array once the old one is used up, and the
		// cleared slot lets the dropped data be collected at once.
		n := len(s.messages) - max + 1
		clear(s.messages[:n])
		s.messages = s.messages[n:]
	}
	s.messages = append(s.messages, m)
}
