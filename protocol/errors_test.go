package protocol_test

import (
	"errors"
	"testing"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/protocol"
)

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&protocol.PeerError{State: protocol.StateReady, Offset: 42, Err: protocol.ErrMalformedReply},
			"protocol: malformed reply (server, in Ready, at byte 42)"},
		{&protocol.UsageError{State: protocol.StateHello, Verb: protocol.VerbMail, Err: protocol.ErrInvalidState},
			"protocol: command not valid in this state (MAIL in Hello)"},
		{&protocol.UsageError{State: protocol.StateClosed, Err: protocol.ErrClosed},
			"protocol: conversation closed (in Closed)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	// Argument errors name the problem and keep every cause reachable.
	c := greeted(t, protocol.Config{})
	mustSend(t, c, protocol.Ehlo("client.example"))
	mustReceive(t, c, "250 mx\r\n")
	_, err := c.Send(protocol.Mail("a<b"))
	var ue *protocol.UsageError
	var ae *codec.AddressError
	if !errors.As(err, &ue) || !errors.Is(err, protocol.ErrInvalidArgument) || !errors.As(err, &ae) {
		t.Fatalf("Send(MAIL a<b) = %v", err)
	}
	if got, want := err.Error(), `protocol: invalid command argument: address refused: codec: angle bracket or space in address: "a<b" (MAIL in Ready)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestStringers(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{protocol.StateBodyDone.String(), "BodyDone"},
		{protocol.State(200).String(), "State(200)"},
		{protocol.VerbEndData.String(), "END-OF-DATA"},
		{protocol.Verb(200).String(), "Verb(200)"},
		{protocol.EventStartTLS.String(), "StartTLS"},
		{protocol.EventKind(200).String(), "EventKind(200)"},
	} {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
	if err := protocol.NewClient(protocol.Config{}).Err(); err != nil {
		t.Errorf("Err() of a new client = %v", err)
	}
}
