package transport_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/transport"
)

// randomBytes returns n pseudo-random bytes from a fixed seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestPipeShortReads writes 240 KB in random-size writes (some larger than
// a 64 KiB segment) and reads it with random small buffers, concurrently.
func TestPipeShortReads(t *testing.T) {
	defer test.CheckRoutines(t)()
	a, b := transport.Pipe()
	defer b.Close()
	bound(a, b)
	data := randomBytes(1, 240_000)
	r := rand.New(rand.NewPCG(2, 2))
	var sizes []int
	for rest := len(data); rest > 0; {
		n := min(rest, 1+r.IntN(100_000))
		sizes = append(sizes, n)
		rest -= n
	}
	werr := make(chan error, 1)
	go func() {
		off := 0
		for _, n := range sizes {
			if _, err := a.Write(data[off : off+n]); err != nil {
				werr <- err
				return
			}
			off += n
		}
		werr <- a.Close()
	}()
	var got []byte
	buf := make([]byte, 1000)
	for {
		n, err := b.Read(buf[:1+r.IntN(len(buf))])
		got = append(got, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
	}
	if err := <-werr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if !bytes.Equal(data, got) {
		t.Fatalf("stream differs: wrote %d bytes, read %d (first difference at %d)", len(data), len(got), firstDiff(data, got))
	}
	// EOF is sticky.
	if n, err := b.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
	}
}

// bound sets a generous deadline on conns, so that a broken pipe makes a
// test fail with a time-out instead of hanging; it is never reached when
// the code works.
func bound(conns ...net.Conn) {
	for _, c := range conns {
		c.SetDeadline(time.Now().Add(10 * time.Second))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestPipeCloseSemantics: the peer reads everything written before Close,
// then io.EOF; the closed end refuses I/O with net.ErrClosed; the peer's
// writes fail with io.ErrClosedPipe.
func TestPipeCloseSemantics(t *testing.T) {
	a, b := transport.Pipe()
	defer b.Close()
	bound(a, b)
	for _, s := range []string{"250-one\r\n", "250 two\r\n"} {
		if _, err := a.Write([]byte(s)); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if diff := cmp.Diff("250-one\r\n250 two\r\n", string(got)); diff != "" {
		t.Errorf("peer read (-want +got):\n%s", diff)
	}
	type result struct {
		N         int
		Closed    bool // errors.Is(err, net.ErrClosed)
		PipeClose bool // errors.Is(err, io.ErrClosedPipe)
	}
	check := func(name string, n int, err error, want result) {
		t.Helper()
		got := result{n, errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (err %v) (-want +got):\n%s", name, err, diff)
		}
	}
	n, err := a.Read(make([]byte, 4))
	check("Read on closed end", n, err, result{Closed: true})
	n, err = a.Write([]byte("x"))
	check("Write on closed end", n, err, result{Closed: true})
	n, err = b.Write([]byte("QUIT\r\n"))
	check("Write to closed peer", n, err, result{PipeClose: true})
	check("second Close", 0, a.Close(), result{Closed: true})
}

// TestPipeCloseUnblocks: Close wakes a blocked Read on the same end and a
// Write blocked by back-pressure, on either end.
func TestPipeCloseUnblocks(t *testing.T) {
	defer test.CheckRoutines(t)()

	a, b := transport.Pipe()
	readErr := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 10))
		readErr <- err
	}()
	a.Close()
	if err := <-readErr; !errors.Is(err, net.ErrClosed) {
		t.Errorf("blocked Read after Close: %v, want net.ErrClosed", err)
	}
	b.Close()

	// Fill the peer's queue so a big Write blocks, then close the reader.
	a, b = transport.Pipe()
	writeErr := make(chan error, 1)
	go func() {
		_, err := a.Write(make([]byte, 300<<16)) // 300 segments > 256 slots
		writeErr <- err
	}()
	b.Close()
	if err := <-writeErr; !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("blocked Write after peer Close: %v, want io.ErrClosedPipe", err)
	}
	a.Close()

	a, b = transport.Pipe()
	bound(b)
	go func() {
		_, err := a.Write(make([]byte, 300<<16))
		writeErr <- err
	}()
	a.Close()
	if err := <-writeErr; !errors.Is(err, net.ErrClosed) {
		t.Errorf("blocked Write after own Close: %v, want net.ErrClosed", err)
	}
	// Everything queued before Close is still delivered, then EOF.
	got, err := io.Copy(io.Discard, b)
	if err != nil || got%(64<<10) != 0 || got > 300<<16 {
		t.Errorf("peer drained %d bytes, err %v; want whole segments then EOF", got, err)
	}
	b.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
}

// TestPipeDeadlines: an expired deadline fails Read and Write with
// os.ErrDeadlineExceeded (a net.Error with Timeout), wakes blocked calls,
// drops no queued data, and clearing it makes the conn usable again.
func TestPipeDeadlines(t *testing.T) {
	defer test.CheckRoutines(t)()
	a, b := transport.Pipe()
	defer a.Close()
	defer b.Close()
	past := time.Unix(1, 0)

	// Read blocked, then the deadline moves into the past.
	readErr := make(chan error, 1)
	go func() {
		_, err := b.Read(make([]byte, 10))
		readErr <- err
	}()
	b.SetReadDeadline(past)
	if err := <-readErr; !isTimeout(err) {
		t.Errorf("Read with expired deadline: %v, want os.ErrDeadlineExceeded", err)
	}

	// Write blocked by back-pressure (256 queued one-byte segments).
	for i := range 256 {
		if _, err := a.Write([]byte{byte(i)}); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
	}
	writeErr := make(chan error, 1)
	go func() {
		_, err := a.Write([]byte{0xff})
		writeErr <- err
	}()
	a.SetWriteDeadline(past)
	if err := <-writeErr; !isTimeout(err) {
		t.Errorf("blocked Write with expired deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if _, err := a.Write([]byte("x")); !isTimeout(err) {
		t.Errorf("Write with expired deadline: %v, want os.ErrDeadlineExceeded", err)
	}

	// SetDeadline sets both; the zero time clears both.
	b.SetDeadline(time.Time{})
	a.SetDeadline(past)
	if _, err := a.Write([]byte("x")); !isTimeout(err) {
		t.Errorf("Write after SetDeadline(past): %v", err)
	}
	if _, err := a.Read(make([]byte, 1)); !isTimeout(err) {
		t.Errorf("Read after SetDeadline(past): %v", err)
	}
	bound(a, b)

	// Nothing queued was dropped by the time-outs.
	got := make([]byte, 256)
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatalf("ReadFull: %v", err)
	}
	for i, c := range got {
		if c != byte(i) {
			t.Fatalf("byte %d = %d after time-outs, want %d", i, c, i)
		}
	}
	if _, err := a.Write([]byte("ok")); err != nil {
		t.Errorf("Write after clearing deadline: %v", err)
	}
	if n, err := b.Read(got); err != nil || string(got[:n]) != "ok" {
		t.Errorf("Read after clearing deadline = %q, %v", got[:n], err)
	}
}

// TestPipeConcurrent runs both directions at once, with several writers on
// one end (each Write must stay contiguous), under -race.
func TestPipeConcurrent(t *testing.T) {
	defer test.CheckRoutines(t)()
	a, b := transport.Pipe()
	bound(a, b)
	const writers, perWriter, size = 4, 50, 3000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range perWriter {
				if _, err := a.Write(msg); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	// The other direction at the same time: b echoes a count of bytes.
	echoed := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, a)
		echoed <- n
	}()
	counts := map[byte]int{}
	buf := make([]byte, 777)
	total := 0
	var run []byte
	for total < writers*perWriter*size {
		n, err := b.Read(buf)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		run = append(run, buf[:n]...)
		total += n
		if _, err := b.Write(buf[:n]); err != nil {
			t.Fatalf("echo Write: %v", err)
		}
	}
	wg.Wait()
	// Each Write of size bytes must be contiguous.
	for i := 0; i < len(run); i += size {
		blk := run[i : i+size]
		if !bytes.Equal(blk, bytes.Repeat(blk[:1], size)) {
			t.Fatalf("block at %d is interleaved", i)
		}
		counts[blk[0]]++
	}
	b.Close()
	if n := <-echoed; n != int64(total) {
		t.Errorf("echoed %d bytes, want %d", n, total)
	}
	a.Close()
	want := map[byte]int{'a': perWriter, 'b': perWriter, 'c': perWriter, 'd': perWriter}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("blocks per writer (-want +got):\n%s", diff)
	}
}

func TestPipeMisc(t *testing.T) {
	a, b := transport.Pipe()
	defer a.Close()
	defer b.Close()
	for _, addr := range []net.Addr{a.LocalAddr(), a.RemoteAddr(), b.LocalAddr(), b.RemoteAddr()} {
		if addr == nil || addr.Network() != "pipe" || addr.String() == "" {
			t.Errorf("address %#v, want Network pipe", addr)
		}
	}
	// Empty writes send nothing (in particular, not an end of stream).
	if n, err := a.Write(nil); n != 0 || err != nil {
		t.Errorf("Write(nil) = %d, %v", n, err)
	}
	if n, err := b.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v", n, err)
	}
	a.Write([]byte("x"))
	buf := make([]byte, 2)
	if n, err := b.Read(buf); n != 1 || err != nil || buf[0] != 'x' {
		t.Errorf("Read = %d, %v, %q; want the byte after an empty write", n, err, buf[:n])
	}
}

// TestPipeProperty: whatever the write sizes and read sizes, the reader
// gets exactly the written stream, then io.EOF after Close.
func TestPipeProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := transport.Pipe()
		defer a.Close()
		defer b.Close()
		bound(a, b)
		var want []byte   // written, not yet read
		var pending []int // sizes of writes not yet fully read
		var written int
		readNext := func(t *rapid.T, size int) {
			buf := make([]byte, size)
			n, err := b.Read(buf)
			if err != nil || n < 1 || n > min(size, len(want)) {
				t.Fatalf("Read(%d) with %d pending = %d, %v", size, len(want), n, err)
			}
			if !bytes.Equal(buf[:n], want[:n]) {
				t.Fatalf("Read(%d) returned %d bytes differing from the stream at offset %d", size, n, firstDiff(buf[:n], want[:n]))
			}
			want = want[n:]
			for n > 0 {
				k := min(n, pending[0])
				pending[0] -= k
				n -= k
				if pending[0] == 0 {
					pending = pending[1:]
				}
			}
		}
		t.Repeat(map[string]func(*rapid.T){
			"write": func(t *rapid.T) {
				if len(pending) >= 100 { // 100 writes of <=2 segments stay below the 256 slots
					t.Skip("enough queued")
				}
				n := rapid.IntRange(1, 70_000).Draw(t, "n")
				p := randomBytes(uint64(written), n)
				if m, err := a.Write(p); m != n || err != nil {
					t.Fatalf("Write(%d) = %d, %v", n, m, err)
				}
				written += n
				want = append(want, p...)
				pending = append(pending, n)
			},
			"read": func(t *rapid.T) {
				if len(want) == 0 {
					t.Skip("nothing to read")
				}
				readNext(t, rapid.IntRange(1, 100_000).Draw(t, "size"))
			},
			"": func(t *rapid.T) {
				if len(want) != sumInts(pending) {
					t.Fatalf("model broken: %d bytes pending, %d in writes", len(want), sumInts(pending))
				}
			},
		})
		a.Close()
		rest, err := io.ReadAll(b)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		if !bytes.Equal(rest, want) {
			t.Fatalf("tail after Close: %d bytes, want %d", len(rest), len(want))
		}
	})
}

func sumInts(s []int) (n int) {
	for _, v := range s {
		n += v
	}
	return n
}
