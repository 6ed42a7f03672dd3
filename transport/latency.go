package transport

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v3/deadline"
)

// LatencyConn wraps a net.Conn and simulates network latency by round
// trips: the first Read after a Write first waits rtt (the time for the
// request to reach the peer and the answer to come back), then reads. Reads
// that follow other Reads, and Writes, are not delayed, so a pipelined
// exchange pays one rtt where a lock-step one pays one per command.
//
// RoundTrips counts the completed waits: a deterministic figure ("round
// trips per message") to report next to benchmark timings.
//
// The wait is cut short by the read deadline (the Read then fails with an
// error matching os.ErrDeadlineExceeded) and by Close (net.ErrClosed); an
// interrupted wait is not counted and is taken again by the next Read.
// A LatencyConn is safe for concurrent use to the extent the wrapped conn
// is. It starts no goroutines.
type LatencyConn struct {
	conn net.Conn
	rtt  time.Duration

	wrote  atomic.Bool  // a Write happened since the last completed wait
	trips  atomic.Int64 // completed waits
	readDL *deadline.Deadline

	closeOnce sync.Once
	closed    chan struct{}
}

// NewLatencyConn wraps c, delaying as described on LatencyConn. A negative
// rtt counts as zero (round trips are still counted). If c is nil, every
// I/O method fails with ErrNilConn.
func NewLatencyConn(c net.Conn, rtt time.Duration) *LatencyConn {
	return &LatencyConn{
		conn:   c,
		rtt:    max(rtt, 0),
		readDL: deadline.New(),
		closed: make(chan struct{}),
	}
}

// RoundTrips returns how many write-then-read turnarounds have been waited
// for so far.
func (c *LatencyConn) RoundTrips() int64 { return c.trips.Load() }

// NetConn returns the wrapped conn (IsLoopback looks through it).
func (c *LatencyConn) NetConn() net.Conn { return c.conn }

// Read waits rtt first if this is the first Read after a Write, then reads
// from the wrapped conn.
func (c *LatencyConn) Read(b []byte) (int, error) {
	if c.conn == nil {
		return 0, ErrNilConn
	}
	if c.wrote.Swap(false) {
		if err := c.wait(); err != nil {
			c.wrote.Store(true)
			return 0, c.opError("read", err)
		}
		c.trips.Add(1)
	}
	return c.conn.Read(b)
}

// wait sleeps rtt unless the read deadline passes or the conn is closed.
func (c *LatencyConn) wait() error {
	select {
	case <-c.closed:
		return net.ErrClosed
	case <-c.readDL.Done():
		return os.ErrDeadlineExceeded
	default:
	}
	if c.rtt == 0 {
		return nil
	}
	t := time.NewTimer(c.rtt)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.closed:
		return net.ErrClosed
	case <-c.readDL.Done():
		return os.ErrDeadlineExceeded
	}
}

func (c *LatencyConn) opError(op string, err error) error {
	e := &net.OpError{Op: op, Err: err, Source: c.conn.LocalAddr(), Addr: c.conn.RemoteAddr()}
	if e.Source != nil {
		e.Net = e.Source.Network()
	}
	return e
}

// Write writes to the wrapped conn and marks that the next Read starts a
// new round trip (if anything was written).
func (c *LatencyConn) Write(b []byte) (int, error) {
	if c.conn == nil {
		return 0, ErrNilConn
	}
	n, err := c.conn.Write(b)
	if n > 0 {
		c.wrote.Store(true)
	}
	return n, err
}

// Close interrupts a waiting Read and closes the wrapped conn.
func (c *LatencyConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	if c.conn == nil {
		return ErrNilConn
	}
	return c.conn.Close()
}

// LocalAddr returns the wrapped conn's local address (nil if there is no
// wrapped conn).
func (c *LatencyConn) LocalAddr() net.Addr {
	if c.conn == nil {
		return nil
	}
	return c.conn.LocalAddr()
}

// RemoteAddr returns the wrapped conn's remote address (nil if there is no
// wrapped conn).
func (c *LatencyConn) RemoteAddr() net.Addr {
	if c.conn == nil {
		return nil
	}
	return c.conn.RemoteAddr()
}

// SetDeadline sets the read and write deadlines of the wrapped conn; the
// read deadline also bounds the simulated wait.
func (c *LatencyConn) SetDeadline(t time.Time) error {
	if c.conn == nil {
		return ErrNilConn
	}
	c.readDL.Set(t)
	return c.conn.SetDeadline(t)
}

// SetReadDeadline sets the wrapped conn's read deadline, which also bounds
// the simulated wait.
func (c *LatencyConn) SetReadDeadline(t time.Time) error {
	if c.conn == nil {
		return ErrNilConn
	}
	c.readDL.Set(t)
	return c.conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the wrapped conn's write deadline.
func (c *LatencyConn) SetWriteDeadline(t time.Time) error {
	if c.conn == nil {
		return ErrNilConn
	}
	return c.conn.SetWriteDeadline(t)
}
