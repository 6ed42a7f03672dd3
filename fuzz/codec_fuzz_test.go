package fuzz

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/postwire/postwire/codec"
)

// FuzzDotStuff: any body, cut at a fuzzed point into two Append calls.
// Invariants: no bare CR or LF in the output; "\r\n.\r\n" only at the very
// end; Unstuff(out) == NormalizeLineEndings(body); the two-call output, the
// Stuffer's output and AppendStuffed's are identical.
func FuzzDotStuff(f *testing.F) {
	f.Add([]byte("Subject: hi\r\n\r\nHello\r\n.\r\n..\r\nbye\r\n"), uint(12))
	f.Add([]byte("a\r"), uint(2))
	f.Add([]byte("x\n.\nMAIL FROM:<evil@example>\n"), uint(2))
	f.Fuzz(func(t *testing.T, body []byte, cut uint) {
		whole := codec.AppendStuffed(nil, body)
		codecCheckWire(t, whole)

		at := int(cut % uint(len(body)+1))
		var s codec.StuffState
		two := s.Append(nil, body[:at])
		two = s.Append(two, body[at:])
		two = s.AppendEnd(two)
		if !bytes.Equal(whole, two) {
			t.Fatalf("split at %d changes the output:\nwhole %q\nsplit %q", at, whole, two)
		}

		var buf bytes.Buffer
		w := codec.NewStuffer(&buf)
		if _, err := w.Write(body[:at]); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body[at:]); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(whole, buf.Bytes()) {
			t.Fatalf("Stuffer differs:\nwhole   %q\nstuffer %q", whole, buf.Bytes())
		}

		back, err := codec.Unstuff(whole)
		if err != nil {
			t.Fatalf("Unstuff(%q): %v", whole, err)
		}
		if norm := codec.NormalizeLineEndings(body); !bytes.Equal(back, norm) {
			t.Fatalf("Unstuff(AppendStuffed(x)) = %q, NormalizeLineEndings(x) = %q", back, norm)
		}
		_, _ = codec.Unstuff(body) // arbitrary input: must not panic
	})
}

func codecCheckWire(t *testing.T, out []byte) {
	t.Helper()
	for i, c := range out {
		if c == '\r' && (i+1 == len(out) || out[i+1] != '\n') {
			t.Fatalf("bare CR at %d in %q", i, out)
		}
		if c == '\n' && (i == 0 || out[i-1] != '\r') {
			t.Fatalf("bare LF at %d in %q", i, out)
		}
	}
	if !bytes.HasSuffix(out, []byte(".\r\n")) {
		t.Fatalf("no terminator in %q", out)
	}
	if i := bytes.Index(out, []byte("\r\n.\r\n")); i >= 0 && i != len(out)-5 {
		t.Fatalf("terminator at %d before the end of %q", i, out)
	}
	if len(out) > 3 && bytes.HasPrefix(out, []byte(".\r\n")) {
		t.Fatalf("output starts with a terminator line: %q", out)
	}
}

// FuzzXtext: decoding arbitrary input never panics and fails only with
// ErrBadXtext; encoding anything decodes back to it; what decodes
// re-encodes to something that decodes to the same.
func FuzzXtext(f *testing.F) {
	f.Add("rfc822;user@example.com")
	f.Add("a+2Bb+3D+20")
	f.Add("+C3+B6+")
	f.Fuzz(func(t *testing.T, s string) {
		dec, err := codec.XtextDecode(s)
		if err != nil {
			if !errors.Is(err, codec.ErrBadXtext) {
				t.Fatalf("XtextDecode(%q): %v is not ErrBadXtext", s, err)
			}
		} else if again, err := codec.XtextDecode(codec.XtextEncode(dec)); err != nil || again != dec {
			t.Fatalf("XtextDecode(%q) = %q, re-encoded decodes to %q, %v", s, dec, again, err)
		}
		enc := codec.XtextEncode(s)
		if strings.ContainsAny(enc, " =\r\n\x00") {
			t.Fatalf("XtextEncode(%q) = %q holds a forbidden byte", s, enc)
		}
		if back, err := codec.XtextDecode(enc); err != nil || back != s {
			t.Fatalf("XtextDecode(XtextEncode(%q)) = %q, %v", s, back, err)
		}
	})
}

// FuzzEnvelope: arbitrary header bytes never panic; errors are the
// documented ones; on success Header holds no Bcc or Resent-Bcc field, ends
// with its blank line, there is at least one recipient, no recipient is
// empty, and every address (the sender too, "" being the null path) passes
// CheckAddress, whether net/mail or the lenient parser read it.
func FuzzEnvelope(f *testing.F) {
	f.Add([]byte("From: a@example.com\r\nTo: b@example.org\r\nBcc: c@example.net,\r\n d@example.net\r\n\r\nbody"))
	f.Add([]byte("Resent-Date: x\nResent-From: r@example.com\nResent-Bcc: s@example.org\nFrom: a@example.com\n\n"))
	f.Add([]byte("From: =?utf-8?q?J=C3=B6rg?= <jörg@exämple.de>\r\nTo: undisclosed-recipients:;\r\nCc: g: x@y.z;\r\n"))
	f.Add([]byte("Resent-Date: x\r\nResent-From: <>\r\nResent-To: a@example.com, Jeff\r\n\r\n"))
	f.Add([]byte("From: John Q. Public <jqp@example.com>, Jeff\nTo: Doe, John <jd@x.com>,, \"a@b\"\nBcc: Team: a@x (c, d), <@r:b@y;\n\n"))
	f.Add([]byte("From: Mail Delivery System <>\r\nTo: =?utf-8?q?J=C3=B6rg,_X?= <j@example.de>, (c) a @ b .c, <x@y\r\n"))
	f.Add([]byte("From: a@x\r\nTo: a@x <b@y>, \"unclosed, John Smith, a\x00b@c, a@b@c; G: H: x@y;;\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		env, err := codec.ParseEnvelope(in)
		if err != nil {
			if !errors.Is(err, codec.ErrHeaderSyntax) && !errors.Is(err, codec.ErrNoSender) &&
				!errors.Is(err, codec.ErrNoRecipients) && !errors.Is(err, codec.ErrMultipleResent) {
				t.Fatalf("ParseEnvelope(%q): undocumented error %v", in, err)
			}
			return
		}
		if len(env.To) == 0 {
			t.Fatalf("ParseEnvelope(%q) succeeded without recipients %+v", in, env)
		}
		for _, a := range append([]string{env.From}, env.To...) {
			if err := codec.CheckAddress(a); err != nil {
				t.Fatalf("ParseEnvelope(%q) returned address %q: %v", in, a, err)
			}
		}
		if slices.Contains(env.To, "") {
			t.Fatalf("ParseEnvelope(%q) returned an empty recipient: %q", in, env.To)
		}
		if n := codec.SplitHeader(env.Header); n != len(env.Header) {
			t.Fatalf("Header %q does not end at its first blank line (SplitHeader = %d)", env.Header, n)
		}
		// Check the header as the wire will carry it (bare CR and LF become CRLF).
		for _, line := range strings.SplitAfter(string(codec.NormalizeLineEndings(env.Header)), "\n") {
			if line == "" || line[0] == ' ' || line[0] == '\t' {
				continue
			}
			name, _, ok := strings.Cut(line, ":")
			name = strings.TrimRight(name, " \t")
			if ok && (strings.EqualFold(name, "Bcc") || strings.EqualFold(name, "Resent-Bcc")) {
				t.Fatalf("Header %q still holds field %q", env.Header, name)
			}
		}
	})
}
