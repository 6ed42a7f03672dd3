package fuzz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// How the body reader of FuzzBodyReader ends: the low 3 bits of its kind
// byte, modulo numEndings. The high 5 bits are the most bytes one Read
// returns (0: as many as asked for).
const (
	endEOF        = iota // bare io.EOF: the only ending that delivers
	endWrappedEOF        // fmt.Errorf("gzip: %w", io.EOF)
	endUnexpected        // io.ErrUnexpectedEOF
	endCustom            // an error of the reader's own
	endNoProgress        // (0, nil) for ever
	endPanic             // the reader panics
	numEndings
)

// The flag bits of FuzzBodyReader; bits 4-6 are the small chunk size.
const (
	flagChunking   = 1 << 0 // the server offers CHUNKING (BDAT)
	flagPipelining = 1 << 1 // the server offers PIPELINING
	flagSmallChunk = 1 << 2 // Options.ChunkSize = 1 + flags>>4&7 (1..8 bytes)
	flagWithData   = 1 << 3 // the ending comes with the last bytes: (n > 0, err)
	flagLMTP       = 1 << 7 // both sides speak LMTP
)

var errArchive = errors.New("archive: checksum mismatch")

// bodyPanic is what the panicking reader panics with.
type bodyPanic struct{}

// endingReader returns body[:off] in reads of at most step bytes (0: no
// limit), then its ending.
type endingReader struct {
	data     []byte
	step     int
	ending   int
	err      error // what the ending returns (nil for endNoProgress)
	withData bool
}

func (r *endingReader) Read(p []byte) (int, error) {
	if r.step > 0 && len(p) > r.step {
		p = p[:r.step]
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) > 0 || n > 0 && !r.withData {
		return n, nil
	}
	if r.ending == endPanic {
		panic(bodyPanic{})
	}
	return n, r.err
}

// FuzzBodyReader: SendMail with a body reader that fails at a fuzzed
// offset in a fuzzed way, over DATA or BDAT, pipelined or not, in chunks
// of a fuzzed size, SMTP or LMTP, against smtptest.
//
// Invariants: the server stores a message iff the reader ended with a bare
// io.EOF, and then exactly codec.NormalizeLineEndings of what it returned
// (SendMail returning nil); otherwise SendMail returns an error wrapping
// the reader's (io.ErrNoProgress for (0, nil) for ever) and nothing is
// stored; a panic goes on to the caller and the client is closed; BDAT
// resets and the connection goes on, DATA closes it; nothing hangs past
// the context and no goroutine is left behind.
func FuzzBodyReader(f *testing.F) {
	for ending := range numEndings {
		for flags := range 16 {
			f.Add([]byte("Subject: hi\n\n.dot\r\nbare CR\rend"), uint16(20), byte(ending|3<<3), byte(flags|5<<4))
			f.Add([]byte("Subject: hi\n\n.dot\r\nbare CR\rend"), uint16(20), byte(ending|3<<3), byte(flags|2<<4|flagLMTP))
		}
	}
	f.Add([]byte(""), uint16(0), byte(endEOF), byte(flagChunking|flagPipelining))
	f.Add([]byte("a\r"), uint16(2), byte(endEOF|1<<3), byte(flagChunking|flagSmallChunk))
	f.Fuzz(func(t *testing.T, body []byte, offset uint16, kind, flags byte) {
		runBodyReader(t, body, offset, kind, flags)
	})
}

func runBodyReader(t *testing.T, body []byte, offset uint16, kind, flags byte) {
	if len(body) > 1<<16 {
		body = body[:1<<16]
	}
	data := body[:int(offset)%(len(body)+1)]
	ending := int(kind&7) % numEndings
	r := &endingReader{data: data, step: int(kind >> 3), ending: ending, withData: flags&flagWithData != 0}
	r.err = [numEndings]error{io.EOF, fmt.Errorf("gzip: %w", io.EOF), io.ErrUnexpectedEOF, errArchive, nil, nil}[ending]
	wantErr := r.err
	if ending == endNoProgress {
		wantErr = io.ErrNoProgress
	}
	chunking := flags&flagChunking != 0

	goroutines := runtime.NumGoroutine()
	srv := smtptest.NewServer(smtptest.Config{
		DisableChunking:   !chunking,
		DisablePipelining: flags&flagPipelining == 0,
		LMTP:              flags&flagLMTP != 0,
	})
	o := &session.Options{LocalName: "client.example", LMTP: flags&flagLMTP != 0}
	if flags&flagSmallChunk != 0 {
		o.ChunkSize = 1 + int(flags>>4&7)
	}

	type outcome struct {
		sendErr, noopErr, setupErr error
		panicked                   any
	}
	done := make(chan outcome, 1)
	go func() {
		// The bound on everything the client does: a hang shows up as a
		// context error, or (if the client ignores its context) as the
		// guard below firing.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var out outcome
		defer func() { done <- out }()
		c, err := session.NewClient(ctx, srv.Pipe(), "mx.example", o)
		if err != nil {
			out.setupErr = err
			return
		}
		defer c.Close()
		out.panicked = func() (p any) {
			defer func() { p = recover() }()
			_, out.sendErr = c.SendMail(ctx, "alice@example.com", []string{"bob@example.org"}, r, nil)
			return nil
		}()
		_, out.noopErr = c.Noop(ctx)
	}()
	var out outcome
	select {
	case out = <-done:
	case <-time.After(time.Minute):
		srv.Close()
		buf := make([]byte, 1<<20)
		t.Fatalf("SendMail hangs past its context:\n%s", buf[:runtime.Stack(buf, true)])
	}
	if out.setupErr != nil {
		t.Fatalf("NewClient: %v", out.setupErr)
	}
	waitCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.WaitConns(waitCtx, 1); err != nil {
		t.Fatalf("the server's conversation did not end after Close: %v", err)
	}
	msgs := srv.Messages()
	srv.Close()

	switch {
	case ending == endEOF:
		if out.sendErr != nil || out.panicked != nil || out.noopErr != nil {
			t.Fatalf("bare EOF: SendMail = %v (panic %v), then Noop = %v; want delivered", out.sendErr, out.panicked, out.noopErr)
		}
		want := codec.NormalizeLineEndings(data)
		if len(msgs) != 1 || !bytes.Equal(msgs[0].Data, want) || msgs[0].Chunked != chunking {
			got := make([]string, len(msgs))
			for i, m := range msgs {
				got[i] = fmt.Sprintf("%q (chunked %v)", m.Data, m.Chunked)
			}
			t.Fatalf("bare EOF: stored %v, want one message %q (chunked %v)", got, want, chunking)
		}
	case len(msgs) != 0:
		t.Fatalf("ending %d: the server stored %q from a body that did not end with a bare EOF", ending, msgs[0].Data)
	case ending == endPanic:
		if _, ok := out.panicked.(bodyPanic); !ok {
			t.Fatalf("the reader's panic did not go on to the caller: recovered %v, SendMail = %v", out.panicked, out.sendErr)
		}
		if !errors.Is(out.noopErr, session.ErrClosed) {
			t.Fatalf("Noop after a panicking body = %v, want ErrClosed", out.noopErr)
		}
	case out.panicked != nil:
		t.Fatalf("ending %d: SendMail panicked: %v", ending, out.panicked)
	case !errors.Is(out.sendErr, wantErr):
		t.Fatalf("ending %d: SendMail = %v, want an error wrapping %v", ending, out.sendErr, wantErr)
	case chunking && out.noopErr != nil:
		t.Fatalf("BDAT: Noop after an abandoned body = %v, want the connection reset and usable", out.noopErr)
	case !chunking && !errors.Is(out.noopErr, session.ErrClosed):
		t.Fatalf("DATA: Noop after an abandoned body = %v, want ErrClosed", out.noopErr)
	}
	checkGoroutines(t, goroutines)
}

// checkGoroutines fails if more goroutines run than before the input,
// once those that are ending have had a moment to do so.
func checkGoroutines(t *testing.T, before int) {
	for range 500 {
		if runtime.NumGoroutine() <= before {
			return
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
}
