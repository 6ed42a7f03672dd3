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

// selfWrapper returns itself from NetConn: PeerIsLocal must not loop.
type selfWrapper struct{ fakeConn }

func (s *selfWrapper) NetConn() net.Conn { return s }

// nilWrapper wraps nothing it will show.
type nilWrapper struct{ fakeConn }

func (nilWrapper) NetConn() net.Conn { return nil }

// lyingWrapper reports its own addresses but wraps inner: only inner's
// count.
type lyingWrapper struct {
	fakeConn
	inner net.Conn
}

func (w lyingWrapper) NetConn() net.Conn { return w.inner }

// realConns opens a loopback TCP conn and both ends of a Unix socket conn.
func realConns(t *testing.T) (tcp, unix, unixServer net.Conn) {
	t.Helper()
	ln := listenTCP(t)
	accepted := acceptOne(ln)
	tcp, err := transport.Dial(context.Background(), "tcp", ln.Addr().String(), transport.Options{})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { tcp.Close() })
	if s, ok := <-accepted; ok {
		t.Cleanup(func() { s.Close() })
	}

	path := filepath.Join(t.TempDir(), "sock")
	uln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen unix: %v", err)
	}
	t.Cleanup(func() { uln.Close() })
	uaccepted := acceptOne(uln)
	unix, err = transport.DialUnix(context.Background(), path, transport.Options{})
	if err != nil {
		t.Fatalf("DialUnix: %v", err)
	}
	t.Cleanup(func() { unix.Close() })
	us, ok := <-uaccepted
	if !ok {
		t.Fatal("unix Accept failed")
	}
	t.Cleanup(func() { us.Close() })
	return tcp, unix, us
}

func tcpAddr(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 25} }

func fake(remote net.Addr) fakeConn { return fakeConn{remote: remote} }

func TestPeerIsLocal(t *testing.T) {
	tcp, unix, us := realConns(t)
	pc, ps := transport.Pipe()
	defer pc.Close()
	defer ps.Close()
	public := fake(tcpAddr("192.0.2.1"))
	unixAddr := &net.UnixAddr{Name: "/run/lmtp", Net: "unix"}

	// Without a dialer: the remote address alone (host is ignored).
	direct := []struct {
		name string
		conn net.Conn
		want bool
	}{
		{"tcp 127.0.0.1 (real)", tcp, true},
		{"tcp 127.0.0.1", fake(tcpAddr("127.0.0.1")), true},
		{"tcp 127.3.2.1", fake(tcpAddr("127.3.2.1")), true},
		{"tcp ::1", fake(tcpAddr("::1")), true},
		{"tcp ::ffff:127.0.0.1", fake(tcpAddr("::ffff:127.0.0.1")), true},
		{"udp 127.0.0.1", fake(&net.UDPAddr{IP: net.ParseIP("127.0.0.1")}), true},
		{"ip ::1", fake(&net.IPAddr{IP: net.ParseIP("::1")}), true},
		{"tcp 192.0.2.1", public, false},
		{"tcp 2001:db8::1", fake(tcpAddr("2001:db8::1")), false},
		{"tcp 0.0.0.0", fake(tcpAddr("0.0.0.0")), false},
		{"tcp nil IP", fake(&net.TCPAddr{}), false},
		{"typed nil *TCPAddr", fake((*net.TCPAddr)(nil)), false},
		{"unix (real client)", unix, true},
		{"unix (real server side)", us, true},
		{"tls over loopback", tls.Client(tcp, &tls.Config{}), true},
		{"tls over 192.0.2.1", tls.Client(public, &tls.Config{}), false},
		{"latency over loopback", transport.NewLatencyConn(tcp, 0), true},
		{"tls over latency over unix", tls.Client(transport.NewLatencyConn(unix, 0), &tls.Config{}), true},
		{"pipe", pc, false},
		{"nil remote addr", fake(nil), false},
		{"unknown addr type", fake(fakeAddr{}), false},
		{"self wrapper", &selfWrapper{fake(tcpAddr("127.0.0.1"))}, true},
		{"nil conn", nil, false},
		// Conns whose addresses lie.
		{"unix remote addr on a non-unix conn", fake(unixAddr), false},
		{"unix local addr, public tcp remote", fakeConn{local: unixAddr, remote: tcpAddr("192.0.2.1")}, false},
		{"unix local addr, no remote", fakeConn{local: &net.UnixAddr{Net: "unix"}}, false},
		{"wrapper says loopback, wraps public", lyingWrapper{fake(tcpAddr("127.0.0.1")), public}, false},
		{"wrapper says unix, wraps public", lyingWrapper{fakeConn{local: unixAddr, remote: unixAddr}, public}, false},
		{"wrapper says public, wraps loopback", lyingWrapper{public, tcp}, true},
		{"tls over a lying wrapper", tls.Client(lyingWrapper{fake(tcpAddr("::1")), public}, &tls.Config{}), false},
		{"wrapper hides its conn", nilWrapper{fake(tcpAddr("127.0.0.1"))}, false},
	}
	got, want := map[string]bool{}, map[string]bool{}
	for _, tt := range direct {
		want[tt.name] = tt.want
		got[tt.name] = transport.PeerIsLocal(tt.conn, "mail.example.com", false)
		if l := transport.IsLoopback(tt.conn); l != got[tt.name] {
			t.Errorf("%s: IsLoopback = %v, PeerIsLocal without dialer = %v", tt.name, l, got[tt.name])
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PeerIsLocal without a dialer (-want +got):\n%s", diff)
	}

	// Through a caller's dialer: the dialled host must be loopback too.
	proxied := []struct {
		name string
		conn net.Conn
		host string
		want bool
	}{
		{"remote name", tcp, "mail.example.com", false},
		{"remote IP", tcp, "192.0.2.1", false},
		{"empty host", tcp, "", false},
		{"localhost", tcp, "localhost", true},
		{"LOCALHOST.", tcp, "LOCALHOST.", true},
		{"localhost.example.com", tcp, "localhost.example.com", false},
		{"foo.localhost", tcp, "foo.localhost", false},
		{"127.0.0.1", tcp, "127.0.0.1", true},
		{"127.3.2.1", tcp, "127.3.2.1", true},
		{"::1", tcp, "::1", true},
		{"[::1]", tcp, "[::1]", true},
		{"::1%lo", tcp, "::1%lo", true},
		{"::ffff:127.0.0.1", tcp, "::ffff:127.0.0.1", true},
		{"[::1", tcp, "[::1", false},
		{"host with port", tcp, "127.0.0.1:25", false},
		{"localhost through a remote proxy", public, "localhost", false},
		{"localhost over tls over a remote proxy", tls.Client(public, &tls.Config{}), "localhost", false},
		{"localhost over a lying wrapper", lyingWrapper{fake(tcpAddr("127.0.0.1")), public}, "localhost", false},
		{"localhost over unix", unix, "localhost", true},
		{"remote name over unix", unix, "mail.example.com", false},
		{"localhost over pipe", pc, "localhost", false},
		{"nil conn", nil, "localhost", false},
	}
	got, want = map[string]bool{}, map[string]bool{}
	for _, tt := range proxied {
		want[tt.name] = tt.want
		got[tt.name] = transport.PeerIsLocal(tt.conn, tt.host, true)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PeerIsLocal through a dialer (-want +got):\n%s", diff)
	}
}

// proxyDialer stands for a SOCKS proxy on 127.0.0.1: whatever address it
// is asked for, it connects to the proxy's listener.
type proxyDialer struct {
	proxy string
	asked []string
}

func (p *proxyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	p.asked = append(p.asked, addr)
	var d net.Dialer
	return d.DialContext(ctx, network, p.proxy)
}

// TestPeerIsLocalThroughProxy: through a proxy on 127.0.0.1 the conn's
// remote address is loopback whatever was dialled, so IsLoopback alone
// says yes; PeerIsLocal says yes only for a loopback destination.
func TestPeerIsLocalThroughProxy(t *testing.T) {
	ln := listenTCP(t)
	p := &proxyDialer{proxy: ln.Addr().String()}
	tests := []struct {
		host string
		want bool
	}{
		{"mail.example.com", false},
		{"192.0.2.1", false},
		{"localhost", true},
		{"127.0.0.1", true},
		{"::1", true},
	}
	got, want := map[string]bool{}, map[string]bool{}
	for _, tt := range tests {
		accepted := acceptOne(ln)
		conn, err := transport.Dial(context.Background(), "tcp", net.JoinHostPort(tt.host, "25"), transport.Options{Dialer: p})
		if err != nil {
			t.Fatalf("Dial through proxy: %v", err)
		}
		if s, ok := <-accepted; ok {
			s.Close()
		}
		if !transport.IsLoopback(conn) {
			t.Errorf("%s: the proxied conn's remote address %v is not loopback", tt.host, conn.RemoteAddr())
		}
		want[tt.host] = tt.want
		got[tt.host] = transport.PeerIsLocal(conn, tt.host, true)
		conn.Close()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PeerIsLocal through a proxy on 127.0.0.1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"mail.example.com:25", "192.0.2.1:25", "localhost:25", "127.0.0.1:25", "[::1]:25"}, p.asked); diff != "" {
		t.Errorf("addresses the proxy was asked for (-want +got):\n%s", diff)
	}
}

type fakeAddr struct{}

func (fakeAddr) Network() string { return "carrier-pigeon" }
func (fakeAddr) String() string  { return "127.0.0.1:25" }
