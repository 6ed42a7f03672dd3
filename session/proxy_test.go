package session_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// localProxy stands for a SOCKS proxy on 127.0.0.1 (ssh -D, Tor): whatever
// it is asked for, the conn it returns is to 127.0.0.1, here the server's
// own listener.
type localProxy struct{ to string }

func (p localProxy) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, p.to)
}

// TestLoginThroughProxy (issue 8): through a caller's Dialer the conn's
// remote address is the proxy's 127.0.0.1, so it says nothing about the
// server; PLAIN and LOGIN go out in cleartext only when the host dialled
// is itself loopback.
func TestLoginThroughProxy(t *testing.T) {
	tests := []struct {
		addr  string
		plain bool // PLAIN allowed in cleartext
	}{
		{"mail.example.com:25", false},
		{"192.0.2.1:587", false},
		{"localhost:25", true},
		{"127.0.0.1:25", true},
		{"[::1]:25", true},
	}
	got, want := map[string]bool{}, map[string]bool{}
	for _, tt := range tests {
		s := newServer(t, smtptest.Config{AuthMechanisms: []string{"PLAIN", "LOGIN"}, Users: map[string]string{user: password}})
		ln, err := s.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("Listen: %v", err)
		}
		o := opts()
		o.Dialer = localProxy{ln.String()}
		c, err := session.Dial(ctxTimeout(t), tt.addr, o)
		if err != nil {
			t.Fatalf("Dial %s: %v", tt.addr, err)
		}
		_, err = c.Login(ctxTimeout(t), user, password)
		c.Close()
		want[tt.addr] = tt.plain
		got[tt.addr] = err == nil
		sent := bytes.Contains(s.Received(), []byte("AUTH "))
		switch {
		case err == nil && !sent:
			t.Errorf("%s: Login succeeded without AUTH", tt.addr)
		case err != nil && (sent || !errors.Is(err, auth.ErrInsecure)):
			t.Errorf("%s: Login error %v (AUTH sent: %v), want auth.ErrInsecure before any AUTH", tt.addr, err, sent)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cleartext PLAIN allowed through a proxy on 127.0.0.1 (-want +got):\n%s", diff)
	}
}
