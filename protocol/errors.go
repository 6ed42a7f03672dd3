package protocol

import (
	"errors"
	"strconv"
)

// ErrNeedData is returned by NextEvent when the received bytes do not yet
// hold a complete event. It is not a failure (compare io.EOF): read more from
// the transport, call Receive, and call NextEvent again.
var ErrNeedData = errors.New("protocol: need more data")

// Causes carried by a *PeerError: the server broke the protocol. A PeerError
// is sticky: the Client moves to StateFailed and every later call that can
// fail returns the same *PeerError.
var (
	// ErrLineTooLong: a reply line (including its line ending) is longer
	// than Config.MaxLineLength. It is detected as soon as the limit is
	// passed, without waiting for the end of the line.
	ErrLineTooLong = errors.New("protocol: reply line too long")
	// ErrReplyTooLong: a multiline reply has more than Config.MaxReplyLines lines.
	ErrReplyTooLong = errors.New("protocol: reply has too many lines")
	// ErrMalformedReply: a reply line is not "code[SP text]" or "code-text"
	// with a code between 200 and 599, or holds a CR not followed by LF.
	ErrMalformedReply = errors.New("protocol: malformed reply")
	// ErrCodeMismatch: the lines of a multiline reply carry different codes.
	ErrCodeMismatch = errors.New("protocol: reply code differs between lines")
	// ErrUnsolicited: a reply arrived while no command was waiting for
	// one. (An unasked 421 is not an error: it is an EventReply with a
	// zero Cmd, and the conversation is closed.)
	ErrUnsolicited = errors.New("protocol: reply without a pending command")
	// ErrTLSInjection: the server sent bytes after its 220 reply to STARTTLS
	// and before the TLS handshake finished (the CVE-2011-0411 class of
	// command injection). The connection must be dropped.
	ErrTLSInjection = errors.New("protocol: bytes received between STARTTLS and the TLS handshake")
	// ErrUnexpectedClose: the server closed the connection while a reply
	// was still owed (or in the middle of a reply, a message body or the
	// greeting). If the command pending was VerbEndData the delivery
	// status is unknown.
	ErrUnexpectedClose = errors.New("protocol: connection closed unexpectedly")
)

// Causes carried by a *UsageError: the caller asked for something the
// protocol does not allow now. Nothing was queued and nothing changed.
var (
	// ErrInvalidState: the command is not valid in the current state
	// (for example RCPT before MAIL, or EHLO on an LMTP conversation).
	ErrInvalidState = errors.New("protocol: command not valid in this state")
	// ErrLineBreak: an argument contains CR or LF, which would end the
	// command line early and smuggle another command.
	ErrLineBreak = errors.New("protocol: line break in command argument")
	// ErrInvalidArgument: an argument is malformed: a control character,
	// '<', '>' or a space in an address, a bad ESMTP parameter, a missing
	// or superfluous argument, a non-ASCII address without SMTPUTF8.
	ErrInvalidArgument = errors.New("protocol: invalid command argument")
	// ErrMustWait: the command cannot be queued before the replies to the
	// commands already sent have arrived (the server does not offer
	// PIPELINING, a group-ending command is pending, or the greeting has
	// not arrived yet).
	ErrMustWait = errors.New("protocol: must wait for pending replies")
	// ErrNotAdvertised: the command or parameter needs a service extension
	// the server did not advertise in its EHLO/LHLO reply.
	ErrNotAdvertised = errors.New("protocol: extension not advertised")
	// ErrCommandTooLong: the command line would be longer than the
	// server must accept (RFC 5321 §4.5.3.1.4 and the extensions that
	// raise the limit; see Extensions.MaxLine).
	ErrCommandTooLong = errors.New("protocol: command line too long")
	// ErrClosed: the conversation is over (QUIT answered, 421 received or
	// the peer closed); nothing can be sent or received any more.
	ErrClosed = errors.New("protocol: conversation closed")
)

// PeerError reports that the server violated the protocol. It is sticky:
// once returned, the Client stays in StateFailed.
type PeerError struct {
	State  State // the state the Client was in when the violation was found
	Offset int64 // offset in the received byte stream of the offending line or byte
	Err    error // one of the Err* causes listed with ErrLineTooLong
	// Reply is, for ErrUnsolicited, the complete reply that arrived with
	// no command waiting for it (for example a 550 a server sends after
	// its 354, in StateBody, before hanging up), so that the caller can
	// still report what the server said. It is the zero Reply for every
	// other cause. The reply changed nothing: the Client has failed.
	Reply Reply
}

// Error implements error.
func (e *PeerError) Error() string {
	return e.Err.Error() + " (server, in " + e.State.String() + ", at byte " + strconv.FormatInt(e.Offset, 10) + ")"
}

// Unwrap returns the cause, for errors.Is.
func (e *PeerError) Unwrap() error { return e.Err }

// UsageError reports that the caller asked for something illegal. The
// Client did not change: nothing was queued.
type UsageError struct {
	State State // the state the Client was (and still is) in
	Verb  Verb  // the command refused (VerbNone for Receive, Advance and such)
	Err   error // one of the Err* causes listed with ErrInvalidState
}

// Error implements error.
func (e *UsageError) Error() string {
	if e.Verb == VerbNone {
		return e.Err.Error() + " (in " + e.State.String() + ")"
	}
	return e.Err.Error() + " (" + e.Verb.String() + " in " + e.State.String() + ")"
}

// Unwrap returns the cause, for errors.Is.
func (e *UsageError) Unwrap() error { return e.Err }

// NotAdvertisedError is the cause of a *UsageError for a command or
// parameter that needs an extension the server did not advertise. It
// matches ErrNotAdvertised.
type NotAdvertisedError struct {
	Extension string // the EHLO keyword needed ("CHUNKING", "DSN", ...)
	Param     string // the MAIL/RCPT parameter that needs it, "" for a command
}

func (e *NotAdvertisedError) Error() string {
	if e.Param != "" {
		return ErrNotAdvertised.Error() + ": parameter " + e.Param + " needs " + e.Extension
	}
	return ErrNotAdvertised.Error() + ": " + e.Extension
}

// Unwrap returns ErrNotAdvertised.
func (e *NotAdvertisedError) Unwrap() error { return ErrNotAdvertised }

// ChallengeError is Event.ChallengeErr: a 3xx reply during AUTH whose text
// is not a base64 SASL challenge (RFC 4954 §4). It matches
// ErrMalformedChallenge.
type ChallengeError struct {
	Text string // the reply text as received
	Err  error  // the decoder's error
}

func (e *ChallengeError) Error() string {
	return ErrMalformedChallenge.Error() + ": " + safe(e.Text) + ": " + e.Err.Error()
}

// Unwrap returns ErrMalformedChallenge and the decoder's error.
func (e *ChallengeError) Unwrap() []error { return []error{ErrMalformedChallenge, e.Err} }

// ErrMalformedChallenge: a 3xx reply to AUTH or an AUTH response whose text
// is not base64. It is not a protocol failure by itself (LOGIN servers
// send "334 Username:"), so it comes in Event.ChallengeErr.
var ErrMalformedChallenge = errors.New("protocol: SASL challenge is not base64")

// argError wraps a cause (and maybe an inner error, such as a codec
// *AddressError) with a detail, keeping errors.Is and errors.As working.
type argError struct {
	detail string
	err    error
	inner  error
}

func (e *argError) Error() string {
	s := e.err.Error() + ": " + e.detail
	if e.inner != nil {
		s += ": " + e.inner.Error()
	}
	return s
}

func (e *argError) Unwrap() []error {
	if e.inner == nil {
		return []error{e.err}
	}
	return []error{e.err, e.inner}
}

func invalidArg(detail string) error { return &argError{detail, ErrInvalidArgument, nil} }
