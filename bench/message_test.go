package bench

import (
	"bytes"
	"testing"
)

// lines splits CRLF-terminated text into its lines, failing on a bare CR
// or LF or a missing final CRLF.
func lines(t *testing.T, b []byte) [][]byte {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatal("text does not end in CRLF")
	}
	ls := bytes.Split(b[:len(b)-2], []byte("\r\n"))
	for i, l := range ls {
		if bytes.ContainsAny(l, "\r\n") {
			t.Fatalf("bare CR or LF in line %d", i)
		}
	}
	return ls
}

// TestMakeBody checks the message bodies: the exact size asked for, CRLF
// line endings only, lines of at most 76 characters, some dot-stuffing work.
func TestMakeBody(t *testing.T) {
	for _, size := range []int{1 << 10, 1 << 20} {
		b := MakeBody(size)
		if len(b) != size {
			t.Errorf("MakeBody(%d): %d bytes", size, len(b))
		}
		dots := 0
		for i, l := range lines(t, b) {
			if len(l) > 76 {
				t.Fatalf("MakeBody(%d): line %d has %d characters", size, i, len(l))
			}
			if bytes.HasPrefix(l, []byte(".")) {
				dots++
			}
		}
		if dots == 0 {
			t.Errorf("MakeBody(%d): no line starts with '.'", size)
		}
	}
}

// TestRaggedText checks the ragged corpus: at most the size asked for and
// within one line of it, CRLF only, line lengths spread over 0 to
// MaxRaggedLine, some leading dots, the same text every time.
func TestRaggedText(t *testing.T) {
	const size = 1 << 20
	b := RaggedText(size)
	if len(b) > size || len(b) < size-MaxRaggedLine-2 {
		t.Errorf("RaggedText(%d): %d bytes", size, len(b))
	}
	ls := lines(t, b)
	dots, empty, long := 0, 0, 0
	for i, l := range ls {
		switch {
		case len(l) > MaxRaggedLine:
			t.Fatalf("line %d has %d characters", i, len(l))
		case len(l) == 0:
			empty++
		case len(l) > MaxRaggedLine*9/10:
			long++
		}
		if bytes.HasPrefix(l, []byte(".")) {
			dots++
		}
	}
	// About 1 in 201 lines is empty and 1 in 10 longer than 180; 1 in 16
	// starts with a dot. Loose bounds: the text is not degenerate.
	if n := len(ls); empty < n/400 || long < n/20 || dots < n/32 || dots > n/8 {
		t.Errorf("%d lines: %d empty, %d over 180 characters, %d with a leading dot", n, empty, long, dots)
	}
	if !bytes.Equal(b, RaggedText(size)) {
		t.Error("RaggedText is not deterministic")
	}
}
