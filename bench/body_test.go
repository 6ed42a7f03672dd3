package bench

import (
	"bufio"
	"io"
	"net/textproto"
	"testing"

	"github.com/postwire/postwire/codec"
)

// bigBody is the 1 MiB message of BenchmarkBody.
var bigBody = makeBody(1 << 20)

// bodyChunk is how the body reaches the encoders: in the pieces io.Copy
// would hand them.
const bodyChunk = 32 << 10

// BenchmarkBody pushes 1 MiB of text through postwire's dot-stuffer, through
// net/textproto's DotWriter (what net/smtp and go-smtp use), and through a
// plain copy: the memmove bound on what any encoder could reach.
func BenchmarkBody(b *testing.B) {
	b.Run("postwire-stuffer/1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(bigBody)))
		b.ReportAllocs()
		for b.Loop() {
			s := codec.NewStuffer(io.Discard)
			writeChunks(b, s, bigBody)
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("textproto-dotwriter/1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(bigBody)))
		b.ReportAllocs()
		for b.Loop() {
			w := textproto.NewWriter(bufio.NewWriter(io.Discard)).DotWriter()
			writeChunks(b, w, bigBody)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memmove/1MiB", func(b *testing.B) {
		dst := make([]byte, len(bigBody))
		b.SetBytes(int64(len(bigBody)))
		b.ReportAllocs()
		for b.Loop() {
			copy(dst, bigBody)
		}
	})
}

func writeChunks(tb testing.TB, w io.Writer, p []byte) {
	for len(p) > 0 {
		n := min(len(p), bodyChunk)
		if _, err := w.Write(p[:n]); err != nil {
			tb.Fatal(err)
		}
		p = p[n:]
	}
}
