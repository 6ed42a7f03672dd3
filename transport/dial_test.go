package transport_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/transport"
)

func TestDialLoopback(t *testing.T) {
	defer test.CheckRoutines(t)()
	ln := listenTCP(t)
	defer ln.Close()
	accepted := acceptOne(ln)
	c, err := transport.Dial(context.Background(), "tcp", ln.Addr().String(), transport.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	s, ok := <-accepted
	if !ok {
		t.Fatal("Accept failed")
	}
	defer s.Close()
	if _, err := c.Write([]byte("EHLO x\r\n")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	buf := make([]byte, 8)
	if _, err := s.Read(buf); err != nil {
		t.Fatalf("server Read: %v", err)
	}
	if diff := cmp.Diff("EHLO x\r\n", string(buf)); diff != "" {
		t.Errorf("server got (-want +got):\n%s", diff)
	}
}

func TestDialLocalAddr(t *testing.T) {
	// Linux routes all of 127.0.0.0/8 to lo, so a source other than the
	// listener's own address proves LocalAddr was used; elsewhere only
	// 127.0.0.1 is configured by default.
	src := net.IPv4(127, 0, 0, 1)
	if runtime.GOOS == "linux" {
		src = net.IPv4(127, 0, 0, 2)
	}
	ln := listenTCP(t)
	accepted := acceptOne(ln)
	c, err := transport.Dial(context.Background(), "tcp", ln.Addr().String(),
		transport.Options{LocalAddr: &net.TCPAddr{IP: src}})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	s, ok := <-accepted
	if !ok {
		t.Fatal("Accept failed")
	}
	defer s.Close()
	got := s.RemoteAddr().(*net.TCPAddr).IP
	if !got.Equal(src) {
		t.Errorf("server saw source %v, want %v", got, src)
	}
	if lp, sp := c.LocalAddr().(*net.TCPAddr).Port, s.RemoteAddr().(*net.TCPAddr).Port; lp != sp {
		t.Errorf("client local port %d, server saw %d", lp, sp)
	}
}

// recordingDialer records every call and delegates to a net.Dialer.
type recordingDialer struct {
	mu    sync.Mutex
	calls []string
}

func (d *recordingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.calls = append(d.calls, network+" "+addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func TestDialCustomDialer(t *testing.T) {
	ln := listenTCP(t)
	accepted := acceptOne(ln)
	d := &recordingDialer{}
	c, err := transport.Dial(context.Background(), "tcp", ln.Addr().String(), transport.Options{Dialer: d})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c.Close()
	if s, ok := <-accepted; ok {
		s.Close()
	}
	if diff := cmp.Diff([]string{"tcp " + ln.Addr().String()}, d.calls); diff != "" {
		t.Errorf("dialer calls (-want +got):\n%s", diff)
	}
}

// blockingDialer blocks until its context ends, as a dialer to an
// unreachable host does, and reports how it ended the way a proxy might:
// wrapped, or not mentioning the context at all.
type blockingDialer struct{ opaque bool }

func (d blockingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	<-ctx.Done()
	if d.opaque {
		return nil, errors.New("proxy: gave up")
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
}

// nilDialer breaks the ContextDialer contract: no conn and no error.
type nilDialer struct{}

func (nilDialer) DialContext(context.Context, string, string) (net.Conn, error) { return nil, nil }

func TestDialErrors(t *testing.T) {
	defer test.CheckRoutines(t)()
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancelExpired()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		o    transport.Options
		want error
	}{
		{"options timeout", context.Background(), transport.Options{Timeout: time.Millisecond, Dialer: blockingDialer{}}, context.DeadlineExceeded},
		{"ctx deadline", expired, transport.Options{Dialer: blockingDialer{}}, context.DeadlineExceeded},
		{"ctx canceled", canceled, transport.Options{Dialer: blockingDialer{}}, context.Canceled},
		{"dialer hides ctx error", canceled, transport.Options{Dialer: blockingDialer{opaque: true}}, context.Canceled},
		{"default dialer, expired ctx", expired, transport.Options{}, context.DeadlineExceeded},
		{"nil conn and nil error", context.Background(), transport.Options{Dialer: nilDialer{}}, transport.ErrNilConn},
		{"nil ctx", nil, transport.Options{}, transport.ErrNilContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := transport.Dial(tt.ctx, "tcp", "192.0.2.1:25", tt.o)
			if c != nil {
				c.Close()
				t.Errorf("Dial returned a conn with error %v", err)
			}
			if diff := cmp.Diff(tt.want, err, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			var de *transport.DialError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DialError", err, err)
			}
			if diff := cmp.Diff(transport.DialError{Network: "tcp", Addr: "192.0.2.1:25"}, *de,
				cmpopts.IgnoreFields(transport.DialError{}, "Err")); diff != "" {
				t.Errorf("DialError (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitHostPort(t *testing.T) {
	type result struct {
		Host string
		Port int
	}
	tests := []struct {
		in   string
		want result
		err  error
	}{
		{"mx.example", result{"mx.example", 25}, nil},
		{"mx.example:587", result{"mx.example", 587}, nil},
		{"127.0.0.1:2525", result{"127.0.0.1", 2525}, nil},
		{"[::1]:465", result{"::1", 465}, nil},
		{"[::1]", result{"::1", 25}, nil},
		{"::1", result{"::1", 25}, nil},
		{"2001:db8::1", result{"2001:db8::1", 25}, nil},
		{"fe80::1%eth0", result{"fe80::1%eth0", 25}, nil},
		{"[fe80::1%eth0]:24", result{"fe80::1%eth0", 24}, nil},
		{"localhost:65535", result{"localhost", 65535}, nil},
		{"localhost:00025", result{"localhost", 25}, nil},
		{"", result{}, transport.ErrMissingHost},
		{":25", result{}, transport.ErrMissingHost},
		{"[]:25", result{}, transport.ErrMissingHost},
		{"host:", result{}, transport.ErrBadPort},
		{"host:smtp", result{}, transport.ErrBadPort},
		{"host:+25", result{}, transport.ErrBadPort},
		{"host:0", result{}, transport.ErrBadPort},
		{"host:65536", result{}, transport.ErrBadPort},
		{"host:123456", result{}, transport.ErrBadPort},
		{"[::1]:", result{}, transport.ErrBadPort},
		{"[::1]x", result{}, transport.ErrBadHost},
		{"[::1", result{}, transport.ErrBadHost},
		{"[mx.example]:25", result{}, transport.ErrBadHost},
		{"[127.0.0.1]:25", result{}, transport.ErrBadHost},
		{"mx]:25", result{}, transport.ErrBadHost},
		{"a:b:c", result{}, transport.ErrBadHost},
		{"mx.example\r\nQUIT:25", result{}, transport.ErrBadHost},
		{"mx example", result{}, transport.ErrBadHost},
		{"mx\x00", result{}, transport.ErrBadHost},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			host, port, err := transport.SplitHostPort(tt.in, 25)
			if diff := cmp.Diff(tt.want, result{host, port}); diff != "" {
				t.Errorf("SplitHostPort(%q) (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.err, err, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("SplitHostPort(%q) error (-want +got):\n%s", tt.in, diff)
			}
			if err != nil {
				var ae *transport.AddressError
				if !errors.As(err, &ae) || ae.Addr != tt.in {
					t.Errorf("error %v is not an *AddressError for %q", err, tt.in)
				}
			}
		})
	}
	if _, _, err := transport.SplitHostPort("mx.example", 0); !errors.Is(err, transport.ErrBadPort) {
		t.Errorf("default port 0: err = %v, want ErrBadPort", err)
	}
}

func TestDialErrorNamesAddressOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = transport.Dial(context.Background(), "tcp", addr, transport.Options{})
	if err == nil {
		t.Fatalf("Dial(%s) to a closed port succeeded", addr)
	}
	if n := strings.Count(err.Error(), addr); n != 1 {
		t.Errorf("error %q names the address %d times, want once", err, n)
	}
	var de *transport.DialError
	if !errors.As(err, &de) || de.Addr != addr {
		t.Errorf("error %v: want *DialError for %s", err, addr)
	}
}
