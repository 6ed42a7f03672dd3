package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/pion/transport/v3/deadline"
	"github.com/pion/transport/v3/dpipe"
)

const (
	// maxSegment is the largest message the adapter puts into dpipe, and
	// the size of its read buffer, so dpipe never truncates a message.
	maxSegment = 64 << 10
	// pipeSlots is how many data segments may wait unread in one
	// direction before Write blocks (at most pipeSlots*maxSegment bytes).
	// It is below dpipe's channel capacity (1000) so that dpipe's own
	// Write never blocks, and the end-of-stream marker always fits.
	pipeSlots = 256
)

// pipeAddr is the address of both ends of a Pipe.
type pipeAddr struct{}

// Network returns "pipe".
func (pipeAddr) Network() string { return "pipe" }

// String returns "pipe".
func (pipeAddr) String() string { return "pipe" }

// Pipe returns the two ends of an in-memory, full-duplex byte stream. It is
// the in-process stand-in for a TCP connection in tests and when embedding
// a server, and runs TLS (StartTLS) like any stream.
//
// Pipe is built on github.com/pion/transport/v3/dpipe, whose conns carry
// messages, drop what a short Read cannot hold, and do not tell the peer
// about Close. The ends returned here add stream semantics on top:
//
//   - Write never loses or reorders bytes. It cuts data into segments of at
//     most 64 KiB and returns once they are queued for the peer; it blocks
//     only while 256 segments are waiting unread (back-pressure), and that
//     wait honours the write deadline and Close of either end.
//   - Read returns at most len(b) bytes and keeps the rest for the next
//     Read, so short reads lose nothing. Bytes kept from an earlier short
//     Read are returned even after the read deadline has passed.
//   - Close lets the peer read everything written before it and then
//     io.EOF. After Close, Read and Write on this end fail with an error
//     matching net.ErrClosed, and a second Close reports it too. Write on
//     the peer then fails with io.ErrClosedPipe (like EPIPE: the reader is
//     gone); what this end wrote before closing remains readable there.
//   - Deadlines: after the read or write deadline passes, blocked and new
//     Reads (with nothing buffered) or Writes fail with an error matching
//     os.ErrDeadlineExceeded whose Timeout method reports true. No queued
//     data is dropped, and the conn works again once the deadline is moved.
//   - Errors other than io.EOF are *net.OpError values with Net "pipe".
//   - Both addresses are non-nil, with Network() "pipe". IsLoopback reports
//     false for them.
//
// Every method may be called from several goroutines at once: Reads are
// serialised with each other, and so are Writes (the bytes of two
// concurrent Writes are never interleaved); a Read and a Write proceed
// independently. The ends start no goroutines.
func Pipe() (net.Conn, net.Conn) {
	d0, d1 := dpipe.Pipe()
	slots01 := make(chan struct{}, pipeSlots) // segments from end 0 not yet read by end 1
	slots10 := make(chan struct{}, pipeSlots)
	c0 := newPipeConn(d0, slots01, slots10)
	c1 := newPipeConn(d1, slots10, slots01)
	c0.peer, c1.peer = c1, c0
	return c0, c1
}

// pipeConn is one end of a Pipe: a stream adapter over a dpipe conn.
//
// Wire format inside dpipe: every non-empty message is data; the empty
// message is the end-of-stream marker that Close sends.
type pipeConn struct {
	dp   net.Conn
	peer *pipeConn

	// sendSlots holds one token per data segment this end has queued and
	// the peer has not read; recvSlots is the peer's sendSlots.
	sendSlots chan struct{}
	recvSlots chan struct{}

	writeDeadline *deadline.Deadline // the read deadline lives in dp
	closeOnce     sync.Once
	closed        chan struct{} // closed when Close starts

	rmu  sync.Mutex // serialises Reads; guards buf, rest, eof
	buf  []byte     // maxSegment bytes, allocated on the first Read
	rest []byte     // received bytes the caller has not taken yet
	eof  bool       // the peer's end-of-stream marker was read

	wmu sync.Mutex // serialises Writes
}

func newPipeConn(dp net.Conn, send, recv chan struct{}) *pipeConn {
	return &pipeConn{
		dp:            dp,
		sendSlots:     send,
		recvSlots:     recv,
		writeDeadline: deadline.New(),
		closed:        make(chan struct{}),
	}
}

func (c *pipeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *pipeConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "pipe", Source: pipeAddr{}, Addr: pipeAddr{}, Err: err}
}

// Read reads up to len(b) bytes of the stream. See Pipe for the contract.
func (c *pipeConn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.isClosed() {
		return 0, c.opError("read", net.ErrClosed)
	}
	if len(b) == 0 {
		return 0, nil
	}
	if len(c.rest) > 0 {
		n := copy(b, c.rest)
		c.rest = c.rest[n:]
		return n, nil
	}
	if c.eof {
		return 0, io.EOF
	}
	if c.buf == nil {
		c.buf = make([]byte, maxSegment)
	}
	n, err := c.dp.Read(c.buf)
	switch {
	case err == nil && n == 0:
		c.eof = true
		return 0, io.EOF
	case err == nil:
		<-c.recvSlots // free the peer's slot: the segment left dpipe
		m := copy(b, c.buf[:n])
		c.rest = c.buf[m:n]
		return m, nil
	case c.isClosed():
		return 0, c.opError("read", net.ErrClosed)
	case errors.Is(err, context.DeadlineExceeded):
		return 0, c.opError("read", os.ErrDeadlineExceeded)
	default:
		return 0, c.opError("read", err)
	}
}

// Write queues b for the peer. See Pipe for the contract.
func (c *pipeConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	total := 0
	for {
		// Every byte is delivered: report success even if the peer
		// closed right after reading the last segment.
		if len(b) == 0 && total > 0 {
			return total, nil
		}
		if err := c.writeCheck(); err != nil {
			return total, err
		}
		if len(b) == 0 {
			return total, nil
		}
		// Acquire a slot for the segment. Checked above first, because
		// select picks at random among ready cases.
		select {
		case c.sendSlots <- struct{}{}:
		case <-c.closed:
			return total, c.opError("write", net.ErrClosed)
		case <-c.peer.closed:
			return total, c.opError("write", io.ErrClosedPipe)
		case <-c.writeDeadline.Done():
			return total, c.opError("write", os.ErrDeadlineExceeded)
		}
		seg := b[:min(len(b), maxSegment)]
		// dpipe copies seg and cannot block: fewer than its capacity of
		// messages can be queued (pipeSlots data plus one marker).
		if _, err := c.dp.Write(seg); err != nil {
			<-c.sendSlots
			if c.isClosed() {
				err = net.ErrClosed
			}
			return total, c.opError("write", err)
		}
		total += len(seg)
		b = b[len(seg):]
	}
}

func (c *pipeConn) writeCheck() error {
	switch {
	case c.isClosed():
		return c.opError("write", net.ErrClosed)
	case c.peer.isClosed():
		return c.opError("write", io.ErrClosedPipe)
	case c.writeDeadline.Err() != nil:
		return c.opError("write", os.ErrDeadlineExceeded)
	}
	return nil
}

// Close sends the end-of-stream marker to the peer and closes this end.
// It never blocks. A second Close returns an error matching net.ErrClosed.
func (c *pipeConn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		close(c.closed) // new Writes stop here; blocked ones return
		// The marker goes after every segment queued so far. It cannot
		// block (see pipeSlots) and cannot fail: dp is still open and has
		// no write deadline.
		c.dp.Write(nil)
		c.dp.Close() // wakes a Read blocked in dp
	})
	if !first {
		return c.opError("close", net.ErrClosed)
	}
	return nil
}

// LocalAddr returns the pipe's address (Network "pipe").
func (c *pipeConn) LocalAddr() net.Addr { return pipeAddr{} }

// RemoteAddr returns the pipe's address (Network "pipe").
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr{} }

// SetDeadline sets the read and write deadlines; the zero time clears them.
func (c *pipeConn) SetDeadline(t time.Time) error {
	c.writeDeadline.Set(t)
	return c.dp.SetReadDeadline(t)
}

// SetReadDeadline sets the read deadline; the zero time clears it.
func (c *pipeConn) SetReadDeadline(t time.Time) error {
	return c.dp.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline; the zero time clears it.
func (c *pipeConn) SetWriteDeadline(t time.Time) error {
	c.writeDeadline.Set(t)
	return nil
}
