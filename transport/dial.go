// Package transport produces and wraps the net.Conn values that postwire's
// session speaks SMTP over. It knows nothing about SMTP.
//
// There are three kinds of functions:
//
//   - Dialling: Dial (TCP, or any network a ContextDialer accepts), DialTLS
//     (implicit TLS, SMTPS on port 465), DialUnix (LMTP over a Unix socket)
//     and StartTLS (the client handshake over a conn that is already open).
//     All take a context.Context first and honour its cancellation and
//     deadline; failures are typed (*DialError, *HandshakeError) and wrap
//     their cause, so errors.Is(err, context.DeadlineExceeded) and
//     errors.As(err, new(x509.UnknownAuthorityError)) work.
//   - Facts about a conn: PeerIsLocal and IsLoopback (whether a secret may
//     cross it in cleartext: decided from the socket, never from a name it
//     resolved to; through a caller's dialer, also from the host dialled)
//     and TLSExporter (RFC 9266 channel binding).
//   - In-memory conns for tests and embedding: Pipe (a byte-stream pair
//     built on github.com/pion/transport/v3/dpipe) and LatencyConn (adds a
//     round-trip delay and counts round trips, for benchmarks).
//
// Nothing here reads or writes SMTP, starts goroutines that outlive a call,
// or keeps global state.
package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ContextDialer is anything that opens a connection under a context:
// *net.Dialer, a SOCKS or HTTP CONNECT proxy dialer, or a test double.
type ContextDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Options controls how Dial, DialTLS and DialUnix open a connection. The
// zero value dials with no time-out beyond the context, from an address the
// system chooses, with a plain net.Dialer.
type Options struct {
	// Timeout bounds the connect (for DialTLS: the connect and the TLS
	// handshake). Zero means no bound beyond the context's own deadline.
	// It applies to a caller's Dialer too, through the context.
	Timeout time.Duration

	// LocalAddr is the source address to dial from (smtplib's
	// source_address), e.g. &net.TCPAddr{IP: ip}. Nil lets the system
	// choose. It is used only when Dialer is nil: a caller's dialer is used
	// as is.
	LocalAddr net.Addr

	// Dialer opens the connection. Nil means a net.Dialer built from
	// Timeout and LocalAddr. A dialer that ignores its context can make
	// Dial block beyond the context's deadline.
	Dialer ContextDialer
}

// Sentinel errors. They are returned wrapped in *DialError or
// *AddressError; test for them with errors.Is.
var (
	// ErrNilContext: a nil context.Context was passed.
	ErrNilContext = errors.New("transport: nil context")
	// ErrNilConn: a ContextDialer returned neither a conn nor an error,
	// or a nil conn was passed in.
	ErrNilConn = errors.New("transport: nil connection")
	// ErrRelativePath: DialUnix was given a path that is not absolute.
	ErrRelativePath = errors.New("transport: unix socket path is not absolute")
	// ErrMissingHost: an address has no host part.
	ErrMissingHost = errors.New("transport: missing host")
	// ErrBadHost: a host holds white space, control characters or
	// brackets, or a bracketed part is not an IPv6 address.
	ErrBadHost = errors.New("transport: invalid host")
	// ErrBadPort: a port is not a decimal number from 1 to 65535.
	ErrBadPort = errors.New("transport: invalid port")
)

// DialError reports a failed Dial, DialTLS or DialUnix. Err is the cause:
// the dialer's error, the context's error, a *HandshakeError, or one of
// this package's sentinels.
type DialError struct {
	Network string // "tcp", "unix", ...
	Addr    string // the address as the caller gave it
	Err     error
}

func (e *DialError) Error() string {
	// A *net.OpError already names the operation and the address; say
	// them once.
	var op *net.OpError
	if errors.As(e.Err, &op) && op.Op == "dial" {
		return "transport: " + e.Err.Error()
	}
	return fmt.Sprintf("transport: dial %s %s: %v", e.Network, e.Addr, e.Err)
}

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }

// Dial opens a connection to addr on network ("tcp", "tcp4", "tcp6",
// "unix", or whatever the caller's Dialer accepts) and returns it.
//
// ctx bounds the whole call; Options.Timeout, when positive, bounds it
// further. On failure Dial returns a nil conn and a *DialError whose cause
// is the dialer's error; when the context ended first, the cause also
// matches ctx.Err() with errors.Is (context.Canceled or
// context.DeadlineExceeded).
func Dial(ctx context.Context, network, addr string, o Options) (net.Conn, error) {
	if ctx == nil {
		return nil, &DialError{Network: network, Addr: addr, Err: ErrNilContext}
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: o.Timeout, LocalAddr: o.LocalAddr}
	}
	conn, err := d.DialContext(ctx, network, addr)
	switch {
	case err != nil:
		if conn != nil {
			conn.Close()
		}
		return nil, &DialError{Network: network, Addr: addr, Err: withContextCause(ctx, err)}
	case conn == nil:
		return nil, &DialError{Network: network, Addr: addr, Err: ErrNilConn}
	}
	return conn, nil
}

// withContextCause makes err match ctx.Err() with errors.Is when the
// context has ended, even if the dialer reported something else (a
// proxy's own time-out, a wrapped net error).
func withContextCause(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w: %w", cerr, err)
}

// AddressError reports a "host[:port]" string SplitHostPort refused.
type AddressError struct {
	Addr string // the input
	Err  error  // ErrMissingHost, ErrBadHost or ErrBadPort
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("%v: %q", e.Err, e.Addr)
}

// Unwrap returns the cause.
func (e *AddressError) Unwrap() error { return e.Err }

// SplitHostPort splits an smtplib-style address into host and port. It
// accepts "host", "host:port", "[v6]", "[v6]:port" and a bare IPv6 literal
// such as "::1" or "fe80::1%eth0"; when the input has no port, defaultPort
// is returned. Brackets are removed from the host.
//
// It returns an *AddressError wrapping ErrMissingHost for an empty host,
// ErrBadHost for white space, control characters, stray brackets or a
// colon-holding host that is not an IPv6 address, and ErrBadPort for a port
// (or defaultPort) outside 1..65535 or not written in decimal digits.
func SplitHostPort(hostport string, defaultPort int) (host string, port int, err error) {
	fail := func(cause error) (string, int, error) {
		return "", 0, &AddressError{Addr: hostport, Err: cause}
	}
	portStr := ""
	hasPort := false
	switch {
	case strings.HasPrefix(hostport, "["):
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return fail(ErrBadHost)
		}
		host = hostport[1:end]
		rest := hostport[end+1:]
		if rest != "" {
			var ok bool
			if portStr, ok = strings.CutPrefix(rest, ":"); !ok {
				return fail(ErrBadHost)
			}
			hasPort = true
		}
		if host == "" {
			return fail(ErrMissingHost)
		}
		if _, perr := netip.ParseAddr(host); perr != nil || !strings.Contains(host, ":") {
			return fail(ErrBadHost)
		}
	case strings.Count(hostport, ":") > 1:
		// A bare IPv6 literal: the whole string is the host.
		host = hostport
		if _, perr := netip.ParseAddr(host); perr != nil {
			return fail(ErrBadHost)
		}
	default:
		var ok bool
		host, portStr, ok = strings.Cut(hostport, ":")
		hasPort = ok
		if host == "" {
			return fail(ErrMissingHost)
		}
		if strings.ContainsAny(host, "[]") {
			return fail(ErrBadHost)
		}
	}
	for _, r := range host {
		if r <= ' ' || r == 0x7f {
			return fail(ErrBadHost)
		}
	}
	port = defaultPort
	if hasPort {
		if portStr == "" || len(portStr) > 5 || strings.Trim(portStr, "0123456789") != "" {
			return fail(ErrBadPort)
		}
		port, _ = strconv.Atoi(portStr) // at most five digits: cannot fail
	}
	if port < 1 || port > 65535 {
		return fail(ErrBadPort)
	}
	return host, port, nil
}

// hostOf returns the host part of a "host:port" address for use as a TLS
// ServerName, or addr itself when it has no port.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}
