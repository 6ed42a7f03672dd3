package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// exporterLabel is the RFC 9266 label for the tls-exporter channel binding.
const exporterLabel = "EXPORTER-Channel-Binding"

// ErrNoServerName: StartTLS had no server name to verify the certificate
// against (cfg.ServerName and serverName both empty) and the caller did not
// opt out of verification.
var ErrNoServerName = errors.New("transport: no server name for certificate verification")

// HandshakeError reports a failed TLS client handshake. Err is the cause
// from crypto/tls (for certificate problems it unwraps to
// *tls.CertificateVerificationError and the x509 error inside it, e.g.
// x509.UnknownAuthorityError or x509.HostnameError) or the context's error.
type HandshakeError struct {
	ServerName string // the name the certificate was checked against
	Err        error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("transport: TLS handshake with %q: %v", e.ServerName, e.Err)
}

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Err }

// clientConfig returns a copy of cfg (never cfg itself) with ServerName
// defaulting to name and MinVersion defaulting to TLS 1.2. Verification
// settings are the caller's: this package never turns verification off.
func clientConfig(cfg *tls.Config, name string) *tls.Config {
	var c *tls.Config
	if cfg == nil {
		c = &tls.Config{}
	} else {
		c = cfg.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = name
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// handshake runs the client handshake of tc under ctx. On failure it closes
// tc (and so the conn under it) and returns a *HandshakeError.
func handshake(ctx context.Context, tc *tls.Conn, serverName string) error {
	if err := tc.HandshakeContext(ctx); err != nil {
		tc.Close()
		return &HandshakeError{ServerName: serverName, Err: withContextCause(ctx, err)}
	}
	return nil
}

// DialTLS opens a connection with implicit TLS (SMTPS, RFC 8314) and
// completes the client handshake before returning.
//
// cfg is cloned, never modified; nil means a default configuration. Its
// ServerName defaults to the host part of addr (an IP address is then
// checked against the certificate's IP SANs) and its MinVersion to TLS 1.2.
// Certificates are verified unless the caller's cfg says otherwise.
// Options.Timeout bounds the connect and the handshake together.
//
// On failure DialTLS returns a nil conn, closes anything it opened, and
// returns a *DialError; a failed handshake is a *HandshakeError inside it.
func DialTLS(ctx context.Context, network, addr string, cfg *tls.Config, o Options) (*tls.Conn, error) {
	if ctx == nil {
		return nil, &DialError{Network: network, Addr: addr, Err: ErrNilContext}
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		o.Timeout = 0 // already in ctx; keep one clock for dial and handshake
	}
	conn, err := Dial(ctx, network, addr, o)
	if err != nil {
		return nil, err
	}
	c := clientConfig(cfg, hostOf(addr))
	tc := tls.Client(conn, c)
	if err := handshake(ctx, tc, c.ServerName); err != nil {
		return nil, &DialError{Network: network, Addr: addr, Err: err}
	}
	return tc, nil
}

// StartTLS runs the TLS client handshake over conn, an open connection on
// which the server has just accepted STARTTLS, and returns the encrypted
// conn to use from now on.
//
// cfg is cloned, never modified; nil means a default configuration. Its
// ServerName defaults to serverName (a "host:port" form is reduced to the
// host) and its MinVersion to TLS 1.2. The handshake honours ctx.
//
// On failure StartTLS closes conn, since its stream is then in an unknown
// state and must not carry cleartext again, and returns a *HandshakeError
// (or ErrNilContext / ErrNilConn / ErrNoServerName, without closing
// anything, for bad arguments).
func StartTLS(ctx context.Context, conn net.Conn, cfg *tls.Config, serverName string) (*tls.Conn, error) {
	if ctx == nil {
		return nil, ErrNilContext
	}
	if conn == nil {
		return nil, ErrNilConn
	}
	name := ""
	if serverName != "" {
		name = hostOf(serverName)
	}
	c := clientConfig(cfg, name)
	if c.ServerName == "" && !c.InsecureSkipVerify {
		return nil, ErrNoServerName
	}
	tc := tls.Client(conn, c)
	if err := handshake(ctx, tc, c.ServerName); err != nil {
		return nil, err
	}
	return tc, nil
}

// TLSExporter returns the RFC 9266 tls-exporter channel binding of c: 32
// bytes of keying material exported with the label
// "EXPORTER-Channel-Binding" and no context. It returns nil when c is nil,
// the handshake has not completed, or the connection is not TLS 1.3 (for
// older versions RFC 9266 does not define the binding as safe).
func TLSExporter(c *tls.Conn) []byte {
	if c == nil {
		return nil
	}
	cs := c.ConnectionState()
	if !cs.HandshakeComplete || cs.Version != tls.VersionTLS13 {
		return nil
	}
	ekm, err := cs.ExportKeyingMaterial(exporterLabel, nil, 32)
	if err != nil {
		return nil
	}
	return ekm
}
