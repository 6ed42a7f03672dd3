package session

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/postwire/postwire/protocol"
)

// Sentinel errors. They are returned wrapped (in the typed errors below or
// with fmt.Errorf's %w); test for them with errors.Is.
var (
	// ErrNotSupported: the server did not advertise an extension the call
	// needs (smtplib's SMTPNotSupportedError). Returned inside a
	// *NotSupportedError naming the extension.
	ErrNotSupported = errors.New("session: not supported by the server")

	// ErrServerDisconnected: the connection ended while a reply was
	// expected, or the server answered 421 and closed the channel
	// (smtplib's SMTPServerDisconnected). The cause stays in the chain.
	ErrServerDisconnected = errors.New("session: server disconnected")

	// ErrDeliveryUnknown: the message was sent completely but the
	// connection failed before the server's final reply arrived, so it may
	// or may not have been delivered. Returned inside *UnknownDeliveryError.
	ErrDeliveryUnknown = errors.New("session: delivery status unknown")

	// ErrTimeout: the server did not answer within the per-command
	// time-out of Options.Timeouts (the context's own deadline gives
	// context.DeadlineExceeded instead). The connection is closed.
	ErrTimeout = errors.New("session: timed out waiting for the server")

	// ErrClosed: the Client was closed (Close, Quit, or an earlier fatal
	// error closed the connection) and cannot be used any more.
	ErrClosed = errors.New("session: client closed")

	// ErrMessageTooLarge: the message size is known and exceeds the
	// SIZE limit the server advertised; nothing was sent.
	ErrMessageTooLarge = errors.New("session: message exceeds the server's SIZE limit")

	// ErrHeaderTooLarge: SendMessage found no end of the header block
	// within MaxHeaderBytes.
	ErrHeaderTooLarge = errors.New("session: message header block too large")

	// ErrNoRecipients: SendMail was called without recipients.
	ErrNoRecipients = errors.New("session: no recipients")

	// ErrNilContext: a nil context.Context was passed.
	ErrNilContext = errors.New("session: nil context")
)

// ReplyError is a negative (4xx or 5xx) or otherwise unexpected reply from
// the server (smtplib's SMTPResponseException). The more specific errors
// (SenderRefusedError, DataError, ...) wrap one.
type ReplyError struct {
	Command  string                // the command answered, for display, as logged (AUTH payloads redacted)
	Verb     protocol.Verb         // the command answered (VerbNone: the greeting, or a 421 no command asked for)
	Code     int                   // the reply code, e.g. 550
	Enhanced protocol.EnhancedCode // RFC 3463 enhanced status code; zero when absent
	Text     string                // the reply text, lines joined with "\n"
}

func newReplyError(cmd protocol.Command, r protocol.Reply) *ReplyError {
	return &ReplyError{Command: commandName(cmd), Verb: cmd.Verb, Code: r.Code, Enhanced: r.Enhanced, Text: r.Text()}
}

// commandName is what errors show for cmd.
func commandName(cmd protocol.Command) string {
	switch cmd.Verb {
	case protocol.VerbNone:
		return "greeting"
	case protocol.VerbEndData:
		return "end of data"
	case protocol.VerbBdat:
		return "BDAT"
	}
	return cmd.String()
}

// Error returns "session: <command>: <code> <enhanced> <text>".
func (e *ReplyError) Error() string { return "session: " + e.detail() }

// detail is Error without the package prefix, for the errors that wrap
// one: every session error builds its text from its parts' details.
func (e *ReplyError) detail() string {
	var b strings.Builder
	if e.Command != "" {
		b.WriteString(e.Command)
		b.WriteString(": ")
	}
	b.WriteString(e.reply())
	return b.String()
}

// reply is "<code> <enhanced> <text>", the lines joined with " / ".
func (e *ReplyError) reply() string {
	s := strconv.Itoa(e.Code)
	if enh := e.Enhanced.String(); enh != "" {
		s += " " + enh
	}
	if e.Text != "" {
		s += " " + strings.ReplaceAll(e.Text, "\n", " / ")
	}
	return s
}

// detailer is implemented by the session's errors: their text without
// the "session: " prefix.
type detailer interface{ detail() string }

// detailOf is err's text for use inside another session error.
func detailOf(err error) string {
	if d, ok := err.(detailer); ok {
		return d.detail()
	}
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// Temporary reports whether the reply is a transient failure (4xx): the
// same request may succeed later.
func (e *ReplyError) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// Is makes a 421 reply ("service not available, closing transmission
// channel") match ErrServerDisconnected.
func (e *ReplyError) Is(target error) bool {
	return target == ErrServerDisconnected && e.Code == 421
}

// SenderRefusedError: the server refused the MAIL FROM command
// (smtplib's SMTPSenderRefused). Nothing was delivered.
type SenderRefusedError struct {
	Sender string
	Reply  *ReplyError
}

// Error names the sender and the reply.
func (e *SenderRefusedError) Error() string { return "session: " + e.detail() }

func (e *SenderRefusedError) detail() string {
	return "sender <" + e.Sender + "> refused: " + e.Reply.detail()
}

// Unwrap returns the reply.
func (e *SenderRefusedError) Unwrap() error { return e.Reply }

// RecipientError is one recipient refused by the server, either at RCPT
// or (LMTP) after the data.
type RecipientError struct {
	Recipient string
	Reply     *ReplyError
}

// Error names the recipient and the reply.
func (e *RecipientError) Error() string { return "session: " + e.detail() }

func (e *RecipientError) detail() string {
	return "recipient <" + e.Recipient + "> refused: " + e.Reply.detail()
}

// Unwrap returns the reply.
func (e *RecipientError) Unwrap() error { return e.Reply }

// RecipientsRefusedError: no recipient was accepted (smtplib's
// SMTPRecipientsRefused). Refused lists every recipient with its reply, in
// RCPT order; a recipient given twice appears twice.
type RecipientsRefusedError struct {
	Refused []RecipientError
}

// Error counts the refused recipients and lists the first few.
func (e *RecipientsRefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "session: all %d recipient(s) refused", len(e.Refused))
	for i, r := range e.Refused {
		if i == 3 {
			fmt.Fprintf(&b, "; ...")
			break
		}
		fmt.Fprintf(&b, "; <%s>: %s", r.Recipient, firstLine(r.Reply.reply()))
	}
	return b.String()
}

// Unwrap returns every *RecipientError.
func (e *RecipientsRefusedError) Unwrap() []error {
	errs := make([]error, len(e.Refused))
	for i := range e.Refused {
		errs[i] = &e.Refused[i]
	}
	return errs
}

// Recipient returns the reply that refused addr (compared exactly; the last
// one if addr was given twice), or nil.
func (e *RecipientsRefusedError) Recipient(addr string) *ReplyError {
	return lookupRefused(e.Refused, addr)
}

func lookupRefused(refused []RecipientError, addr string) *ReplyError {
	for i := len(refused) - 1; i >= 0; i-- {
		if refused[i].Recipient == addr {
			return refused[i].Reply
		}
	}
	return nil
}

// DataError: the server refused the DATA command, a BDAT chunk, or the
// message after its end (smtplib's SMTPDataError).
//
// A server may also refuse the message before its end and hang up while
// the client is still writing the body (Postfix's smtp-sink -A 0: 354,
// then at once 550 and a close). The write then fails, but the client
// still reads, briefly, what the server sent before closing: the refusal
// is Reply (Command "end of data" for DATA, "BDAT" for a chunk) and Err is
// the connection's failure, so errors.Is(err, ErrServerDisconnected) also
// holds and the client is closed. The end of the body never left, so the
// message was not delivered.
type DataError struct {
	Reply *ReplyError
	// Err is nil, or the connection failure that followed the reply.
	Err error
}

// Error describes the refusing reply, and the connection failure if any.
func (e *DataError) Error() string { return "session: " + e.detail() }

func (e *DataError) detail() string {
	s := "message refused: " + e.Reply.detail()
	if e.Err != nil {
		s += " (then " + detailOf(e.Err) + ")"
	}
	return s
}

// Unwrap returns the reply and, when set, Err.
func (e *DataError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reply}
	}
	return []error{e.Reply, e.Err}
}

// ConnectError: the connection could not be opened, or the server's
// greeting was not positive (smtplib's SMTPConnectError). Err is the dial
// error or a *ReplyError for the greeting.
type ConnectError struct {
	Addr string
	Err  error
}

// Error names the address and the cause.
func (e *ConnectError) Error() string { return "session: " + e.detail() }

func (e *ConnectError) detail() string {
	if e.Addr == "" {
		return "connect: " + detailOf(e.Err)
	}
	return "connect " + e.Addr + ": " + detailOf(e.Err)
}

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// HeloError: the server refused EHLO/LHLO and HELO (smtplib's
// SMTPHeloError).
type HeloError struct {
	Reply *ReplyError
}

// Error describes the refusing reply.
func (e *HeloError) Error() string { return "session: " + e.detail() }

func (e *HeloError) detail() string { return "hello refused: " + e.Reply.detail() }

// Unwrap returns the reply.
func (e *HeloError) Unwrap() error { return e.Reply }

// AuthError: authentication failed (smtplib's SMTPAuthenticationError).
// Err is the server's *ReplyError, or the mechanism's error (for example
// auth.ErrServerSignature, auth.ErrInsecure, or an *auth.ChooseError when
// no mechanism could be used). Mechanism names the last mechanism tried;
// the text says whether the server refused the mechanism (MechanismRefused)
// or the credentials.
type AuthError struct {
	Mechanism string
	Err       error
}

// Error names the mechanism and the cause.
func (e *AuthError) Error() string { return "session: " + e.detail() }

func (e *AuthError) detail() string {
	s := "authentication failed: "
	if e.Mechanism != "" {
		s = "authentication with " + e.Mechanism + " failed: "
	}
	var re *ReplyError
	switch {
	case e.MechanismRefused():
		s += "mechanism refused: "
	case errors.As(e.Err, &re) && re.Code == 535:
		s += "credentials refused: "
	}
	return s + detailOf(e.Err)
}

// MechanismRefused reports whether the server refused the mechanism
// rather than the credentials, so that another mechanism may be tried
// (RFC 4954 §4 and §6): 504 (unrecognized mechanism, 5.5.4), 534 (too
// weak, 5.7.9), 538 (encryption required, 5.7.11), or another 5xx but
// 535 to the AUTH command itself (as a server that does not implement
// the mechanism answers, 502 or 500). Never 535 (credentials invalid),
// a 4xx (454: a temporary failure, 432: a password transition), or a
// verdict after a challenge was answered.
func (e *AuthError) MechanismRefused() bool {
	var re *ReplyError
	if !errors.As(e.Err, &re) {
		return false
	}
	switch re.Code {
	case 504, 534, 538:
		return true
	case 535:
		return false
	}
	return re.Verb == protocol.VerbAuth && re.Code/100 == 5
}

// Unwrap returns the cause.
func (e *AuthError) Unwrap() error { return e.Err }

// NotSupportedError: the call needs an extension the server did not
// advertise (or that was dropped because the session fell back to HELO).
// It matches ErrNotSupported with errors.Is.
type NotSupportedError struct {
	Extension string // e.g. "STARTTLS", "SMTPUTF8", "DSN"
}

// Error names the missing extension.
func (e *NotSupportedError) Error() string {
	return "session: server does not support " + e.Extension
}

// Is reports target == ErrNotSupported.
func (e *NotSupportedError) Is(target error) bool { return target == ErrNotSupported }

// UnknownDeliveryError: the whole message was sent but the final reply
// never arrived (the connection was lost, the context ended or the time-out
// fired), so delivery may or may not have happened. It matches
// ErrDeliveryUnknown, and its cause (e.g. ErrServerDisconnected,
// context.Canceled) through Unwrap.
type UnknownDeliveryError struct {
	Recipients []string // the recipients whose outcome is unknown
	Err        error    // why the reply is missing
}

// Error gives the cause.
func (e *UnknownDeliveryError) Error() string { return "session: " + e.detail() }

func (e *UnknownDeliveryError) detail() string {
	return "delivery status unknown: " + detailOf(e.Err)
}

// Unwrap returns ErrDeliveryUnknown and the cause.
func (e *UnknownDeliveryError) Unwrap() []error { return []error{ErrDeliveryUnknown, e.Err} }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// wrapErr attaches a sentinel to a cause so that both match errors.Is.
// ErrInternal marks a state the session believes impossible: a bug in
// postwire, reported rather than hidden.
var ErrInternal = errors.New("session: internal error")

type wrapErr struct {
	kind  error
	cause error
}

// Error joins the kind and the cause.
func (e *wrapErr) Error() string {
	return e.kind.Error() + ": " + e.cause.Error()
}

func (e *wrapErr) Unwrap() []error { return []error{e.kind, e.cause} }
