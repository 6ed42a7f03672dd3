package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/transport"
)

// Exit statuses, from BSD's sysexits.h, so that a script (or an MTA calling
// a program as its mailer) can tell a failure worth retrying from one that
// is not.
const (
	ExitOK          = 0  // EX_OK: every recipient accepted
	ExitUsage       = 64 // EX_USAGE: bad flags or arguments
	ExitDataErr     = 65 // EX_DATAERR: the message or an address is malformed, or the server refused the message itself (5xx at its end)
	ExitNoInput     = 66 // EX_NOINPUT: an input file (such as -cafile) cannot be read
	ExitNoHost      = 68 // EX_NOHOST: the server's host name does not exist
	ExitUnavailable = 69 // EX_UNAVAILABLE: refused for good (5xx), STARTTLS missing, certificate not trusted, or a failure of no known kind
	ExitIOErr       = 74 // EX_IOERR: reading the message failed
	ExitTempFail    = 75 // EX_TEMPFAIL: try again later: a 4xx reply, no connection, a time-out, the connection lost, delivery unknown
	ExitProtocol    = 76 // EX_PROTOCOL: the server broke the SMTP protocol
	ExitNoPerm      = 77 // EX_NOPERM: authentication failed, or the server requires it (530)
)

// ExitCode returns the exit status for an error from the session: 0 for
// nil, else one of the statuses above. The most telling fact decides, in
// this order:
//
//   - delivery unknown (the message was sent, no final reply): 75, since
//     the mail may be retried; a retry may deliver it twice
//   - authentication failed: 77, or 75 when the server said 4xx
//   - a time-out, the context's end, or interruption: 75
//   - the server broke the protocol: 76 (closing the connection early is
//     the connection lost, below)
//   - a malformed message header or address: 65
//   - a TLS certificate not trusted, or STARTTLS not offered: 69
//   - a refusing reply: 530 gives 77; any other 4xx 75; a 5xx to the
//     message (after its data) 65, any other 5xx 69. With several
//     refusals (every recipient refused), one 5xx among them makes it
//     permanent.
//   - the connection could not be made: 68 for a host that does not exist,
//     64 for an invalid address, 75 otherwise (as sysexits.h says of a
//     mailer that "could not create a connection")
//   - the connection was lost: 75
//   - anything else: 69
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		authErr *session.AuthError
		peer    *protocol.PeerError
		usage   *protocol.UsageError
		rcpts   *session.RecipientsRefusedError
		data    *session.DataError
		reply   *session.ReplyError
		notSupp *session.NotSupportedError
		verify  *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, session.ErrDeliveryUnknown):
		return ExitTempFail
	case errors.As(err, &authErr):
		if errors.As(authErr.Err, &reply) && reply.Temporary() {
			return ExitTempFail
		}
		return ExitNoPerm
	case errors.Is(err, session.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ExitTempFail
	case errors.As(err, &peer) && !errors.Is(peer.Err, protocol.ErrUnexpectedClose): // a close is no violation
		return ExitProtocol
	case errors.As(err, &usage), isMessageError(err):
		return ExitDataErr
	case errors.As(err, &verify), errors.As(err, &notSupp):
		return ExitUnavailable
	case errors.As(err, &rcpts):
		replies := make([]*session.ReplyError, len(rcpts.Refused))
		for i, r := range rcpts.Refused {
			replies[i] = r.Reply
		}
		return RefusedCode(replies...)
	case errors.As(err, &data) && data.Reply != nil && data.Reply.Code/100 == 5 && data.Reply.Code != 530:
		return ExitDataErr
	case errors.As(err, &reply):
		return RefusedCode(reply)
	}
	return connectionCode(err)
}

// RefusedCode is the exit status for refusing replies, such as those of
// the recipients a server refused while it accepted others: 77 if one is
// 530 (authentication required), else 69 if one is permanent (5xx), else
// 75.
func RefusedCode(replies ...*session.ReplyError) int {
	code := ExitTempFail
	for _, r := range replies {
		switch {
		case r == nil:
		case r.Code == 530:
			return ExitNoPerm
		case !r.Temporary():
			code = ExitUnavailable
		}
	}
	return code
}

// isMessageError reports errors about the message's content or addresses.
func isMessageError(err error) bool {
	var (
		header *codec.HeaderError
		addr   *codec.AddressError
	)
	return errors.As(err, &header) || errors.As(err, &addr) ||
		errors.Is(err, codec.ErrNoSender) || errors.Is(err, codec.ErrNoRecipients) ||
		errors.Is(err, codec.ErrMultipleResent) || errors.Is(err, session.ErrHeaderTooLarge) ||
		errors.Is(err, protocol.ErrLineBreak) || errors.Is(err, protocol.ErrInvalidArgument) ||
		errors.Is(err, session.ErrMessageTooLarge) || errors.Is(err, session.ErrNoRecipients)
}

// connectionCode classifies what is left: failures to connect, and
// connections lost.
func connectionCode(err error) int {
	var (
		dns     *net.DNSError
		addrErr *transport.AddressError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return ExitNoHost
	case errors.As(err, &addrErr), errors.Is(err, transport.ErrRelativePath):
		return ExitUsage
	case errors.As(err, &dns), errors.Is(err, session.ErrServerDisconnected), errors.Is(err, protocol.ErrUnexpectedClose),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return ExitTempFail
	}
	return ExitUnavailable
}
