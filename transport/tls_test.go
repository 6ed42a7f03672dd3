package transport_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/transport"
)

// tlsServer accepts one conn on ln, runs a TLS server handshake (after
// reading "STARTTLS\r\n" first when starttls is set) and reports the
// server's exporter value, or nil if the handshake failed.
func tlsServer(ln net.Listener, cfg *tls.Config, starttls bool) <-chan []byte {
	out := make(chan []byte, 1)
	go func() {
		defer close(out)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if starttls {
			buf := make([]byte, len("STARTTLS\r\n"))
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
		out <- serverHandshake(c, cfg)
	}()
	return out
}

// serverHandshake runs the server side over c and returns its exporter
// (nil on failure or before TLS 1.3).
func serverHandshake(c net.Conn, cfg *tls.Config) []byte {
	sc := tls.Server(c, cfg)
	if err := sc.HandshakeContext(context.Background()); err != nil {
		return nil
	}
	ekm := transport.TLSExporter(sc)
	// Wait for the client to close, so the client sees the handshake
	// complete even for TLS 1.3 where it finishes first.
	buf := make([]byte, 1)
	sc.Read(buf)
	return ekm
}

func TestDialTLS(t *testing.T) {
	defer test.CheckRoutines(t)()
	p := loadPKI(t)
	tests := []struct {
		name     string
		cfg      *tls.Config
		addrHost string // host to dial instead of 127.0.0.1
		wantErr  func(error) bool
	}{
		{name: "trusted root, IP name", cfg: &tls.Config{RootCAs: p.pool}},
		{name: "trusted root, localhost", cfg: &tls.Config{RootCAs: p.pool}, addrHost: "localhost"},
		{name: "system roots", cfg: nil, wantErr: isUnknownAuthority},
		{name: "wrong server name", cfg: &tls.Config{RootCAs: p.pool, ServerName: "mx.example"}, wantErr: isHostnameError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listenTCP(t)
			defer ln.Close()
			server := tlsServer(ln, p.serverConfig(0), false)
			addr := ln.Addr().String()
			if tt.addrHost != "" {
				addr = net.JoinHostPort(tt.addrHost, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
			}
			var before tls.Config
			if tt.cfg != nil {
				before = *tt.cfg.Clone()
			}
			c, err := transport.DialTLS(context.Background(), "tcp", addr, tt.cfg, transport.Options{})
			if tt.wantErr != nil {
				if c != nil {
					t.Error("DialTLS returned a conn with an error")
				}
				var de *transport.DialError
				var he *transport.HandshakeError
				if !errors.As(err, &de) || !errors.As(err, &he) || !tt.wantErr(err) {
					t.Fatalf("DialTLS error = %v (%T), want *DialError around *HandshakeError of the right kind", err, err)
				}
				<-server
				return
			}
			if err != nil {
				t.Fatalf("DialTLS: %v", err)
			}
			if tt.cfg != nil && tt.cfg.ServerName != before.ServerName || tt.cfg != nil && tt.cfg.MinVersion != before.MinVersion {
				t.Errorf("DialTLS modified the caller's config")
			}
			cs := c.ConnectionState()
			if cs.Version != tls.VersionTLS13 {
				t.Errorf("version %x, want TLS 1.3", cs.Version)
			}
			clientEKM := transport.TLSExporter(c)
			c.Close()
			serverEKM := <-server
			if len(clientEKM) != 32 {
				t.Fatalf("client exporter has %d bytes, want 32", len(clientEKM))
			}
			if diff := cmp.Diff(serverEKM, clientEKM); diff != "" {
				t.Errorf("exporters differ (-server +client):\n%s", diff)
			}
		})
	}
}

func isUnknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}

func isHostnameError(err error) bool {
	var he x509.HostnameError
	return errors.As(err, &he)
}

func TestStartTLS(t *testing.T) {
	defer test.CheckRoutines(t)()
	p := loadPKI(t)
	tests := []struct {
		name       string
		cfg        *tls.Config
		serverName string
		maxVersion uint16
		wantErr    func(error) bool
		wantEKM    bool
	}{
		{name: "TLS 1.3 exporter", cfg: &tls.Config{RootCAs: p.pool}, serverName: "localhost", wantEKM: true},
		{name: "host:port server name", cfg: &tls.Config{RootCAs: p.pool}, serverName: "localhost:25", wantEKM: true},
		{name: "TLS 1.2 has no exporter binding", cfg: &tls.Config{RootCAs: p.pool}, serverName: "localhost", maxVersion: tls.VersionTLS12},
		{name: "unknown authority", cfg: &tls.Config{}, serverName: "localhost", wantErr: isUnknownAuthority},
		{name: "wrong name", cfg: &tls.Config{RootCAs: p.pool}, serverName: "mx.example", wantErr: isHostnameError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listenTCP(t)
			defer ln.Close()
			server := tlsServer(ln, p.serverConfig(tt.maxVersion), true)
			conn, err := transport.Dial(context.Background(), "tcp", ln.Addr().String(), transport.Options{})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			if _, err := conn.Write([]byte("STARTTLS\r\n")); err != nil {
				t.Fatalf("Write: %v", err)
			}
			c, err := transport.StartTLS(context.Background(), conn, tt.cfg, tt.serverName)
			if tt.wantErr != nil {
				var he *transport.HandshakeError
				if !errors.As(err, &he) || !tt.wantErr(err) || c != nil {
					t.Fatalf("StartTLS = %v, %v (%T); want nil and a *HandshakeError of the right kind", c, err, err)
				}
				if _, err := conn.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
					t.Errorf("conn after failed StartTLS: Write error %v, want net.ErrClosed", err)
				}
				<-server
				return
			}
			if err != nil {
				t.Fatalf("StartTLS: %v", err)
			}
			if got := c.ConnectionState().ServerName; got != "localhost" {
				t.Errorf("ServerName %q, want localhost", got)
			}
			if tt.cfg.ServerName != "" {
				t.Errorf("StartTLS modified the caller's config")
			}
			clientEKM := transport.TLSExporter(c)
			c.Close()
			serverEKM := <-server
			if !tt.wantEKM {
				if clientEKM != nil || serverEKM != nil {
					t.Errorf("exporters %x / %x, want nil below TLS 1.3", clientEKM, serverEKM)
				}
				return
			}
			if len(clientEKM) != 32 {
				t.Fatalf("client exporter has %d bytes, want 32", len(clientEKM))
			}
			if diff := cmp.Diff(serverEKM, clientEKM); diff != "" {
				t.Errorf("exporters differ (-server +client):\n%s", diff)
			}
		})
	}
}

// TestStartTLSOverPipe runs a TLS handshake and data over Pipe: TLS records
// are bigger than most Reads, so this fails if the pipe loses bytes on short
// reads.
func TestStartTLSOverPipe(t *testing.T) {
	defer test.CheckRoutines(t)()
	p := loadPKI(t)
	client, server := transport.Pipe()
	bound(client, server)
	done := make(chan []byte, 1)
	go func() {
		defer server.Close()
		sc := tls.Server(server, p.serverConfig(0))
		if err := sc.Handshake(); err != nil {
			done <- nil
			return
		}
		ekm := transport.TLSExporter(sc)
		buf := make([]byte, 4)
		if _, err := sc.Read(buf); err == nil {
			sc.Write(buf)
		}
		sc.Close()
		done <- ekm
	}()
	c, err := transport.StartTLS(context.Background(), client, &tls.Config{RootCAs: p.pool}, "localhost")
	if err != nil {
		t.Fatalf("StartTLS over Pipe: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("NOOP")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if string(buf) != "NOOP" {
		t.Errorf("echo %q, want NOOP", buf)
	}
	serverEKM := <-done
	if diff := cmp.Diff(serverEKM, transport.TLSExporter(c)); diff != "" || serverEKM == nil {
		t.Errorf("exporters differ or nil (-server +client):\n%s", diff)
	}
}

func TestStartTLSBadArguments(t *testing.T) {
	client, server := transport.Pipe()
	defer client.Close()
	defer server.Close()
	tests := []struct {
		name string
		ctx  context.Context
		conn net.Conn
		sn   string
		want error
	}{
		{"nil ctx", nil, client, "localhost", transport.ErrNilContext},
		{"nil conn", context.Background(), nil, "localhost", transport.ErrNilConn},
		{"no server name", context.Background(), client, "", transport.ErrNoServerName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := transport.StartTLS(tt.ctx, tt.conn, nil, tt.sn)
			if c != nil || !errors.Is(err, tt.want) {
				t.Errorf("StartTLS = %v, %v; want nil, %v", c, err, tt.want)
			}
		})
	}
	if transport.TLSExporter(nil) != nil {
		t.Error("TLSExporter(nil) != nil")
	}
}
