// Package codec holds postwire's pure byte transforms: dot-stuffing of the
// DATA body and its inverse, xtext and ORCPT values (RFC 3461, RFC 6533),
// checks on envelope addresses and the reading of a caller's sender
// (ReversePath: "<>" is the null path), and the envelope of a message taken
// from its header block (the rules of Python smtplib's send_message, its
// lenient address parsing included).
//
// Nothing here does I/O, reads a clock, starts a goroutine or keeps global
// state; every function is safe to call concurrently on distinct values.
// Bad input gives a typed error (usable with errors.Is and errors.As), never
// a panic, and memory use is bounded by the size of the input.
//
// The dot-stuffer comes in two forms over one state machine: StuffState
// (Append / AppendEnd, append-style, for the protocol core) and Stuffer (an
// io.WriteCloser). Its output does not depend on how the body is split
// across calls.
package codec
