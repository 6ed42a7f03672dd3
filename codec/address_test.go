package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/codec"
)

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		name string
		addr string
		err  error
	}{
		{"null reverse-path", "", nil},
		{"plain", "user@example.com", nil},
		{"postmaster without domain", "Postmaster", nil},
		{"subaddress", "user+tag@example.com", nil},
		{"quoted local part", `"odd.local@part"@example.com`, nil},
		{"quoted with escaped quote", `"a\"b"@example.com`, nil},
		{"domain literal", "user@[192.0.2.1]", nil},
		{"UTF-8", "用户@例子.广告", nil},
		{"UTF-8 accents", "jöhn@exämple.org", nil},
		{"CR", "a\r@example.com", codec.ErrAddressLineBreak},
		{"LF", "a@example.com\nRCPT TO:<b@x>", codec.ErrAddressLineBreak},
		{"CRLF injection", "a@x>\r\nRSET", codec.ErrAddressLineBreak},
		{"NUL", "a\x00@example.com", codec.ErrAddressControl},
		{"TAB", "a\t@example.com", codec.ErrAddressControl},
		{"DEL", "a\x7f@example.com", codec.ErrAddressControl},
		{"ESC", "\x1b[31m@x", codec.ErrAddressControl},
		{"closing bracket", "a@example.com>", codec.ErrAddressBrackets},
		{"param smuggling", "a@example.com> SIZE=1", codec.ErrAddressBrackets},
		{"opening bracket", "<a@example.com", codec.ErrAddressBrackets},
		{"space", "a b@example.com", codec.ErrAddressBrackets},
		{"space in quotes", `"john doe"@example.org`, nil},
		{"space after quotes", `"a"b c@example.com`, codec.ErrAddressBrackets},
		{"bracket in quotes", `"a>b"@example.com`, codec.ErrAddressBrackets},
		{"unbalanced quote", `"ab@example.com`, codec.ErrAddressSyntax},
		{"escaped closing quote", `"ab\"@example.com`, codec.ErrAddressSyntax},
		{"empty local part", "@example.com", codec.ErrAddressSyntax},
		{"empty domain", "user@", codec.ErrAddressSyntax},
		{"invalid UTF-8", "\xff@example.com", codec.ErrAddressSyntax},
		{"too long", strings.Repeat("a", codec.MaxAddressLength) + "@x", codec.ErrAddressSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := codec.CheckAddress(tt.addr)
			if diff := cmp.Diff(tt.err, err, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("CheckAddress(%q) mismatch (-want +got):\n%s", tt.addr, diff)
			}
			if err == nil {
				return
			}
			var ae *codec.AddressError
			if !errors.As(err, &ae) {
				t.Fatalf("error %T is not an *AddressError", err)
			}
			if diff := cmp.Diff(codec.AddressError{Addr: tt.addr, Err: tt.err}, *ae, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("AddressError mismatch (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(err.Error(), "codec: ") {
				t.Errorf("error text %q lacks the package prefix", err)
			}
		})
	}
}

func TestCheckAddressNeverAcceptsWireBreakers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		addr := rapid.StringOf(rapid.OneOf(
			rapid.RuneFrom([]rune("\r\n\x00<> \"@.a\\é")),
			rapid.Rune(),
		)).Draw(t, "addr")
		if codec.CheckAddress(addr) != nil {
			return
		}
		if strings.ContainsAny(addr, "\r\n\x00<>") || unquotedSpace(addr) {
			t.Fatalf("CheckAddress accepted %q", addr)
		}
	})
}

// unquotedSpace reports whether s has a space outside a double-quoted
// string (a backslash escapes the next character inside quotes).
func unquotedSpace(s string) bool {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == ' ' && !quoted:
			return true
		}
	}
	return false
}

func TestIsASCII(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", true},
		{"user@example.com", true},
		{"\x7f", true},
		{"jöhn@example.com", false},
		{"user@例子.广告", false},
		{"\x80", false},
	}
	for _, tt := range tests {
		if got := codec.IsASCII(tt.in); got != tt.want {
			t.Errorf("IsASCII(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestReversePath(t *testing.T) {
	tests := []struct {
		in, want string
		err      error // CheckAddress(want)
	}{
		{"", "", nil},
		{"<>", "", nil},
		{" <> ", "", nil},
		{"\t<>", "", nil},
		{"< >", "", nil},
		{"a@example.com", "a@example.com", nil},
		{"<a@example.com>", "a@example.com", nil},
		{" <a@example.com>\t", "a@example.com", nil},
		{"< a@example.com >", "a@example.com", nil},
		{"<jörg@exämple.de>", "jörg@exämple.de", nil},
		{`<"john doe"@example.org>`, `"john doe"@example.org`, nil},
		{" a@example.com ", "a@example.com", nil},
		{"<<>>", "<<>>", codec.ErrAddressBrackets},
		{"<a@example.com> SIZE=1 <b@example.org>", "<a@example.com> SIZE=1 <b@example.org>", codec.ErrAddressBrackets},
		{"<a@example.com", "<a@example.com", codec.ErrAddressBrackets},
		{"a@example.com>", "a@example.com>", codec.ErrAddressBrackets},
		{"<>\r\n", "<>\r\n", codec.ErrAddressLineBreak},
		{"<a@example.com\r\nRSET>", "a@example.com\r\nRSET", codec.ErrAddressLineBreak},
		{"Alice <a@example.com>", "Alice <a@example.com>", codec.ErrAddressBrackets},
	}
	for _, tt := range tests {
		got := codec.ReversePath(tt.in)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ReversePath(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
		if diff := cmp.Diff(tt.err, codec.CheckAddress(got), cmpopts.EquateErrors()); diff != "" {
			t.Errorf("CheckAddress(ReversePath(%q)) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}
