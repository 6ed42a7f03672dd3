package bench

import (
	"net"
	"sync/atomic"
	"time"
)

// TurnConn wraps the client's end of a connection and counts its round
// trips: a Read that follows a Write is the client waiting for the server to
// answer what it sent. Reads that follow reads (the rest of a reply, or
// further replies to the same flight) and writes that follow writes belong
// to the same turn.
//
// With a delay, the first Read of each turn sleeps that long first, as if
// the bytes took delay/2 to reach the server and delay/2 for the answer to
// come back. A pipelined flight pays the delay once, a lock-step exchange
// once per command.
//
// It does what transport.LatencyConn does, without the timer
// LatencyConn allocates for every wait: in this process every allocation
// should be the client's, since allocations per message are measured
// with runtime.MemStats. The sleep does not watch deadlines; a delay of a
// few milliseconds cannot hide a hang.
type TurnConn struct {
	net.Conn
	delay time.Duration
	wrote atomic.Bool  // a Write happened since the last turn began
	turns atomic.Int64 // turns begun
}

// NewTurnConn wraps c; delay is the simulated round-trip time (0: none, the
// turns are still counted).
func NewTurnConn(c net.Conn, delay time.Duration) *TurnConn {
	return &TurnConn{Conn: c, delay: delay}
}

// Turns returns the round trips begun so far.
func (c *TurnConn) Turns() int64 { return c.turns.Load() }

// Read starts a turn if anything was written since the last one began.
func (c *TurnConn) Read(b []byte) (int, error) {
	if c.wrote.Swap(false) {
		c.turns.Add(1)
		if c.delay > 0 {
			time.Sleep(c.delay)
		}
	}
	return c.Conn.Read(b)
}

// Write writes to the wrapped conn and marks that the next Read begins a
// turn.
func (c *TurnConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.wrote.Store(true)
	}
	return n, err
}
