package codec_test

import (
	"bufio"
	"io"
	"net/textproto"
	"strings"
	"testing"

	"github.com/postwire/postwire/codec"
)

// benchBody is about 1 MiB of text: 76-character lines ending in CRLF, with
// every 17th line starting with '.', as a quoted-printable or plain text
// message would look.
var benchBody = func() []byte {
	const size = 1 << 20
	var b strings.Builder
	b.Grow(size + 100)
	words := []string{"lorem", "ipsum", "dolor", "sit", "amet,", "consectetur", "adipiscing", "elit", "sed", "do", "eiusmod", "tempor"}
	line, w := 0, 0
	for b.Len() < size {
		var l strings.Builder
		if line%17 == 0 {
			l.WriteString(".")
		}
		for l.Len() < 76 {
			l.WriteString(words[w%len(words)])
			l.WriteByte(' ')
			w++
		}
		b.WriteString(l.String()[:76])
		b.WriteString("\r\n")
		line++
	}
	return []byte(b.String())
}()

func BenchmarkStuff(b *testing.B) {
	body := benchBody
	b.Run("postwire-Stuffer", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			s := codec.NewStuffer(io.Discard)
			if _, err := s.Write(body); err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("postwire-AppendStuffed", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		dst := make([]byte, 0, 2*len(body))
		for b.Loop() {
			dst = codec.AppendStuffed(dst[:0], body)
		}
		if len(dst) <= len(body) {
			b.Fatal("short output")
		}
	})
	b.Run("textproto-DotWriter", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			bw := bufio.NewWriter(io.Discard)
			w := textproto.NewWriter(bw).DotWriter()
			if _, err := w.Write(body); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		dst := make([]byte, len(body))
		for b.Loop() {
			copy(dst, body)
		}
	})
}

// raggedBody is about 1 MiB of text lines of varying length (1 to 76
// characters), some starting with '.': the stride fast path rarely applies.
var raggedBody = func() []byte {
	const size = 1 << 20
	b := make([]byte, 0, size+100)
	seed := uint32(1)
	for len(b) < size {
		seed = seed*1664525 + 1013904223
		n := 1 + int(seed>>8)%76
		if seed>>4%13 == 0 {
			b = append(b, '.')
			n--
		}
		for i := range n {
			b = append(b, "abcdefghij klmnopqrstuvwxyz,"[(i+int(seed))%28])
		}
		b = append(b, '\r', '\n')
	}
	return b
}()

func BenchmarkStuffRaggedLines(b *testing.B) {
	body := raggedBody
	b.Run("postwire-AppendStuffed", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		dst := make([]byte, 0, 2*len(body))
		for b.Loop() {
			dst = codec.AppendStuffed(dst[:0], body)
		}
	})
	b.Run("textproto-DotWriter", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			w := textproto.NewWriter(bufio.NewWriter(io.Discard)).DotWriter()
			if _, err := w.Write(body); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		dst := make([]byte, len(body))
		for b.Loop() {
			copy(dst, body)
		}
	})
}
