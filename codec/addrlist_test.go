package codec_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/codec"
)

// lenientCases are malformed-but-common address fields from real mail.
// py is what Python 3.11's email.utils.getaddresses (strict, the default
// since the CVE-2023-27043 fix) returns for the value, addresses only:
// smtplib's send_message sends one RCPT per entry, "" as RCPT TO:<>, and
// [""] is its signal that parsing failed. want (or err) is postwire's
// answer; every departure from py, other than dropping "", says why. py
// is for a message parsed with the default compat32 policy; with
// email.policy.default the header registry re-renders the value before
// getaddresses sees it, which turns a few failures into answers (a
// trailing comma is dropped, "John Smith" becomes RCPT TO:<John Smith>).
var lenientCases = []struct {
	in   string
	py   []string
	want []string
	err  error
	why  string
}{
	// Accepted as smtplib accepts them.
	{in: "a@example.com, Jeff", py: []string{"a@example.com", "Jeff"}, want: []string{"a@example.com", "Jeff"}},
	{in: "John Q. Public <jqp@example.com>", py: []string{"jqp@example.com"}, want: []string{"jqp@example.com"}},
	{in: "John Q. Public <jqp@example.com>, Jeff", py: []string{"jqp@example.com", "Jeff"}, want: []string{"jqp@example.com", "Jeff"}},
	{in: "<a@example.com", py: []string{"a@example.com"}, want: []string{"a@example.com"}},
	{in: "Alice <a@example.com", py: []string{"a@example.com"}, want: []string{"a@example.com"}},
	{in: "Alice <a@example.com, Bob <b@example.org>", py: []string{"a@example.com", "b@example.org"}, want: []string{"a@example.com", "b@example.org"}},
	{in: "a@example.com,, b@example.org", py: []string{"a@example.com", "", "b@example.org"}, want: []string{"a@example.com", "b@example.org"}},
	{in: ",a@example.com, Jeff", py: []string{"", "a@example.com", "Jeff"}, want: []string{"a@example.com", "Jeff"}},
	{in: "undisclosed-recipients:;", py: []string{""}, want: nil},
	{in: "Team: a@example.com, b@example.org;", py: []string{"a@example.com", "b@example.org"}, want: []string{"a@example.com", "b@example.org"}},
	{in: "Team: a@example.com, Jeff;, c@example.net", py: []string{"a@example.com", "Jeff", "c@example.net"}, want: []string{"a@example.com", "Jeff", "c@example.net"}},
	{in: "Team: a@example.com, Jeff", py: []string{"a@example.com", "Jeff"}, want: []string{"a@example.com", "Jeff"}},
	{in: "G: H: a@example.com;;, Jeff", py: []string{"a@example.com", "Jeff"}, want: []string{"a@example.com", "Jeff"}},
	{in: "G: a@example.com;, Bob <b@example.org>, Jeff", py: []string{"a@example.com", "b@example.org", "Jeff"}, want: []string{"a@example.com", "b@example.org", "Jeff"}},
	{in: "a@example.com (Alice), Jeff", py: []string{"a@example.com", "Jeff"}, want: []string{"a@example.com", "Jeff"}},
	{in: "(comment) a@example.com", py: []string{"a@example.com"}, want: []string{"a@example.com"}},
	{in: "Alice (the boss) <a@example.com>, Jeff", py: []string{"a@example.com", "Jeff"}, want: []string{"a@example.com", "Jeff"}},
	{in: "Alice <a@example.com> (work), Jeff", py: []string{"a@example.com", "Jeff"}, want: []string{"a@example.com", "Jeff"}},
	{in: "=?utf-8?q?J=C3=B6rg?= <j@example.de>, Jeff", py: []string{"j@example.de", "Jeff"}, want: []string{"j@example.de", "Jeff"}},
	{in: "Doe, John <jd@example.com>", py: []string{"Doe", "jd@example.com"}, want: []string{"Doe", "jd@example.com"}},
	{in: "\"Doe, John\" <jd@example.com>, Jeff", py: []string{"jd@example.com", "Jeff"}, want: []string{"jd@example.com", "Jeff"}},
	{in: "Mr. Smith <s@example.com>, Jeff", py: []string{"s@example.com", "Jeff"}, want: []string{"s@example.com", "Jeff"}},
	{in: "O'Brien <ob@example.com>, Jeff", py: []string{"ob@example.com", "Jeff"}, want: []string{"ob@example.com", "Jeff"}},
	{in: "a..b@example.com, Jeff", py: []string{"a..b@example.com", "Jeff"}, want: []string{"a..b@example.com", "Jeff"}},
	{in: "\"a@example.com\"", py: []string{"a@example.com"}, want: []string{"a@example.com"}},
	{in: "<Jeff>", py: []string{"Jeff"}, want: []string{"Jeff"}},
	{in: "<@relay.example:a@example.com>", py: []string{"a@example.com"}, want: []string{"a@example.com"}},
	{in: "a @ example.com, Jeff", py: []string{"a@example.com", "Jeff"}, want: []string{"a@example.com", "Jeff"}},
	{in: "a@example .com, Jeff", py: []string{"a@example.com", "Jeff"}, want: []string{"a@example.com", "Jeff"}},
	{in: "Jeff <>, a@example.com", py: []string{"", "a@example.com"}, want: []string{"a@example.com"}},
	{in: "Jörg <jörg@exämple.de>, Jeff", py: []string{"jörg@exämple.de", "Jeff"}, want: []string{"jörg@exämple.de", "Jeff"}},
	{in: "postmaster", py: []string{"postmaster"}, want: []string{"postmaster"}},
	{in: "j.doe, Jeff.", py: []string{"j.doe", "Jeff."}, want: []string{"j.doe", "Jeff."}},
	{in: "a@example.com (c, d)", py: []string{""}, want: []string{"a@example.com"},
		why: "strict mode counts the comma inside the comment as a separator; net/mail reads the comment"},

	// Accepted where smtplib's strict parsing fails.
	{in: "a@example.com, b@example.org,", py: []string{""}, want: []string{"a@example.com", "b@example.org"},
		why: "a trailing comma fails strict mode's comma count; it adds no address"},
	{in: "a@example.com, Jeff,", py: []string{""}, want: []string{"a@example.com", "Jeff"},
		why: "a trailing comma fails strict mode's comma count; it adds no address"},
	{in: "=?utf-8?q?J=C3=B6rg,_X?= <j@example.de>, Jeff", py: []string{"=?utf-8?q?J=C3=B6rg", "j@example.de", "Jeff"}, want: []string{"j@example.de", "Jeff"},
		why: "Python splits the encoded word at its comma and sends half of it as an address"},

	// Refused: the address would corrupt the command line.
	{in: "John Public jqp@example.com", py: []string{"John Public jqp@example.com"}, err: codec.ErrAddressBrackets,
		why: "a space in the path would end it early"},
	{in: "a b@example.com", py: []string{"a b@example.com"}, err: codec.ErrAddressBrackets,
		why: "a space in the path would end it early"},
	{in: "Bob <a b@example.com>", py: []string{"a b@example.com"}, err: codec.ErrAddressBrackets,
		why: "a space in the path would end it early"},
	{in: "a\x00b@example.com, Jeff", py: []string{"a\x00b@example.com", "Jeff"}, err: codec.ErrAddressControl,
		why: "NUL on the wire"},
	{in: "@example.com", py: []string{"@example.com"}, err: codec.ErrAddressSyntax,
		why: "an empty local part is no path"},

	// Refused: smtplib's strict mode fails too, or would guess.
	{in: "a@example.com <b@example.org>", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "<a@example.com> Bob", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "<<a@example.com>>", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "a@example.com; b@example.org", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "G: a@example.com; Bob <b@example.org>", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "undisclosed-recipients:;junk", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "G: a@example.com; ; b@example.org", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "Joe <a@example.com>;", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "a@example.com>, b@example.org", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "a@b@example.com", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "a@example.com (unclosed", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "a@example.com\tb@example.org", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "\"unclosed@example.com", py: []string{"unclosed@example.com"}, err: codec.ErrHeaderSyntax,
		why: "Python takes an unclosed quote to the end of the field; where the address ends is a guess"},
	{in: "a@exam ple.com, Jeff", py: []string{"a@example.com", "Jeff"}, err: codec.ErrHeaderSyntax,
		why: "Python joins the two domain words into one; postwire does not guess"},
	{in: "a@\"example\".com", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "\"q, r\".Jeff", py: []string{"q, r"}, err: codec.ErrHeaderSyntax,
		why: "Python keeps the first word of the phrase and drops the rest"},
	{in: "G:, .", py: []string{""}, err: codec.ErrHeaderSyntax},
	{in: "=?utf-8?q?J=C3=B6rg?=, a@example.com", py: []string{"=?utf-8?q?J=C3=B6rg?=", "a@example.com"}, err: codec.ErrHeaderSyntax,
		why: "an encoded word is a display name (RFC 2047 section 5); Python sends it as RCPT TO:<=?utf-8?...>"},
	{in: "John Smith", py: []string{"John"}, err: codec.ErrHeaderSyntax,
		why: "Python sends RCPT TO:<John> and drops the rest of the display name"},
	{in: "Dr. Who, a@example.com", py: []string{"Dr.", "a@example.com"}, err: codec.ErrHeaderSyntax,
		why: "Python sends RCPT TO:<Dr.> and drops the rest of the display name"},
	{in: "user@, Jeff", py: []string{"", "Jeff"}, err: codec.ErrAddressSyntax,
		why: "Python turns the malformed address into RCPT TO:<> and sends the rest"},
}

func TestParseEnvelopeLenient(t *testing.T) {
	for _, tt := range lenientCases {
		t.Run(tt.in, func(t *testing.T) {
			pyFailed := slices.Equal(tt.py, []string{""})
			pyKept := slices.DeleteFunc(slices.Clone(tt.py), func(a string) bool { return a == "" })
			switch {
			case tt.err == nil && !pyFailed && !cmp.Equal(tt.want, pyKept, cmpopts.EquateEmpty()) && tt.why == "",
				tt.err != nil && !pyFailed && tt.why == "",
				tt.err == nil && pyFailed && len(tt.want) > 0 && tt.why == "":
				t.Fatalf("case differs from Python's %q without saying why", tt.py)
			}
			for _, field := range []string{"To", "Cc", "Bcc", "Resent-To"} {
				in := "From: x@example.com\r\n" + field + ": " + tt.in + "\r\nCc: last@example.net\r\n\r\n"
				if field == "Resent-To" {
					in = "Resent-Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nResent-From: x@example.com\r\n" +
						field + ": " + tt.in + "\r\nResent-Cc: last@example.net\r\n\r\n"
				}
				env, err := codec.ParseEnvelope([]byte(in))
				if diff := cmp.Diff(tt.err, err, cmpopts.EquateErrors()); diff != "" {
					t.Fatalf("%s: error mismatch (-want +got):\n%s", field, diff)
				}
				if err != nil {
					var he *codec.HeaderError
					if !errors.As(err, &he) || he.Field != field || !errors.Is(err, codec.ErrHeaderSyntax) {
						t.Errorf("%s: error %v is not a *HeaderError for the field", field, err)
					}
					continue
				}
				want := append(slices.Clone(tt.want), "last@example.net")
				if diff := cmp.Diff(want, env.To); diff != "" {
					t.Errorf("%s: recipients mismatch (-want +got):\n%s", field, diff)
				}
			}
		})
	}
}

// TestParseEnvelopeLenientModel builds address lists from the shapes real
// mail has (plain addresses, display names with dots and comments, bare
// local parts, empty items, groups, a last '>' missing) and checks that
// the recipients are the model's, in order, whichever parser reads them.
func TestParseEnvelopeLenientModel(t *testing.T) {
	addrGen := rapid.StringMatching(`[a-z]{1,5}(\.[a-z]{1,3})?@[a-z]{1,5}\.example`)
	nameGen := rapid.StringMatching(`[A-Z][a-z]{0,5}( [A-Z]\.)?( [A-Z][a-z]{1,5})?`)
	rapid.Check(t, func(t *rapid.T) {
		var want, items []string
		item := func(t *rapid.T) string {
			switch rapid.IntRange(0, 5).Draw(t, "shape") {
			case 0:
				a := addrGen.Draw(t, "addr")
				want = append(want, a)
				return a
			case 1:
				a := addrGen.Draw(t, "addr")
				want = append(want, a)
				return nameGen.Draw(t, "name") + " <" + a + ">"
			case 2:
				a := addrGen.Draw(t, "addr")
				want = append(want, a)
				return a + " (" + nameGen.Draw(t, "comment") + ")"
			case 3:
				l := rapid.StringMatching(`[A-Za-z]{1,8}`).Draw(t, "local")
				want = append(want, l)
				return l
			case 4:
				return ""
			default:
				a := addrGen.Draw(t, "addr")
				want = append(want, a)
				return "(" + nameGen.Draw(t, "comment") + ") " + a
			}
		}
		for range rapid.IntRange(1, 6).Draw(t, "items") {
			if rapid.IntRange(0, 4).Draw(t, "group") == 0 {
				var members []string
				for range rapid.IntRange(0, 3).Draw(t, "members") {
					members = append(members, item(t))
				}
				items = append(items, "Team: "+strings.Join(members, ", ")+";")
				continue
			}
			items = append(items, item(t))
		}
		v := strings.Join(items, ", ")
		if rapid.Bool().Draw(t, "unclosed") && len(want) > 0 && strings.HasSuffix(v, want[len(want)-1]+">") {
			v = strings.TrimSuffix(v, ">") // "Name <a@example" at the very end
		}
		env, err := codec.ParseEnvelope([]byte("From: x@example.com\r\nTo: " + v + "\r\nCc: last@example.net\r\n\r\n"))
		if err != nil {
			t.Fatalf("To: %s: %v", v, err)
		}
		if diff := cmp.Diff(append(want, "last@example.net"), env.To); diff != "" {
			t.Fatalf("To: %s: recipients mismatch (-want +got):\n%s", v, diff)
		}
	})
}
