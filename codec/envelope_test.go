package codec_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/codec"
)

// crlfLines joins lines with CRLF and adds the blank line.
func crlfLines(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want codec.Envelope // Header as string via hdr below
		hdr  string         // "" means: same as the header block of in
		err  error
	}{
		{
			name: "From and To",
			in:   crlfLines("From: Alice <alice@example.com>", "To: bob@example.org", "Subject: hi") + "body\r\n",
			want: codec.Envelope{From: "alice@example.com", To: []string{"bob@example.org"}},
			hdr:  crlfLines("From: Alice <alice@example.com>", "To: bob@example.org", "Subject: hi"),
		},
		{
			name: "Sender wins over From",
			in:   crlfLines("From: a@example.com, b@example.com", "Sender: secretary@example.com", "To: c@example.org"),
			want: codec.Envelope{From: "secretary@example.com", To: []string{"c@example.org"}},
		},
		{
			name: "first From address without Sender",
			in:   crlfLines("From: a@example.com, b@example.com", "To: c@example.org"),
			want: codec.Envelope{From: "a@example.com", To: []string{"c@example.org"}},
		},
		{
			name: "empty Sender falls back to From",
			in:   crlfLines("Sender:", "From: a@example.com", "To: c@example.org"),
			want: codec.Envelope{From: "a@example.com", To: []string{"c@example.org"}},
		},
		{
			name: "To Cc Bcc in header order, duplicates kept, Bcc removed",
			in: crlfLines("Cc: cc1@example.org, \"Cee Two\" <cc2@example.org>", "From: a@example.com",
				"Bcc: hidden@example.net", "To: to@example.org, cc1@example.org"),
			want: codec.Envelope{From: "a@example.com", To: []string{"cc1@example.org", "cc2@example.org", "hidden@example.net", "to@example.org", "cc1@example.org"}},
			hdr:  crlfLines("Cc: cc1@example.org, \"Cee Two\" <cc2@example.org>", "From: a@example.com", "To: to@example.org, cc1@example.org"),
		},
		{
			name: "every To field counts",
			in:   crlfLines("From: a@example.com", "To: x@example.org", "To: y@example.org"),
			want: codec.Envelope{From: "a@example.com", To: []string{"x@example.org", "y@example.org"}},
		},
		{
			name: "field names are case-insensitive",
			in:   crlfLines("fROM: a@example.com", "tO: x@example.org", "BCC: y@example.org", "x-other: 1"),
			want: codec.Envelope{From: "a@example.com", To: []string{"x@example.org", "y@example.org"}},
			hdr:  crlfLines("fROM: a@example.com", "tO: x@example.org", "x-other: 1"),
		},
		{
			name: "folded Bcc and Resent-Bcc removed with continuation lines",
			in: crlfLines("From: a@example.com", "Bcc: one@example.net,", " two@example.net,", "\tthree@example.net",
				"To: to@example.org", "Resent-Bcc: r@example.net,", "  r2@example.net", "Subject: folded", " subject"),
			want: codec.Envelope{From: "a@example.com", To: []string{"one@example.net", "two@example.net", "three@example.net", "to@example.org"}},
			hdr:  crlfLines("From: a@example.com", "To: to@example.org", "Subject: folded", " subject"),
		},
		{
			name: "single Resent block wins",
			in: crlfLines("From: orig@example.com", "To: orig-to@example.org", "Resent-Date: Mon, 23 Nov 2026 09:00:00 +0000",
				"Resent-From: fwd@example.com", "Resent-To: new@example.org", "Resent-Cc: newcc@example.org", "Resent-Bcc: newbcc@example.org"),
			want: codec.Envelope{From: "fwd@example.com", To: []string{"new@example.org", "newcc@example.org", "newbcc@example.org"}},
			hdr: crlfLines("From: orig@example.com", "To: orig-to@example.org", "Resent-Date: Mon, 23 Nov 2026 09:00:00 +0000",
				"Resent-From: fwd@example.com", "Resent-To: new@example.org", "Resent-Cc: newcc@example.org"),
		},
		{
			name: "Resent-Sender wins over Resent-From",
			in: crlfLines("From: orig@example.com", "To: orig-to@example.org", "Resent-Date: Mon, 23 Nov 2026 09:00:00 +0000",
				"Resent-From: fwd@example.com", "Resent-Sender: agent@example.com", "Resent-To: new@example.org"),
			want: codec.Envelope{From: "agent@example.com", To: []string{"new@example.org"}},
		},
		{
			name: "Resent fields without Resent-Date are ignored",
			in:   crlfLines("From: orig@example.com", "To: orig-to@example.org", "Resent-From: fwd@example.com", "Resent-To: new@example.org"),
			want: codec.Envelope{From: "orig@example.com", To: []string{"orig-to@example.org"}},
		},
		{
			name: "multiple Resent blocks",
			in: crlfLines("Resent-Date: Mon, 23 Nov 2026 09:00:00 +0000", "Resent-From: a@example.com", "Resent-To: b@example.org",
				"Resent-Date: Sun, 22 Nov 2026 09:00:00 +0000", "Resent-From: c@example.com", "Resent-To: d@example.org",
				"From: orig@example.com", "To: x@example.org"),
			err: codec.ErrMultipleResent,
		},
		{
			name: "Resent block without Resent-From",
			in:   crlfLines("From: orig@example.com", "To: x@example.org", "Resent-Date: Mon, 23 Nov 2026 09:00:00 +0000", "Resent-To: b@example.org"),
			err:  codec.ErrNoSender,
		},
		{
			name: "UTF-8 addresses survive",
			in:   crlfLines("From: Jörg <jörg@exämple.de>", "To: 用户@例子.广告, \"Zoë\" <zoë@example.org>"),
			want: codec.Envelope{From: "jörg@exämple.de", To: []string{"用户@例子.广告", "zoë@example.org"}},
		},
		{
			name: "RFC 2047 display names, unknown charset tolerated",
			in:   crlfLines("From: =?utf-8?q?J=C3=B6rg?= <j@example.de>", "To: =?x-unknown?q?abc?= <k@example.org>"),
			want: codec.Envelope{From: "j@example.de", To: []string{"k@example.org"}},
		},
		{
			name: "groups expanded, empty group adds nothing",
			in:   crlfLines("From: a@example.com", "To: undisclosed-recipients:;", "Bcc: team: x@example.org, y@example.org;"),
			want: codec.Envelope{From: "a@example.com", To: []string{"x@example.org", "y@example.org"}},
			hdr:  crlfLines("From: a@example.com", "To: undisclosed-recipients:;"),
		},
		{
			name: "quoted local part re-quoted",
			in:   crlfLines(`From: "john..doe"@example.com`, "To: x@example.org"),
			want: codec.Envelope{From: `"john..doe"@example.com`, To: []string{"x@example.org"}},
		},
		{
			name: "issue 8: bare local part in Resent-To",
			in: crlfLines("From: orig@example.com", "To: orig-to@example.org", "Resent-Date: Mon, 23 Nov 2026 09:00:00 +0000",
				"Resent-From: fwd@example.com", "Resent-To: a@example.com, Jeff"),
			want: codec.Envelope{From: "fwd@example.com", To: []string{"a@example.com", "Jeff"}},
		},
		{
			name: "lenient Bcc still removed",
			in:   crlfLines("From: a@example.com", "To: John Q. Public <jqp@example.com>, Jeff", "Bcc: Doe, John <jd@example.com>,"),
			want: codec.Envelope{From: "a@example.com", To: []string{"jqp@example.com", "Jeff", "Doe", "jd@example.com"}},
			hdr:  crlfLines("From: a@example.com", "To: John Q. Public <jqp@example.com>, Jeff"),
		},
		{
			name: "From <> is the null reverse-path",
			in:   crlfLines("From: <>", "To: b@example.org"),
			want: codec.Envelope{From: "", To: []string{"b@example.org"}},
		},
		{
			name: "From with display name and <>",
			in:   crlfLines("From: Mail Delivery System <>", "To: b@example.org"),
			want: codec.Envelope{From: "", To: []string{"b@example.org"}},
		},
		{
			name: "Sender <> wins over From",
			in:   crlfLines("From: a@example.com", "Sender: <>", "To: b@example.org"),
			want: codec.Envelope{From: "", To: []string{"b@example.org"}},
		},
		{
			name: "Resent-Sender <>",
			in: crlfLines("From: orig@example.com", "Resent-Date: Mon, 23 Nov 2026 09:00:00 +0000",
				"Resent-Sender: <>", "Resent-From: fwd@example.com", "Resent-To: new@example.org"),
			want: codec.Envelope{From: "", To: []string{"new@example.org"}},
		},
		{
			name: "From bare local part, as smtplib sends it",
			in:   crlfLines("From: Jeff", "To: b@example.org"),
			want: codec.Envelope{From: "Jeff", To: []string{"b@example.org"}},
		},
		{
			name: "From first of a lenient list",
			in:   crlfLines("From: John Q. Public <jqp@example.com>, Jeff", "To: b@example.org"),
			want: codec.Envelope{From: "jqp@example.com", To: []string{"b@example.org"}},
		},
		{
			name: "From with two addresses in one item",
			in:   crlfLines("From: a@example.com <b@example.org>", "To: c@example.org"),
			err:  codec.ErrHeaderSyntax,
		},
		{
			name: "To only <>",
			in:   crlfLines("From: a@example.com", "To: <>"),
			err:  codec.ErrNoRecipients,
		},
		{
			name: "space in a lenient recipient",
			in:   crlfLines("From: a@example.com", "To: Jeff, a b@example.com"),
			err:  codec.ErrAddressBrackets,
		},
		{
			name: "bare-LF header block",
			in:   "From: a@example.com\nBcc: b@example.org,\n c@example.org\nTo: d@example.org\n\nbody\n",
			want: codec.Envelope{From: "a@example.com", To: []string{"b@example.org", "c@example.org", "d@example.org"}},
			hdr:  "From: a@example.com\nTo: d@example.org\n\n",
		},
		{
			name: "no blank line: whole input is the header, blank line added",
			in:   "From: a@example.com\r\nTo: d@example.org",
			want: codec.Envelope{From: "a@example.com", To: []string{"d@example.org"}},
			hdr:  "From: a@example.com\r\nTo: d@example.org\r\n\r\n",
		},
		{
			name: "body after blank line is ignored",
			in:   crlfLines("From: a@example.com", "To: d@example.org") + "Bcc: not-a-header@example.org\r\n",
			want: codec.Envelope{From: "a@example.com", To: []string{"d@example.org"}},
			hdr:  crlfLines("From: a@example.com", "To: d@example.org"),
		},
		{
			name: "missing From",
			in:   crlfLines("To: d@example.org", "Subject: x"),
			err:  codec.ErrNoSender,
		},
		{
			name: "empty From",
			in:   crlfLines("From: ", "To: d@example.org"),
			err:  codec.ErrNoSender,
		},
		{
			name: "empty header",
			in:   "\r\nbody",
			err:  codec.ErrNoSender,
		},
		{
			name: "no recipients",
			in:   crlfLines("From: a@example.com", "Subject: x", "Cc:"),
			err:  codec.ErrNoRecipients,
		},
		{
			name: "line without colon",
			in:   crlfLines("From: a@example.com", "garbage line", "To: d@example.org"),
			err:  codec.ErrHeaderSyntax,
		},
		{
			name: "continuation before first field",
			in:   crlfLines(" folded", "From: a@example.com", "To: d@example.org"),
			err:  codec.ErrHeaderSyntax,
		},
		{
			name: "unparsable To",
			in:   crlfLines("From: a@example.com", "To: <<<"),
			err:  codec.ErrHeaderSyntax,
		},
		{
			name: "bare CR would start a hidden Bcc on the wire",
			in:   crlfLines("From: a@example.com", "To: d@example.org\rBcc: secret@example.net"),
			err:  codec.ErrHeaderSyntax,
		},
		{
			name: "lone CR line",
			in:   "From: a@example.com\n\r",
			err:  codec.ErrHeaderSyntax,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := codec.ParseEnvelope([]byte(tt.in))
			if diff := cmp.Diff(tt.err, err, cmpopts.EquateErrors()); diff != "" {
				t.Fatalf("error mismatch (-want +got):\n%s", diff)
			}
			if tt.err != nil {
				if diff := cmp.Diff(codec.Envelope{}, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("envelope not empty on error (-want +got):\n%s", diff)
				}
				return
			}
			want := tt.want
			want.Header = []byte(tt.hdr)
			if tt.hdr == "" {
				want.Header = []byte(tt.in[:codec.SplitHeader([]byte(tt.in))])
			}
			if diff := cmp.Diff(want, got, cmp.Transformer("string", func(b []byte) string { return string(b) })); diff != "" {
				t.Errorf("ParseEnvelope mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEnvelopeHeaderError(t *testing.T) {
	_, err := codec.ParseEnvelope([]byte("From: a@example.com\r\nTo: <<<\r\n\r\n"))
	var he *codec.HeaderError
	if !errors.As(err, &he) {
		t.Fatalf("error %v (%T) is not a *HeaderError", err, err)
	}
	if he.Line != 2 || he.Field != "To" || he.Err == nil {
		t.Errorf("HeaderError = %+v, want line 2, field To, a cause", he)
	}
	if !strings.HasPrefix(err.Error(), "codec: ") {
		t.Errorf("error text %q lacks the package prefix", err)
	}
}

func TestParseEnvelopeDoesNotAlias(t *testing.T) {
	in := []byte("From: a@example.com\r\nTo: b@example.org\r\n\r\n")
	env, err := codec.ParseEnvelope(in)
	if err != nil {
		t.Fatal(err)
	}
	env.Header[0] = 'X'
	if !bytes.HasPrefix(in, []byte("From")) {
		t.Errorf("Envelope.Header aliases the input")
	}
}

func TestSplitHeader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"empty", "", -1},
		{"incomplete", "From: a\r\nTo: b\r\n", -1},
		{"CRLF", "From: a\r\nTo: b\r\n\r\nbody", len("From: a\r\nTo: b\r\n\r\n")},
		{"bare LF", "From: a\nTo: b\n\nbody", len("From: a\nTo: b\n\n")},
		{"mixed", "From: a\r\nTo: b\n\r\nbody", len("From: a\r\nTo: b\n\r\n")},
		{"CRLF then LF", "From: a\r\n\nbody", len("From: a\r\n\n")},
		{"starts with CRLF", "\r\nbody", 2},
		{"starts with LF", "\nbody", 1},
		{"folded line is not blank", "Subject: a\r\n \r\nX: y\r\n\r\n", len("Subject: a\r\n \r\nX: y\r\n\r\n")},
		{"lone CR at end", "From: a\r\n\r", -1},
		{"blank line at end", "From: a\r\n\r\n", len("From: a\r\n\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, codec.SplitHeader([]byte(tt.in))); diff != "" {
				t.Errorf("SplitHeader(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
