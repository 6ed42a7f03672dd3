package codec_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/codec"
)

func TestUnstuff(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"empty input", "", "", nil},
		{"terminator only", ".\r\n", "", nil},
		{"terminator with bare LF", ".\n", "", nil},
		{"with terminator", "a\r\nb\r\n.\r\n", "a\r\nb\r\n", nil},
		{"without terminator", "a\r\nb\r\n", "a\r\nb\r\n", nil},
		{"doubled dot", "..a\r\nb\r\n...\r\n.\r\n", ".a\r\nb\r\n..\r\n", nil},
		{"dot line inside body", "a\r\n..\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", nil},
		{"single leading dot removed", ".a\r\n", "a\r\n", nil},
		{"dot not at line start", "a.b\r\n", "a.b\r\n", nil},
		{"bare LF tolerated and starts a line", "a\n..b\n", "a\n.b\n", nil},
		{"bare CR tolerated", "a\rb\r\n", "a\rb\r\n", nil},
		{"no final line break", "..abc", ".abc", nil},
		{"dot at end without line break", "a\r\n.", "a\r\n", nil},
		{"early terminator", "a\r\n.\r\nb\r\n", "a\r\n", codec.ErrEarlyTerminator},
		{"early terminator at start", ".\r\nMAIL FROM:<x>\r\n", "", codec.ErrEarlyTerminator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := codec.Unstuff([]byte(tt.in))
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Unstuff(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.err, err, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("Unstuff(%q) error mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestUnstuffDoesNotAlias(t *testing.T) {
	in := []byte("abc\r\n")
	out, err := codec.Unstuff(in)
	if err != nil {
		t.Fatal(err)
	}
	out[0] = 'X'
	if string(in) != "abc\r\n" {
		t.Errorf("Unstuff result aliases its input: input now %q", in)
	}
}

func TestNormalizeLineEndings(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"no line break", "abc", "abc\r\n"},
		{"CRLF kept", "a\r\nb\r\n", "a\r\nb\r\n"},
		{"bare LF", "a\nb", "a\r\nb\r\n"},
		{"bare CR", "a\rb\r", "a\r\nb\r\n"},
		{"CR CR LF", "a\r\r\n", "a\r\n\r\n"},
		{"LF CR", "\n\r", "\r\n\r\n"},
		{"dots untouched", ".\r\n..", ".\r\n..\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := codec.NormalizeLineEndings([]byte(tt.in))
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("NormalizeLineEndings(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
