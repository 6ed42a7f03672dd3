package transport_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/postwire/postwire/transport"
)

// ExamplePipe shows the stream semantics Pipe adds to dpipe: a short Read
// loses nothing, and Close reaches the peer as io.EOF after the data.
func ExamplePipe() {
	client, server := transport.Pipe()
	defer client.Close()

	server.Write([]byte("220 mx.example ESMTP\r\n"))
	server.Close()

	head := make([]byte, 4) // shorter than the message
	n, _ := client.Read(head)
	rest, err := io.ReadAll(client) // reads to io.EOF
	fmt.Printf("%q %q %v\n", head[:n], rest, err)
	// Output: "220 " "mx.example ESMTP\r\n" <nil>
}

// Through a caller's Dialer (here a stand-in for a SOCKS proxy on
// 127.0.0.1) the conn's remote address is loopback whatever was dialled:
// only the dialled host tells whether the server is local.
func ExamplePeerIsLocal() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	proxy := dialFunc(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, ln.Addr().String())
	})
	for _, host := range []string{"mail.example.com", "localhost"} {
		conn, err := transport.Dial(context.Background(), "tcp", net.JoinHostPort(host, "25"), transport.Options{Dialer: proxy})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(host, transport.IsLoopback(conn), transport.PeerIsLocal(conn, host, true))
		conn.Close()
	}
	// Output:
	// mail.example.com true false
	// localhost true true
}

// dialFunc makes a function a transport.ContextDialer.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (f dialFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}
