package protocol_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/postwire/postwire/protocol"
)

// TestQuotedLocalPartWithSpace: RFC 5321 allows a space inside a quoted
// local part; it reaches the wire unchanged, while an unquoted space (which
// would let the rest be read as ESMTP parameters) is still refused.
func TestQuotedLocalPartWithSpace(t *testing.T) {
	c := readyClient(t)
	if _, err := c.Send(protocol.Mail(`"john doe"@example.org`)); err != nil {
		t.Fatalf("Send(MAIL quoted): %v", err)
	}
	if diff := cmp.Diff("MAIL FROM:<\"john doe\"@example.org>\r\n", string(c.Outgoing())); diff != "" {
		t.Errorf("wire (-want +got):\n%s", diff)
	}
	c.Advance(len(c.Outgoing()))
	if _, err := c.Send(protocol.Rcpt(`john doe@example.org`)); err == nil {
		t.Errorf("Send(RCPT with an unquoted space) = nil, want an error")
	}
	if got := string(c.Outgoing()); got != "" {
		t.Errorf("a refused RCPT queued %q", got)
	}
}
