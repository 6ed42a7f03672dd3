package bench

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/codec"
)

// TestStuffingsDoEqualWork checks that the figures compare equal work: on
// each corpus, net/textproto's DotWriter writes exactly what
// codec.AppendStuffed makes, every stuffer's Run reports that length (also
// on a second call, with its buffers reused), and the copies the input's.
func TestStuffingsDoEqualWork(t *testing.T) {
	corpora := map[string][]byte{
		"lines76": MakeBody(300 << 10),
		"ragged":  RaggedText(300 << 10),
		"dot":     []byte(".\r\n"),
		// (Not the empty body: there DotWriter writes "\r\n.\r\n", an
		// empty line first, where AppendStuffed writes ".\r\n".)
	}
	for name, body := range corpora {
		want := codec.AppendStuffed(nil, body)
		var dw bytes.Buffer
		bw := bufio.NewWriter(&dw)
		w := textproto.NewWriter(bw).DotWriter()
		writePieces(w, body)
		w.Close()
		bw.Flush()
		if !bytes.Equal(dw.Bytes(), want) {
			t.Errorf("%s: DotWriter and AppendStuffed differ (%d and %d bytes)", name, dw.Len(), len(want))
		}
		for _, s := range Stuffings() {
			wantN := len(want)
			if s.Name == "copy" || s.Name == "copy-32KiB" {
				wantN = len(body)
			}
			for i := range 2 {
				n, err := s.Run(body)
				if err != nil || n != wantN {
					t.Errorf("%s: %s run %d = %d, %v; want %d", name, s.Name, i+1, n, err, wantN)
				}
			}
		}
	}
}

func TestPrintStuffings(t *testing.T) {
	rs := []StuffResult{
		{"dotstuff-x", "AppendStuffed", 5000}, {"dotstuff-x", "Stuffer", 6000},
		{"dotstuff-x", "DotWriter", 500}, {"dotstuff-x", "copy", 20000}, {"dotstuff-x", "copy-32KiB", 24000},
	}
	var b bytes.Buffer
	PrintStuffings(&b, rs)
	want := `bench: dotstuff-x AppendStuffed MBps=5000
bench: dotstuff-x Stuffer MBps=6000
bench: dotstuff-x DotWriter MBps=500
bench: dotstuff-x copy MBps=20000
bench: dotstuff-x copy-32KiB MBps=24000
ratio: dotstuff-x AppendStuffed/DotWriter=10.00
ratio: dotstuff-x Stuffer/DotWriter=12.00
ratio: dotstuff-x AppendStuffed/copy=0.25
ratio: dotstuff-x Stuffer/copy-32KiB=0.25
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("printed (-want +got):\n%s", diff)
	}
}
