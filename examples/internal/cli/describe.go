package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/transport"
)

// ServerError names the server an error happened with; Describe puts the
// address in front of the description.
type ServerError struct {
	Addr string // "mx.example.com:25", or a socket path
	Err  error
}

// Error returns the address and the cause.
func (e *ServerError) Error() string { return e.Addr + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ServerError) Unwrap() error { return e.Err }

// Describe turns an error from the session into one line a person
// understands, such as
//
//	authentication failed: 535 5.7.8 bad credentials
//	the server does not offer STARTTLS
//	all recipients refused: <nobody@example.net> 550 5.1.1 no such user
//
// It looks at the typed errors with errors.As and errors.Is, most specific
// first, and falls back to the error's own text without the package
// prefixes. The result never holds a line break. A nil error gives "".
func Describe(err error) string {
	return strings.ReplaceAll(describe(err), "\n", "; ")
}

func describe(err error) string {
	if err == nil {
		return ""
	}
	var server *ServerError
	if errors.As(err, &server) {
		return server.Addr + ": " + describe(server.Err)
	}
	var (
		unknown   *session.UnknownDeliveryError
		authErr   *session.AuthError
		handshake *transport.HandshakeError
		notSupp   *session.NotSupportedError
		connErr   *session.ConnectError
		sender    *session.SenderRefusedError
		rcpts     *session.RecipientsRefusedError
		data      *session.DataError
		helo      *session.HeloError
		peer      *protocol.PeerError
		usage     *protocol.UsageError
		reply     *session.ReplyError
		addrErr   *transport.AddressError
	)
	switch {
	case errors.As(err, &unknown):
		return "delivery status unknown, the message may have been delivered: " + describe(unknown.Err)
	case errors.As(err, &authErr):
		return describeAuth(authErr)
	case errors.As(err, &handshake):
		return fmt.Sprintf("TLS handshake with %s failed: %s", handshake.ServerName, trim(handshake.Err))
	case errors.As(err, &notSupp):
		return "the server does not offer " + notSupp.Extension
	case errors.As(err, &connErr):
		if errors.As(connErr.Err, &reply) {
			return "the server refused the connection: " + Reply(reply)
		}
		return "cannot connect: " + describeDial(connErr.Err)
	case errors.As(err, &sender):
		return fmt.Sprintf("sender <%s> refused: %s", sender.Sender, Reply(sender.Reply))
	case errors.As(err, &rcpts):
		parts := make([]string, len(rcpts.Refused))
		for i, r := range rcpts.Refused {
			parts[i] = fmt.Sprintf("<%s> %s", r.Recipient, Reply(r.Reply))
		}
		return "all recipients refused: " + strings.Join(parts, "; ")
	case errors.As(err, &data):
		return "message refused: " + Reply(data.Reply)
	case errors.As(err, &helo):
		return "greeting refused: " + Reply(helo.Reply)
	case errors.As(err, &reply) && reply.Code == 421:
		return "the server closed the connection: " + Reply(reply)
	case errors.Is(err, session.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timed out waiting for the server"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, session.ErrServerDisconnected):
		return "the server closed the connection unexpectedly"
	case errors.As(err, &peer):
		return "the server broke the protocol: " + trim(peer.Err)
	case errors.As(err, &usage):
		return "invalid input: " + trim(usage.Err)
	case errors.As(err, &reply):
		return Reply(reply)
	case errors.As(err, &addrErr):
		return fmt.Sprintf("invalid address %q: %s", addrErr.Addr, trim(addrErr.Err))
	}
	return trim(err)
}

// describeDial keeps the part of a dial error that says what went wrong
// ("connection refused", "lookup mx.example: no such host"): the address is
// repeated by every layer otherwise.
func describeDial(err error) string {
	var (
		op      *net.OpError
		sys     *os.SyscallError
		dnsErr  *net.DNSError
		dialErr *transport.DialError
	)
	switch {
	case errors.As(err, &dnsErr):
		return dnsErr.Error()
	case errors.As(err, &sys):
		return sys.Err.Error()
	case errors.As(err, &op):
		return op.Err.Error()
	case errors.As(err, &dialErr) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
		return trim(dialErr.Err)
	}
	return describe(err)
}

func describeAuth(e *session.AuthError) string {
	var (
		reply  *session.ReplyError
		choose *auth.ChooseError
	)
	switch {
	case errors.As(e.Err, &reply):
		return "authentication failed: " + Reply(reply)
	case errors.Is(e.Err, auth.ErrServerSignature):
		return "authentication failed: the server did not prove it knows the password (" + e.Mechanism + ")"
	case errors.Is(e.Err, auth.ErrInsecure):
		return "authentication refused: the password would travel unencrypted (use STARTTLS or implicit TLS)"
	case errors.As(e.Err, &choose):
		return "authentication failed: no usable mechanism among those the server offers (" + strings.Join(choose.Offered, " ") + ")"
	}
	return "authentication failed: " + trim(e.Err)
}

// Reply formats a refusing reply as "550 5.1.1 no such user", the lines of
// a multiline reply joined with " / ".
func Reply(r *session.ReplyError) string {
	if r == nil {
		return "(no reply)"
	}
	s := fmt.Sprint(r.Code)
	if e := r.Enhanced.String(); e != "" {
		s += " " + e
	}
	if r.Text != "" {
		s += " " + strings.ReplaceAll(r.Text, "\n", " / ")
	}
	return s
}

// trim drops the "session: ", "transport: " ... prefixes the packages put
// on their messages: the program names itself already.
func trim(err error) string {
	s := err.Error()
	for _, p := range []string{"session: ", "transport: ", "protocol: ", "auth: ", "codec: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}
