// Package protocol is the sans-I/O core of an SMTP, ESMTP and LMTP client:
// bytes in, events out, commands queued as state transitions. It has no
// sockets, goroutines, clocks, logging or global state; the session layer
// owns the connection and the time-outs.
//
// A Client has four kinds of methods:
//
//   - Getters: State, Extensions, Awaiting, Pending, Accepted, Err, Config,
//     Buffered, and the ledger's Last, Written(h) and Owed(h).
//   - Input from the server: Receive (bytes read), ReceiveEOF (the peer
//     closed), and NextEvent, which returns one Event (the greeting, a
//     Reply matched to the command it answers, "start TLS now", or the
//     close), ErrNeedData, or a *PeerError.
//   - Commands from the application: Send (any Command), SendBody and
//     EndBody (DATA content, dot-stuffed here), SendChunk (BDAT), and
//     TLSDone (the handshake after EventStartTLS finished). Each validates
//     against the state, the advertised extensions and the pipelining
//     rules, and returns a *UsageError without changing anything when the
//     command is not allowed now. Check asks without queuing.
//   - Output: Outgoing (bytes to write) and Advance (how many were written).
//
// The loop that drives it: write Outgoing and Advance; call NextEvent until
// it returns ErrNeedData; then read, Receive (or ReceiveEOF), and repeat.
// Send never writes: with PIPELINING the session may queue several
// commands and flush once.
//
//	for {
//		if out := c.Outgoing(); len(out) > 0 {
//			n, err := conn.Write(out)
//			c.Advance(n)
//			// handle err
//		}
//		ev, err := c.NextEvent()
//		if !errors.Is(err, protocol.ErrNeedData) {
//			return ev, err
//		}
//		n, err := conn.Read(buf)
//		c.Receive(buf[:n])
//		if err == io.EOF {
//			c.ReceiveEOF()
//		}
//	}
//
// Guarantees: no I/O and no blocking; memory bounded by the Config limits
// (a reply line longer than MaxLineLength fails as soon as the limit is
// passed, without waiting for its end); the events and errors do not
// depend on how the input was split across Receive calls; every reply is
// matched to exactly one command, in order (LMTP's per-recipient replies
// to the end of data each name their recipient); nothing is queued after
// StateClosed; a server that breaks the protocol gets a sticky *PeerError
// and a caller that asks for something illegal a *UsageError that changes
// nothing. A negative reply is not an error: it is an Event whose Reply
// says so.
//
// The ledger: Send, SendChunk and EndBody return a Handle, and every Event
// names the Handle it answers and says whether that command is now fully
// answered (Done). Receive matches each complete reply as soon as it
// arrives to the oldest command whose bytes were all written (Advance)
// before the reply's first byte arrived; a reply with no such command
// is ErrUnsolicited (a 421 closes instead, RFC 5321 §3.8). So "354" and
// "250" in one segment, or two replies to one NOOP, never answer a
// command queued or written later, nor does a "250" begun with the 354
// and finished after the body was written: write, Advance, then read. The one case no client can detect is a reply the server sent
// after the client's bytes had left but before the server read them (with
// PIPELINING, an extra reply glued to MAIL's looks exactly like the RCPT's
// that was already written); a server that does that is answering
// commands it has not read, and the caller cannot tell.
//
// Replies: lines end in CRLF or a bare LF; a CR anywhere else in a line is
// ErrMalformedReply, as is a line shorter than three characters, a code
// outside 200-599, or a fourth character other than space or '-'. A bare
// "250" is accepted. RFC 3463 enhanced codes are split out when their
// class equals the reply's first digit; otherwise they stay in the text.
//
// The state machine is in state.go: one table of send rules and one of
// reply rules; testdata/state-table.md renders them.
package protocol
