package session

import "errors"

// ErrConcurrentUse: a Client method was called while another call on the
// same Client was in progress (from another goroutine). The second call
// returns it at once, before touching anything: the call in progress
// goes on undisturbed. A Client serves one call at a time; use one per
// goroutine, or a pool. Close is the exception: it may be called from
// anywhere, at any time, to abort the call in progress.
var ErrConcurrentUse = errors.New("session: client used by another call in progress")

// enter marks the start of a call that talks to the server, or returns
// ErrConcurrentUse when one is in progress. Every exported method that
// can fail starts with it (and defers leave); the internal methods they
// share do not, so a call may use another's implementation. The flag is
// one atomic compare-and-swap: nothing of the Client is read before it.
func (c *Client) enter() error {
	if !c.busy.CompareAndSwap(false, true) {
		return ErrConcurrentUse
	}
	return nil
}

// leave ends the call enter started.
func (c *Client) leave() { c.busy.Store(false) }
