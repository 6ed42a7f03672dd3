package transport

import "net"

// maxUnwrap bounds how many wrappers IsLoopback looks through, so a conn
// that (wrongly) returns itself from NetConn cannot make it loop.
const maxUnwrap = 16

// IsLoopback reports whether c is connected to a peer on this host: its
// remote address is a loopback IP (127.0.0.0/8, ::1, or an IPv4-mapped
// loopback) or it is a Unix domain socket.
//
// The answer comes from the socket addresses only, never from a host name
// the caller dialled (a name can resolve anywhere). Wrappers are looked
// through: *tls.Conn and any conn with a NetConn() net.Conn method (such as
// *LatencyConn). It returns false for a nil conn, a nil or unknown address
// type, and for the in-memory conns of Pipe: an in-process pipe may be
// bridged to anything (a proxy, a test network), so it is not a fact this
// package can assert; callers that know better can decide for themselves.
func IsLoopback(c net.Conn) bool {
	for range maxUnwrap {
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		inner := w.NetConn()
		if inner == nil {
			break
		}
		c = inner
	}
	if c == nil {
		return false
	}
	if loopbackAddr(c.RemoteAddr()) {
		return true
	}
	// An accepted or unnamed Unix socket may report no remote address;
	// the local one still says what kind of socket it is.
	a, ok := c.LocalAddr().(*net.UnixAddr)
	return ok && a != nil
}

func loopbackAddr(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a != nil && a.IP.IsLoopback()
	case *net.UDPAddr:
		return a != nil && a.IP.IsLoopback()
	case *net.IPAddr:
		return a != nil && a.IP.IsLoopback()
	case *net.UnixAddr:
		return a != nil
	}
	return false
}
