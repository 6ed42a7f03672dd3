package transport_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/transport"
)

func TestDialUnix(t *testing.T) {
	defer test.CheckRoutines(t)()
	path := filepath.Join(t.TempDir(), "lmtp")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	accepted := acceptOne(ln)
	c, err := transport.DialUnix(context.Background(), path, transport.Options{})
	if err != nil {
		t.Fatalf("DialUnix: %v", err)
	}
	defer c.Close()
	s, ok := <-accepted
	if !ok {
		t.Fatal("Accept failed")
	}
	defer s.Close()
	if _, err := s.Write([]byte("220 lmtp\r\n")); err != nil {
		t.Fatalf("server Write: %v", err)
	}
	buf := make([]byte, 10)
	if _, err := c.Read(buf); err != nil || string(buf) != "220 lmtp\r\n" {
		t.Errorf("Read = %q, %v", buf, err)
	}
	if got := c.RemoteAddr().Network(); got != "unix" {
		t.Errorf("network %q, want unix", got)
	}
	if !transport.IsLoopback(c) {
		t.Error("IsLoopback(unix conn) = false")
	}
}

func TestDialUnixErrors(t *testing.T) {
	tests := []struct {
		name string
		path string
		want error
	}{
		{"relative", "var/run/lmtp", transport.ErrRelativePath},
		{"dot relative", "./lmtp", transport.ErrRelativePath},
		{"empty", "", transport.ErrRelativePath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &recordingDialer{}
			c, err := transport.DialUnix(context.Background(), tt.path, transport.Options{Dialer: d})
			var de *transport.DialError
			if c != nil || !errors.Is(err, tt.want) || !errors.As(err, &de) || de.Network != "unix" || de.Addr != tt.path {
				t.Errorf("DialUnix(%q) = %v, %v; want a *DialError wrapping %v", tt.path, c, err, tt.want)
			}
			if len(d.calls) != 0 {
				t.Errorf("dialer was called: %v", d.calls)
			}
		})
	}
	// An absolute path with no listener fails with the dialer's error.
	missing := filepath.Join(t.TempDir(), "absent")
	if _, err := transport.DialUnix(context.Background(), missing, transport.Options{}); err == nil || errors.Is(err, transport.ErrRelativePath) {
		t.Errorf("DialUnix(missing) error = %v, want a dial error", err)
	}
}
