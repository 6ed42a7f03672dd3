package codec_test

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
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

// utf8AddrXtext is RFC 6533 section 3's utf-8-addr-xtext, transcribed from
// its ABNF: QCHAR or \x{HEXPOINT}, HEXPOINT without leading zeros or
// surrogates.
var utf8AddrXtext = regexp.MustCompile(`^(?:[\x21-\x2a\x2c-\x3c\x3e-\x5b\x5d-\x7e]|\\x\{(?:` +
	`0[1-9]|1[1-9]|10|20|2B|3D|7F|5C|[89A-F][0-9A-F]|` + // xtext-specials, 2-digit forms
	`[1-9A-F][0-9A-F]{2}|[1-9A-CEF][0-9A-F]{3}|D[0-7][0-9A-F]{2}|` + // 3- and 4-digit forms
	`[1-9A-F][0-9A-F]{4}|10[0-9A-F]{4})\})+$`) // 5- and 6-digit forms

// decodeUTF8AddrXtext undoes the \x{HEX} escapes (for the round trip).
func decodeUTF8AddrXtext(s string) string {
	return regexp.MustCompile(`\\x\{([0-9A-F]+)\}`).ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.ParseUint(m[3:len(m)-1], 16, 32)
		return string(rune(n))
	})
}

func TestORCPT(t *testing.T) {
	tests := []struct{ in, want string }{
		{"user@example.com", "rfc822;user@example.com"},
		{"a+b=c@example.com", "rfc822;a+2Bb+3Dc@example.com"},
		{`"john doe"@example.org`, `rfc822;"john+20doe"@example.org`},
		{`a\b@example.com`, `rfc822;a\b@example.com`},
		{"", "rfc822;"},
		{"jörg@exämple.de", `utf-8;j\x{F6}rg@ex\x{E4}mple.de`},
		{"用户@例子.广告", `utf-8;\x{7528}\x{6237}@\x{4F8B}\x{5B50}.\x{5E7F}\x{544A}`},
		{"δοκιμή@παράδειγμα.δοκιμή", `utf-8;\x{3B4}\x{3BF}\x{3BA}\x{3B9}\x{3BC}\x{3AE}@\x{3C0}\x{3B1}\x{3C1}\x{3AC}\x{3B4}\x{3B5}\x{3B9}\x{3B3}\x{3BC}\x{3B1}.\x{3B4}\x{3BF}\x{3BA}\x{3B9}\x{3BC}\x{3AE}`},
		{"😀@example.com", `utf-8;\x{1F600}@example.com`},
		{"\U0010FFFF@example.com", `utf-8;\x{10FFFF}@example.com`},
		{"\u0080\u00ff\u0100\u0fff\u1000\ud7ff\ue000\uffff\U00010000@x", `utf-8;\x{80}\x{FF}\x{100}\x{FFF}\x{1000}\x{D7FF}\x{E000}\x{FFFF}\x{10000}@x`},
		{"ü+=\\@x", `utf-8;\x{FC}\x{2B}\x{3D}\x{5C}@x`},
		{`"ü ü"@x`, `utf-8;"\x{FC}\x{20}\x{FC}"@x`},
		{"ü\x7f@x", `utf-8;\x{FC}\x{7F}@x`},
		// Not expressible as utf-8-addr-xtext: the rfc822 form, bytes escaped.
		{"ü\r\n@x", "rfc822;+C3+BC+0D+0A@x"},
		{"\xff@x", "rfc822;+FF@x"},
	}
	for _, tt := range tests {
		got := codec.ORCPT(tt.in)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ORCPT(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
		if typ, v, _ := strings.Cut(got, ";"); typ == "utf-8" && !utf8AddrXtext.MatchString(v) {
			t.Errorf("ORCPT(%q) = %q is not utf-8-addr-xtext", tt.in, got)
		}
	}
}

// TestORCPTProperty: for any valid UTF-8 address without controls the
// utf-8 form matches RFC 6533's grammar and decodes back; the ASCII form
// decodes back as xtext; the value is always a valid esmtp-value.
func TestORCPTProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		addr := rapid.StringOf(rapid.OneOf(rapid.RuneFrom([]rune("+=\\ @\"ü\x7f")), rapid.Rune())).Draw(t, "addr")
		got := codec.ORCPT(addr)
		for i := 0; i < len(got); i++ {
			if got[i] <= ' ' || got[i] > '~' || got[i] == '=' { // esmtp-value, RFC 5321 section 4.1.2
				t.Fatalf("ORCPT(%q) = %q holds byte %#x", addr, got, got[i])
			}
		}
		typ, v, _ := strings.Cut(got, ";")
		switch typ {
		case "utf-8":
			if codec.IsASCII(addr) {
				t.Fatalf("ORCPT(%q) = %q: utf-8 type for an ASCII address", addr, got)
			}
			if !utf8AddrXtext.MatchString(v) {
				t.Fatalf("ORCPT(%q) = %q is not utf-8-addr-xtext", addr, got)
			}
			if back := decodeUTF8AddrXtext(v); back != addr {
				t.Fatalf("ORCPT(%q) = %q decodes to %q", addr, got, back)
			}
		case "rfc822":
			if back, err := codec.XtextDecode(v); err != nil || back != addr {
				t.Fatalf("ORCPT(%q) = %q decodes to %q, %v", addr, got, back, err)
			}
		default:
			t.Fatalf("ORCPT(%q) = %q: unknown type", addr, got)
		}
	})
}
