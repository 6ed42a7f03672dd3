package session

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"pgregory.net/rapid"

	"github.com/postwire/postwire/codec"
)

// TestCRLFReader: the BDAT normaliser produces what the DATA path's
// codec produces, however the input is split.
func TestCRLFReader(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := rapid.SliceOf(rapid.SampledFrom([]byte("ab.\r\n"))).Draw(t, "in")
		var r io.Reader = bytes.NewReader(in)
		if rapid.Bool().Draw(t, "onebyte") {
			r = iotest.OneByteReader(r)
		}
		bufSize := rapid.IntRange(1, 7).Draw(t, "bufsize")
		var got []byte
		cr := &crlfReader{r: r}
		buf := make([]byte, bufSize)
		for {
			n, err := cr.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
		}
		want := []byte{}
		if len(in) > 0 {
			want = codec.NormalizeLineEndings(in)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("normalised %q = %q, want %q", in, got, want)
		}
	})
}
