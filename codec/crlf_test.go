package codec_test

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"

	"github.com/postwire/postwire/codec"
)

// CRLFState is StuffState without the dots: for any body, split anyhow,
// its output is the stuffed message un-stuffed (terminator removed), and
// it has no bare CR or LF.
func TestCRLFStateIsStuffingWithoutDots(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		body := []byte(rapid.StringMatching(`[a.\r\n]{0,40}`).Draw(t, "body"))
		var s codec.CRLFState
		var got []byte
		for _, p := range splitAt(t, body) {
			got = s.Append(got, p)
		}
		got = s.AppendEnd(got)
		want, err := codec.Unstuff(codec.AppendStuffed(nil, body))
		if err != nil {
			t.Fatalf("Unstuff: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("CRLFState(%q) = %q, want %q", body, got, want)
		}
		if s != (codec.CRLFState{}) {
			t.Fatalf("AppendEnd did not reset the state")
		}
	})
}

func TestCRLFStateTable(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"a", "a\r\n"},
		{"a\n", "a\r\n"},
		{"a\r", "a\r\n"},
		{"a\r\nb", "a\r\nb\r\n"},
		{".a\n.\r\n", ".a\r\n.\r\n"}, // no dot-stuffing
		{"\r\r\n\n", "\r\n\r\n\r\n"},
	} {
		var s codec.CRLFState
		if got := string(s.AppendEnd(s.Append(nil, []byte(tt.in)))); got != tt.want {
			t.Errorf("CRLFState(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
