package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/textproto"
	"time"

	"github.com/postwire/postwire/codec"
)

// PieceSize is how much of the body the streaming writers get per Write:
// what io.Copy hands them from a reader that is not a WriterTo.
const PieceSize = 32 << 10

// Stuffing is one way to turn a body into what goes on the wire after
// DATA. Run transforms body once; it may keep buffers between calls (they
// are sized by a first, unmeasured call) and returns the output's length.
type Stuffing struct {
	Name string
	Run  func(body []byte) (int, error)
}

// Stuffings returns the implementations compared, fresh (their buffers not
// yet sized):
//
//   - AppendStuffed: codec.AppendStuffed of the whole body into one reused
//     slice, which ends up as large as the body;
//   - Stuffer: codec.Stuffer over io.Discard, written PieceSize at a time
//     (it stuffs into its own buffer of about 64 KiB);
//   - DotWriter: net/textproto's DotWriter (what net/smtp and go-smtp use)
//     over a bufio.Writer over io.Discard, written PieceSize at a time;
//   - copy: one copy (memmove) of the whole body into a buffer as large,
//     the bound for AppendStuffed;
//   - copy-32KiB: a copy of each PieceSize piece into one reused PieceSize
//     buffer, the bound for the streaming writers, whose output stays in
//     small buffers.
func Stuffings() []Stuffing {
	var dst []byte
	var whole, piece []byte
	return []Stuffing{
		{"AppendStuffed", func(body []byte) (int, error) {
			dst = codec.AppendStuffed(dst[:0], body)
			return len(dst), nil
		}},
		{"Stuffer", func(body []byte) (int, error) {
			cw := &countWriter{}
			s := codec.NewStuffer(cw)
			if err := writePieces(s, body); err != nil {
				return 0, err
			}
			err := s.Close()
			return cw.n, err
		}},
		{"DotWriter", func(body []byte) (int, error) {
			cw := &countWriter{}
			bw := bufio.NewWriter(cw)
			w := textproto.NewWriter(bw).DotWriter()
			if err := writePieces(w, body); err != nil {
				return 0, err
			}
			if err := w.Close(); err != nil {
				return 0, err
			}
			err := bw.Flush()
			return cw.n, err
		}},
		{"copy", func(body []byte) (int, error) {
			if len(whole) < len(body) {
				whole = make([]byte, len(body))
			}
			return copy(whole, body), nil
		}},
		{"copy-32KiB", func(body []byte) (int, error) {
			if piece == nil {
				piece = make([]byte, PieceSize)
			}
			n := 0
			for p := body; len(p) > 0; {
				k := copy(piece, p)
				n += k
				p = p[k:]
			}
			return n, nil
		}},
	}
}

// countWriter is io.Discard that counts: the streaming writers' sink.
type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

func writePieces(w io.Writer, body []byte) error {
	for len(body) > 0 {
		n := min(len(body), PieceSize)
		if _, err := w.Write(body[:n]); err != nil {
			return err
		}
		body = body[n:]
	}
	return nil
}

// StuffResult is one implementation's median throughput in a case, in
// megabytes (10^6 bytes) of input per second.
type StuffResult struct {
	Case, Impl string
	MBps       float64
}

// MeasureStuffings runs every implementation over body, passes times in a
// row per measurement, rounds measurements each, interleaved with rotating
// order, after one unmeasured call each (which sizes their buffers and
// faults in their pages). It returns the medians in the order of ss.
func MeasureStuffings(caseName string, ss []Stuffing, body []byte, passes, rounds int) ([]StuffResult, error) {
	for _, s := range ss {
		if _, err := s.Run(body); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	rates := make([][]float64, len(ss))
	for i := range rounds {
		for k := range ss {
			j := (i + k) % len(ss)
			start := time.Now()
			for range passes {
				if _, err := ss[j].Run(body); err != nil {
					return nil, fmt.Errorf("%s: %w", ss[j].Name, err)
				}
			}
			mb := float64(len(body)) * float64(passes) / 1e6
			rates[j] = append(rates[j], mb/time.Since(start).Seconds())
		}
	}
	out := make([]StuffResult, len(ss))
	for j, s := range ss {
		out[j] = StuffResult{Case: caseName, Impl: s.Name, MBps: Median(rates[j])}
	}
	return out, nil
}

// PrintStuffings writes one "bench:" line per implementation, then the
// ratios of each postwire implementation against DotWriter and against its
// memmove bound.
func PrintStuffings(w io.Writer, rs []StuffResult) {
	by := map[string]StuffResult{}
	for _, r := range rs {
		fmt.Fprintf(w, "bench: %s %s MBps=%.0f\n", r.Case, r.Impl, r.MBps)
		by[r.Impl] = r
	}
	for _, pair := range [][2]string{
		{"AppendStuffed", "DotWriter"}, {"Stuffer", "DotWriter"},
		{"AppendStuffed", "copy"}, {"Stuffer", "copy-32KiB"},
	} {
		p, okp := by[pair[0]]
		q, okq := by[pair[1]]
		if okp && okq && q.MBps > 0 {
			fmt.Fprintf(w, "ratio: %s %s/%s=%.2f\n", p.Case, pair[0], pair[1], p.MBps/q.MBps)
		}
	}
}
