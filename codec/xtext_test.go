package codec_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/codec"
)

func TestXtextEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"rfc822;user@example.com", "rfc822;user@example.com"},
		{"a+b=c", "a+2Bb+3Dc"},
		{"with space", "with+20space"},
		{"tab\tcr\rlf\n", "tab+09cr+0Dlf+0A"},
		{"\x00\x7f\xff", "+00+7F+FF"},
		{"jöhn", "j+C3+B6hn"},
		{"!~", "!~"},
		{"<id@host>", "<id@host>"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, codec.XtextEncode(tt.in)); diff != "" {
				t.Errorf("XtextEncode(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestXtextDecode(t *testing.T) {
	tests := []struct {
		name, in, want string
		errAt          int // offset in *XtextError, -1 for no error
	}{
		{"plain", "rfc822;a@b", "rfc822;a@b", -1},
		{"empty", "", "", -1},
		{"hex", "a+2Bb+3Dc+20", "a+b=c ", -1},
		{"needless hex", "+41", "A", -1},
		{"non-ASCII bytes", "j+C3+B6hn", "jöhn", -1},
		{"lower-case hex refused", "+2b", "", 0},
		{"truncated hex", "ab+2", "", 2},
		{"plus at end", "ab+", "", 2},
		{"non-hex", "+GG", "", 0},
		{"raw equals", "a=b", "", 1},
		{"raw space", "a b", "", 1},
		{"raw CR", "a\rb", "", 1},
		{"raw non-ASCII", "é", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := codec.XtextDecode(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("XtextDecode(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if tt.errAt < 0 {
				if err != nil {
					t.Errorf("XtextDecode(%q): unexpected error %v", tt.in, err)
				}
				return
			}
			var xe *codec.XtextError
			if !errors.As(err, &xe) {
				t.Fatalf("XtextDecode(%q) error = %v, want *XtextError", tt.in, err)
			}
			want := &codec.XtextError{Input: tt.in, Offset: tt.errAt}
			if diff := cmp.Diff(want, xe); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(codec.ErrBadXtext, err, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("error does not match ErrBadXtext (-want +got):\n%s", diff)
			}
		})
	}
}

func TestXtextRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := string(rapid.SliceOf(rapid.Byte()).Draw(t, "s"))
		enc := codec.XtextEncode(s)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; c < '!' || c > '~' || c == '=' {
				t.Fatalf("XtextEncode(%q) = %q: byte %q not allowed", s, enc, c)
			}
		}
		dec, err := codec.XtextDecode(enc)
		if err != nil {
			t.Fatalf("XtextDecode(XtextEncode(%q)): %v", s, err)
		}
		if dec != s {
			t.Fatalf("round trip: %q -> %q -> %q", s, enc, dec)
		}
	})
}
