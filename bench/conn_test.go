package bench

import (
	"bufio"
	"io"
	"net"
	"testing"
)

// TestTurnConn counts the turns of a scripted exchange over net.Pipe: a
// lone command, a pipelined flight of three answered by three replies read
// one by one, a reply read in two pieces, and writes with no read after
// them.
func TestTurnConn(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() { // answers each line with "ok\n"; "split" with "o", then "k\n"
		defer server.Close()
		r := bufio.NewReader(server)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if line == "split\n" {
				server.Write([]byte("o"))
				server.Write([]byte("k\n"))
				continue
			}
			server.Write([]byte("ok\n"))
		}
	}()
	c := NewTurnConn(client, 0)
	read := func(n int) {
		t.Helper()
		if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	write := func(s string) {
		t.Helper()
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(want int64) {
		t.Helper()
		if got := c.Turns(); got != want {
			t.Fatalf("Turns() = %d, want %d", got, want)
		}
	}

	check(0)
	write("one\n")
	read(3)
	check(1)
	// net.Pipe is unbuffered: each write waits for the server to read it,
	// and the server's reply waits for a read, so one line at a time.
	write("a\n")
	read(3)
	write("b\n")
	read(3)
	check(3)
	write("split\n")
	read(1) // "o": the turn begins
	read(2) // "k\n": the same turn
	check(4)
	read(0) // a read of nothing after reads: no new turn
	check(4)
}

// TestTurnConnEmptyWrite: a write of nothing sends nothing, so the next
// read is no round trip.
func TestTurnConnEmptyWrite(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	c := NewTurnConn(client, 0)
	go func() {
		server.Read(make([]byte, 1)) // net.Pipe hands even an empty write over
		server.Write([]byte("x"))
	}()
	if _, err := c.Write(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if got := c.Turns(); got != 0 {
		t.Errorf("Turns() = %d after an empty write, want 0", got)
	}
}
