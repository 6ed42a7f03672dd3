package codec_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/codec"
)

var stuffTests = []struct {
	name   string
	chunks []string // the body, as handed to Append call by call
	want   string   // Append... + AppendEnd
}{
	{"empty body", nil, ".\r\n"},
	{"empty chunks", []string{"", ""}, ".\r\n"},
	{"one line", []string{"hello\r\n"}, "hello\r\n.\r\n"},
	{"no final CRLF", []string{"hello"}, "hello\r\n.\r\n"},
	{"bare LF", []string{"a\nb\n"}, "a\r\nb\r\n.\r\n"},
	{"bare CR", []string{"a\rb\r"}, "a\r\nb\r\n.\r\n"},
	{"bare CR then CRLF", []string{"a\r\r\nb"}, "a\r\n\r\nb\r\n.\r\n"},
	{"LF CR", []string{"a\n\rb"}, "a\r\n\r\nb\r\n.\r\n"},
	{"CR at chunk boundary", []string{"a\r", "\nb\r\n"}, "a\r\nb\r\n.\r\n"},
	{"CR at boundary, then not LF", []string{"a\r", "b"}, "a\r\nb\r\n.\r\n"},
	{"CR at boundary, then dot", []string{"a\r", ".b"}, "a\r\n..b\r\n.\r\n"},
	{"CR, LF, dot across three chunks", []string{"a\r", "\n", ".b"}, "a\r\n..b\r\n.\r\n"},
	{"CR alone in chunks", []string{"\r", "\r", "\n"}, "\r\n\r\n.\r\n"},
	{"CR at very end", []string{"a\r"}, "a\r\n.\r\n"},
	{"leading dot first line", []string{".hidden\r\n"}, "..hidden\r\n.\r\n"},
	{"leading dots every line", []string{".a\r\n.b\n.c\r.d"}, "..a\r\n..b\r\n..c\r\n..d\r\n.\r\n"},
	{"dot not at line start", []string{"a.b\r\n"}, "a.b\r\n.\r\n"},
	{"dot in next chunk after CRLF", []string{"a\r\n", ".b"}, "a\r\n..b\r\n.\r\n"},
	{"dot in next chunk mid-line", []string{"a", ".b"}, "a.b\r\n.\r\n"},
	{"dot-line inside body", []string{"a\r\n.\r\nb\r\n"}, "a\r\n..\r\nb\r\n.\r\n"},
	{"body is terminator", []string{".\r\n"}, "..\r\n.\r\n"},
	{"CRLF dot CRLF inside body", []string{"x\r\n.\r\n.\r\ny"}, "x\r\n..\r\n..\r\ny\r\n.\r\n"},
	{"double dots", []string{"..\r\n"}, "...\r\n.\r\n"},
	{"only CRLF", []string{"\r\n"}, "\r\n.\r\n"},
	{"only LF", []string{"\n"}, "\r\n.\r\n"},
	{"smuggling attempt LF dot LF", []string{"a\n.\nMAIL FROM:<x>\n"}, "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n"},
	{"smuggling attempt CR dot CR", []string{"a\r.\rRSET\r"}, "a\r\n..\r\nRSET\r\n.\r\n"},
	{"fixed-length lines with dot", []string{"abc\r\nabc\r\n.bc\r\nabc\r\nabc\r\n"}, "abc\r\nabc\r\n..bc\r\nabc\r\nabc\r\n.\r\n"},
	{"fixed-length lines with bare CR", []string{"abc\r\nabc\r\na\rc\r\nabc\r\n"}, "abc\r\nabc\r\na\r\nc\r\nabc\r\n.\r\n"},
	{"fixed-length lines with bare LF", []string{"abc\r\nabc\r\nab\nc\r\nabc\r\n"}, "abc\r\nabc\r\nab\r\nc\r\nabc\r\n.\r\n"},
	{"fixed-length lines LF CR swap", []string{"abc\r\nabc\r\nabc\n\rabc\r\n"}, "abc\r\nabc\r\nabc\r\n\r\nabc\r\n.\r\n"},
	{"UTF-8 and NUL pass through", []string{"é\x00ü\r\n"}, "é\x00ü\r\n.\r\n"},
}

func TestStuffStateAppend(t *testing.T) {
	for _, tt := range stuffTests {
		t.Run(tt.name, func(t *testing.T) {
			var s codec.StuffState
			var got []byte
			for _, c := range tt.chunks {
				got = s.Append(got, []byte(c))
			}
			got = s.AppendEnd(got)
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Append+AppendEnd mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(codec.StuffState{}, s, cmpopts.EquateComparable(codec.StuffState{})); diff != "" {
				t.Errorf("state after AppendEnd is not the zero value (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppendStuffed(t *testing.T) {
	for _, tt := range stuffTests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("DATA-prefix:")
			got := codec.AppendStuffed(prefix, []byte(strings.Join(tt.chunks, "")))
			if diff := cmp.Diff("DATA-prefix:"+tt.want, string(got)); diff != "" {
				t.Errorf("AppendStuffed mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStuffer(t *testing.T) {
	for _, tt := range stuffTests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := codec.NewStuffer(&out)
			for _, c := range tt.chunks {
				n, err := w.Write([]byte(c))
				if err != nil || n != len(c) {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", c, n, err, len(c))
				}
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("Stuffer output mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// countingWriter records the size of every Write it gets.
type countingWriter struct {
	bytes.Buffer
	writes []int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.Buffer.Write(p)
}

func TestStufferBuffersSmallWrites(t *testing.T) {
	var out countingWriter
	w := codec.NewStuffer(&out)
	line := []byte("a line of text\r\n")
	for range 100 {
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if len(out.writes) != 0 {
		t.Errorf("small writes reached the underlying writer before Close: %v", out.writes)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{100*len(line) + 3}, out.writes); diff != "" {
		t.Errorf("underlying writes (-want +got):\n%s", diff)
	}
}

func TestStufferLargeWriteIsBounded(t *testing.T) {
	var out countingWriter
	w := codec.NewStuffer(&out)
	body := bytes.Repeat([]byte("\n"), 1<<20) // worst case: output twice the input
	if n, err := w.Write(body); err != nil || n != len(body) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range out.writes {
		if n > 200<<10 {
			t.Fatalf("a single underlying write of %d bytes: buffer not bounded", n)
		}
	}
	if diff := cmp.Diff(strings.Repeat("\r\n", 1<<20)+".\r\n", out.String()); diff != "" {
		t.Errorf("output mismatch (-want +got):\n%s", diff)
	}
}

func TestStufferFlushKeepsPendingCR(t *testing.T) {
	var out bytes.Buffer
	w := codec.NewStuffer(&out)
	mustWrite(t, w, "a\r")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("a", out.String()); diff != "" {
		t.Errorf("after Flush (-want +got):\n%s", diff)
	}
	mustWrite(t, w, "\nb")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("a\r\nb\r\n.\r\n", out.String()); diff != "" {
		t.Errorf("after Close (-want +got):\n%s", diff)
	}
}

func mustWrite(t *testing.T, w io.Writer, s string) {
	t.Helper()
	if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
		t.Fatalf("Write(%q) = %d, %v", s, n, err)
	}
}

func TestStufferAfterClose(t *testing.T) {
	var out bytes.Buffer
	w := codec.NewStuffer(&out)
	mustWrite(t, w, "x")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("y")); !errors.Is(err, codec.ErrStufferClosed) {
		t.Errorf("Write after Close: %v, want ErrStufferClosed", err)
	}
	if err := w.Flush(); !errors.Is(err, codec.ErrStufferClosed) {
		t.Errorf("Flush after Close: %v, want ErrStufferClosed", err)
	}
	if err := w.Close(); !errors.Is(err, codec.ErrStufferClosed) {
		t.Errorf("second Close: %v, want ErrStufferClosed", err)
	}
	if diff := cmp.Diff("x\r\n.\r\n", out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

var errBroken = errors.New("broken pipe (test)")

type failWriter struct{ calls int }

func (w *failWriter) Write(p []byte) (int, error) { w.calls++; return 0, errBroken }

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestStufferWriteErrorIsSticky(t *testing.T) {
	fw := &failWriter{}
	w := codec.NewStuffer(fw)
	big := bytes.Repeat([]byte("x"), 100<<10)
	n, err := w.Write(big)
	if !errors.Is(err, errBroken) || n >= len(big) {
		t.Fatalf("Write = %d, %v; want < %d, %v", n, err, len(big), errBroken)
	}
	if _, err := w.Write([]byte("more")); !errors.Is(err, errBroken) {
		t.Errorf("second Write: %v, want the sticky error", err)
	}
	if err := w.Close(); !errors.Is(err, errBroken) {
		t.Errorf("Close: %v, want the sticky error", err)
	}
	if fw.calls != 1 {
		t.Errorf("underlying writer called %d times after failing, want 1", fw.calls)
	}
}

func TestStufferShortWrite(t *testing.T) {
	w := codec.NewStuffer(shortWriter{})
	mustWrite(t, w, "x")
	if err := w.Close(); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("Close over a short writer: %v, want io.ErrShortWrite", err)
	}
}

// bodyGen draws bodies rich in the bytes that matter: CR, LF, '.', and
// runs of fixed-length CRLF lines (which take the stride fast path).
var bodyGen = rapid.Custom(func(t *rapid.T) []byte {
	pieces := rapid.SliceOfN(rapid.OneOf(
		rapid.SampledFrom([]string{"\r", "\n", "\r\n", ".", "..", "\r\n.\r\n", "\n.\n", "a", "é", "\x00"}),
		rapid.StringMatching(`[a-z.]{0,12}`),
		rapid.Custom(func(t *rapid.T) string { // a block of equal lines, maybe spoiled
			line := rapid.StringMatching(`[a-z.]{0,6}`).Draw(t, "line") + "\r\n"
			block := []byte(strings.Repeat(line, rapid.IntRange(1, 40).Draw(t, "lines")))
			if rapid.Bool().Draw(t, "spoil") {
				block[rapid.IntRange(0, len(block)-1).Draw(t, "at")] = rapid.SampledFrom([]byte("\r\n.x")).Draw(t, "with")
			}
			return string(block)
		}),
	), 0, 30).Draw(t, "pieces")
	return []byte(strings.Join(pieces, ""))
})

// splitAt draws split points and cuts b into chunks.
func splitAt(t *rapid.T, b []byte) [][]byte {
	cuts := rapid.SliceOfN(rapid.IntRange(0, len(b)), 0, 8).Draw(t, "cuts")
	var out [][]byte
	prev := 0
	for _, c := range sortedInts(cuts) {
		out = append(out, b[prev:c])
		prev = c
	}
	return append(out, b[prev:])
}

func sortedInts(a []int) []int {
	b := append([]int(nil), a...)
	for i := 1; i < len(b); i++ {
		for j := i; j > 0 && b[j] < b[j-1]; j-- {
			b[j], b[j-1] = b[j-1], b[j]
		}
	}
	return b
}

// checkStuffed asserts the wire invariants of a stuffed body.
func checkStuffed(t *rapid.T, out []byte) {
	for i, c := range out {
		if c == '\r' && (i+1 == len(out) || out[i+1] != '\n') {
			t.Fatalf("bare CR at %d in %q", i, out)
		}
		if c == '\n' && (i == 0 || out[i-1] != '\r') {
			t.Fatalf("bare LF at %d in %q", i, out)
		}
	}
	if !bytes.HasSuffix(out, []byte(".\r\n")) {
		t.Fatalf("no terminator: %q", out)
	}
	term := "\r\n.\r\n"
	if i := bytes.Index(out, []byte(term)); i >= 0 && i != len(out)-len(term) {
		t.Fatalf("terminator at %d before the end of %q", i, out)
	}
	if bytes.HasPrefix(out, []byte(".\r\n")) && len(out) != 3 {
		t.Fatalf("body starts with a terminator line: %q", out)
	}
}

func TestStuffProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		body := bodyGen.Draw(t, "body")
		whole := codec.AppendStuffed(nil, body)
		checkStuffed(t, whole)

		back, err := codec.Unstuff(whole)
		if err != nil {
			t.Fatalf("Unstuff(%q): %v", whole, err)
		}
		if diff := cmp.Diff(string(codec.NormalizeLineEndings(body)), string(back)); diff != "" {
			t.Fatalf("Unstuff(AppendStuffed(x)) != NormalizeLineEndings(x) (-want +got):\n%s", diff)
		}

		var s codec.StuffState
		var pieces []byte
		var sw bytes.Buffer
		w := codec.NewStuffer(&sw)
		for _, c := range splitAt(t, body) {
			pieces = s.Append(pieces, c)
			if _, err := w.Write(c); err != nil {
				t.Fatal(err)
			}
		}
		pieces = s.AppendEnd(pieces)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(whole), string(pieces)); diff != "" {
			t.Fatalf("chunked Append differs from AppendStuffed (-whole +chunked):\n%s", diff)
		}
		if diff := cmp.Diff(string(whole), sw.String()); diff != "" {
			t.Fatalf("Stuffer differs from AppendStuffed (-whole +stuffer):\n%s", diff)
		}
	})
}

// naiveStuff is an obviously-correct byte-at-a-time model of the stuffer.
func naiveStuff(body []byte) []byte {
	var out []byte
	atStart := true
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch c {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(body) && body[i+1] == '\n' {
				i++
			}
			atStart = true
			continue
		case '\n':
			out = append(out, '\r', '\n')
			atStart = true
			continue
		case '.':
			if atStart {
				out = append(out, '.')
			}
		}
		out = append(out, c)
		atStart = false
	}
	if !atStart {
		out = append(out, '\r', '\n')
	}
	return append(out, '.', '\r', '\n')
}

func TestStuffMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		body := bodyGen.Draw(t, "body")
		if diff := cmp.Diff(string(naiveStuff(body)), string(codec.AppendStuffed(nil, body))); diff != "" {
			t.Fatalf("AppendStuffed differs from the byte-at-a-time model (-model +got):\n%s", diff)
		}
	})
}

func TestStuffLargeFixedLines(t *testing.T) {
	// Long runs of equal lines exercise the stride path across its span
	// limit; spoil one byte at many positions.
	line := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab\r\n"
	base := []byte(strings.Repeat(line, 400))
	for _, at := range []int{0, 1, 76, 77, 78, 8191, 8192, 8193, 16000, len(base) - 2, len(base) - 1} {
		for _, c := range []byte{'\r', '\n', '.'} {
			body := append([]byte(nil), base...)
			body[at] = c
			if diff := cmp.Diff(string(naiveStuff(body)), string(codec.AppendStuffed(nil, body))); diff != "" {
				t.Errorf("byte %q at %d: mismatch (-model +got):\n%s", c, at, diff)
			}
		}
	}
}
