package cli_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/transport"
)

func TestExitCode(t *testing.T) {
	reply := func(code int) *session.ReplyError { return &session.ReplyError{Command: "X", Code: code} }
	rcpts := func(codes ...int) error {
		e := &session.RecipientsRefusedError{}
		for i, c := range codes {
			e.Refused = append(e.Refused, session.RecipientError{Recipient: fmt.Sprint(i), Reply: reply(c)})
		}
		return e
	}
	dial := func(err error) error {
		return &session.ConnectError{Addr: "mx:25", Err: &transport.DialError{Network: "tcp", Addr: "mx:25", Err: err}}
	}
	untrusted := &transport.HandshakeError{ServerName: "mx", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, cli.ExitOK},
		{"unknown delivery", &session.UnknownDeliveryError{Err: session.ErrServerDisconnected}, cli.ExitTempFail},
		{"unknown delivery after a time-out", &session.UnknownDeliveryError{Err: session.ErrTimeout}, cli.ExitTempFail},
		{"auth refused", &session.AuthError{Mechanism: "PLAIN", Err: reply(535)}, cli.ExitNoPerm},
		{"auth temporary", &session.AuthError{Mechanism: "PLAIN", Err: reply(454)}, cli.ExitTempFail},
		{"auth insecure", &session.AuthError{Err: auth.ErrInsecure}, cli.ExitNoPerm},
		{"auth no mechanism", &session.AuthError{Err: &auth.ChooseError{Offered: []string{"GSSAPI"}}}, cli.ExitNoPerm},
		{"time-out", fmt.Errorf("%w: %w", session.ErrTimeout, os.ErrDeadlineExceeded), cli.ExitTempFail},
		{"deadline", context.DeadlineExceeded, cli.ExitTempFail},
		{"interrupted", context.Canceled, cli.ExitTempFail},
		{"peer", &protocol.PeerError{Err: protocol.ErrTLSInjection}, cli.ExitProtocol},
		{"peer closing early", &protocol.PeerError{Err: protocol.ErrUnexpectedClose}, cli.ExitTempFail},
		{"usage", &protocol.UsageError{Err: protocol.ErrLineBreak}, cli.ExitDataErr},
		{"argument with a line break", fmt.Errorf("x: %w", protocol.ErrLineBreak), cli.ExitDataErr},
		{"bad argument", fmt.Errorf("x: %w", protocol.ErrInvalidArgument), cli.ExitDataErr},
		{"no sender in the header", codec.ErrNoSender, cli.ExitDataErr},
		{"no recipient in the header", fmt.Errorf("x: %w", codec.ErrNoRecipients), cli.ExitDataErr},
		{"header syntax", &codec.HeaderError{Line: 1}, cli.ExitDataErr},
		{"header too large", session.ErrHeaderTooLarge, cli.ExitDataErr},
		{"message too large", session.ErrMessageTooLarge, cli.ExitDataErr},
		{"address", &codec.AddressError{Addr: "a b", Err: codec.ErrAddressSyntax}, cli.ExitDataErr},
		{"certificate not trusted", untrusted, cli.ExitUnavailable},
		{"handshake cut short", &transport.HandshakeError{ServerName: "mx", Err: io.EOF}, cli.ExitTempFail},
		{"no STARTTLS", &session.NotSupportedError{Extension: "STARTTLS"}, cli.ExitUnavailable},
		{"all recipients refused for good", rcpts(550, 550), cli.ExitUnavailable},
		{"all recipients refused for now", rcpts(450, 452), cli.ExitTempFail},
		{"recipients refused, one for good", rcpts(450, 550), cli.ExitUnavailable},
		{"recipients refused, authentication required", rcpts(550, 530), cli.ExitNoPerm},
		{"message refused for good", &session.DataError{Reply: reply(554)}, cli.ExitDataErr},
		{"message too big for the server", &session.DataError{Reply: reply(552)}, cli.ExitDataErr},
		{"message refused for now", &session.DataError{Reply: reply(451)}, cli.ExitTempFail},
		{"message refused, then hang-up", &session.DataError{Reply: reply(550), Err: session.ErrServerDisconnected}, cli.ExitDataErr},
		{"sender refused", &session.SenderRefusedError{Sender: "a@x", Reply: reply(553)}, cli.ExitUnavailable},
		{"sender refused for now", &session.SenderRefusedError{Sender: "a@x", Reply: reply(451)}, cli.ExitTempFail},
		{"authentication required", &session.SenderRefusedError{Sender: "a@x", Reply: reply(530)}, cli.ExitNoPerm},
		{"greeting refused", &session.ConnectError{Addr: "mx:25", Err: reply(554)}, cli.ExitUnavailable},
		{"greeting 421", &session.ConnectError{Addr: "mx:25", Err: reply(421)}, cli.ExitTempFail},
		{"helo refused", &session.HeloError{Reply: reply(501)}, cli.ExitUnavailable},
		{"421 mid-session", fmt.Errorf("%w: %w", session.ErrServerDisconnected, reply(421)), cli.ExitTempFail},
		{"connection refused", dial(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), cli.ExitTempFail},
		{"no such host", dial(&net.DNSError{Err: "no such host", Name: "mx", IsNotFound: true}), cli.ExitNoHost},
		{"DNS failing", dial(&net.DNSError{Err: "server misbehaving", Name: "mx", IsTemporary: true}), cli.ExitTempFail},
		{"invalid address", dial(&transport.AddressError{Addr: "a b", Err: transport.ErrBadHost}), cli.ExitUsage},
		{"relative socket path", dial(transport.ErrRelativePath), cli.ExitUsage},
		{"server disconnected", session.ErrServerDisconnected, cli.ExitTempFail},
		{"reset", os.NewSyscallError("read", syscall.ECONNRESET), cli.ExitTempFail},
		{"other", errors.New("something odd"), cli.ExitUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cli.ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestRefusedCode(t *testing.T) {
	r := func(code int) *session.ReplyError { return &session.ReplyError{Code: code} }
	tests := []struct {
		replies []*session.ReplyError
		want    int
	}{
		{[]*session.ReplyError{r(452)}, cli.ExitTempFail},
		{[]*session.ReplyError{r(452), r(550)}, cli.ExitUnavailable},
		{[]*session.ReplyError{r(550), r(530), r(452)}, cli.ExitNoPerm},
		{[]*session.ReplyError{nil, r(450)}, cli.ExitTempFail},
	}
	for _, tt := range tests {
		if got := cli.RefusedCode(tt.replies...); got != tt.want {
			t.Errorf("RefusedCode(%v) = %d, want %d", tt.replies, got, tt.want)
		}
	}
}
