package transport

import (
	"net"
	"net/netip"
	"strings"
)

// maxUnwrap bounds how many wrappers PeerIsLocal looks through, so a conn
// that (wrongly) returns itself from NetConn cannot make it loop.
const maxUnwrap = 16

// PeerIsLocal reports whether the peer of c is on this host, which is what
// decides whether a secret may cross c in cleartext (AUTH PLAIN or LOGIN
// without TLS).
//
// viaDialer says that c came from a caller's dialer (Options.Dialer)
// rather than from a plain net.Dialer. Such a dialer may be a proxy (SOCKS,
// ssh -D, Tor) listening on 127.0.0.1, and then c's remote address is the
// proxy's, not the server's. So with viaDialer the peer is local only if
// dialledHost, the host that was asked for, is a loopback literal
// ("127.0.0.1", "::1", "[::1]") or "localhost", and c's remote address is
// loopback as well. Without a dialer, dialledHost is ignored and c's
// remote address alone decides.
//
// The remote address is read from the innermost conn: *tls.Conn and any
// conn with a NetConn() net.Conn method (such as *LatencyConn) are looked
// through, and a wrapper's own RemoteAddr is never trusted over the conn
// it wraps. It is local if it is a loopback IP (127.0.0.0/8, ::1, an
// IPv4-mapped loopback), or if the conn is a *net.UnixConn: a Unix socket
// is recognised by its type, never by addresses another conn reports
// (a LocalAddr or RemoteAddr that is a *net.UnixAddr proves nothing).
//
// It returns false for a nil conn, a nil or unknown address type, and for
// the in-memory conns of Pipe: an in-process pipe may be bridged to
// anything (a proxy, a test network), so it is not a fact this package can
// assert; callers that know better can decide for themselves.
func PeerIsLocal(c net.Conn, dialledHost string, viaDialer bool) bool {
	if viaDialer && !loopbackHost(dialledHost) {
		return false
	}
	c = innermost(c)
	if c == nil {
		return false
	}
	if _, ok := c.(*net.UnixConn); ok {
		return true
	}
	return loopbackAddr(c.RemoteAddr())
}

// IsLoopback reports whether c is connected to a peer on this host, judged
// from c's remote address alone: PeerIsLocal(c, "", false). Through a
// caller's dialer (a proxy) use PeerIsLocal, which also weighs the host
// that was dialled.
func IsLoopback(c net.Conn) bool {
	return PeerIsLocal(c, "", false)
}

// innermost returns the conn at the bottom of c's NetConn chain, or nil
// when a wrapper hides it (NetConn returns nil): the wrapper's own
// addresses are not evidence.
func innermost(c net.Conn) net.Conn {
	for range maxUnwrap {
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = w.NetConn()
	}
	return c
}

// loopbackHost reports whether a dialled host names this host whatever
// resolves it: "localhost" (with or without the root dot, any case) or a
// loopback IP literal, bracketed or not, with or without a zone.
func loopbackHost(h string) bool {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if strings.EqualFold(strings.TrimSuffix(h, "."), "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

func loopbackAddr(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a != nil && a.IP.IsLoopback()
	case *net.UDPAddr:
		return a != nil && a.IP.IsLoopback()
	case *net.IPAddr:
		return a != nil && a.IP.IsLoopback()
	}
	return false
}
