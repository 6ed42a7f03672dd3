package transport_test

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/transport"
)

// selfWrapper returns itself from NetConn: IsLoopback must not loop.
type selfWrapper struct{ fakeConn }

func (s *selfWrapper) NetConn() net.Conn { return s }

// nilWrapper wraps nothing.
type nilWrapper struct{ fakeConn }

func (nilWrapper) NetConn() net.Conn { return nil }

func TestIsLoopback(t *testing.T) {
	ln := listenTCP(t)
	accepted := acceptOne(ln)
	tcp, err := transport.Dial(context.Background(), "tcp", ln.Addr().String(), transport.Options{})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer tcp.Close()
	if s, ok := <-accepted; ok {
		defer s.Close()
	}

	path := filepath.Join(t.TempDir(), "sock")
	uln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen unix: %v", err)
	}
	defer uln.Close()
	uaccepted := acceptOne(uln)
	unix, err := transport.DialUnix(context.Background(), path, transport.Options{})
	if err != nil {
		t.Fatalf("DialUnix: %v", err)
	}
	defer unix.Close()
	us, ok := <-uaccepted
	if !ok {
		t.Fatal("unix Accept failed")
	}
	defer us.Close()

	pc, ps := transport.Pipe()
	defer pc.Close()
	defer ps.Close()

	tcpAddr := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 25} }
	fake := func(remote net.Addr) fakeConn { return fakeConn{remote: remote} }
	tests := []struct {
		name string
		conn net.Conn
		want bool
	}{
		{"tcp 127.0.0.1 (real)", tcp, true},
		{"tcp 127.0.0.1", fake(tcpAddr("127.0.0.1")), true},
		{"tcp 127.3.2.1", fake(tcpAddr("127.3.2.1")), true},
		{"tcp ::1", fake(tcpAddr("::1")), true},
		{"tcp ::ffff:127.0.0.1", fake(tcpAddr("::ffff:127.0.0.1")), true},
		{"tcp 192.0.2.1", fake(tcpAddr("192.0.2.1")), false},
		{"tcp 2001:db8::1", fake(tcpAddr("2001:db8::1")), false},
		{"tcp nil IP", fake(&net.TCPAddr{}), false},
		{"typed nil *TCPAddr", fake((*net.TCPAddr)(nil)), false},
		{"unix (real client)", unix, true},
		{"unix (real server side)", us, true},
		{"unix address", fake(&net.UnixAddr{Name: "/run/lmtp", Net: "unix"}), true},
		{"unix local, no remote", fakeConn{local: &net.UnixAddr{Name: "", Net: "unix"}}, true},
		{"tls over loopback", tls.Client(tcp, &tls.Config{}), true},
		{"tls over 192.0.2.1", tls.Client(fake(tcpAddr("192.0.2.1")), &tls.Config{}), false},
		{"latency over loopback", transport.NewLatencyConn(tcp, 0), true},
		{"tls over latency over unix", tls.Client(transport.NewLatencyConn(unix, 0), &tls.Config{}), true},
		{"pipe", pc, false},
		{"nil remote addr", fake(nil), false},
		{"unknown addr type", fake(fakeAddr{}), false},
		{"self wrapper", &selfWrapper{fake(tcpAddr("127.0.0.1"))}, true},
		{"nil wrapper", nilWrapper{fake(tcpAddr("127.0.0.1"))}, true},
		{"nil conn", nil, false},
	}
	got := map[string]bool{}
	want := map[string]bool{}
	for _, tt := range tests {
		got[tt.name] = transport.IsLoopback(tt.conn)
		want[tt.name] = tt.want
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IsLoopback (-want +got):\n%s", diff)
	}
}

type fakeAddr struct{}

func (fakeAddr) Network() string { return "carrier-pigeon" }
func (fakeAddr) String() string  { return "127.0.0.1:25" }
