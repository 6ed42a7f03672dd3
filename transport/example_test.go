package transport_test

import (
	"fmt"
	"io"

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
