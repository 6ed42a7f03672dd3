package protocol_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
)

// Line limits (RFC 5321 §4.5.3.1.4 and the extensions that raise them):
// a command one octet over its limit is a *UsageError wrapping
// ErrCommandTooLong, one at the limit goes out.
func TestCommandLineLimits(t *testing.T) {
	pad := func(prefix string, total int, suffix string) string {
		return prefix + strings.Repeat("a", total-len(prefix)-len(suffix)-2) + suffix
	}
	// MAIL FROM:<aaa...@b> is 12 + len(addr) + 2 octets.
	mailTo := func(total int) string { return pad("", total-len("MAIL FROM:<>"), "@b") }
	tests := []struct {
		name string
		ext  []string
		cmd  protocol.Command
		want error
	}{
		{"NOOP at 512", nil, protocol.Noop(), nil}, // replaced below
		{"MAIL at 512", nil, protocol.Mail(mailTo(512)), nil},
		{"MAIL at 513", nil, protocol.Mail(mailTo(513)), protocol.ErrCommandTooLong},
		{"MAIL at 538 with SIZE", []string{"SIZE"}, protocol.Mail(mailTo(538)), nil},
		{"MAIL at 539 with SIZE", []string{"SIZE"}, protocol.Mail(mailTo(539)), protocol.ErrCommandTooLong},
		{"MAIL with SIZE, DSN, SMTPUTF8, AUTH", []string{"SIZE", "DSN", "SMTPUTF8", "AUTH PLAIN"}, protocol.Mail(mailTo(512 + 26 + 100 + 10 + 500)), nil},
		{"MAIL one over all of them", []string{"SIZE", "DSN", "SMTPUTF8", "AUTH PLAIN"}, protocol.Mail(mailTo(512 + 26 + 100 + 10 + 500 + 1)), protocol.ErrCommandTooLong},
		{"RCPT with DSN at 1012", []string{"DSN"}, protocol.Command{Verb: protocol.VerbRcpt, Arg: pad("", 1012-len("RCPT TO:<>"), "@b")}, nil},
		{"RCPT without DSN at 513", nil, protocol.Command{Verb: protocol.VerbRcpt, Arg: pad("", 513-len("RCPT TO:<>"), "@b")}, protocol.ErrCommandTooLong},
		{"VRFY at 513", nil, protocol.Vrfy(pad("", 513-len("VRFY "), "")), protocol.ErrCommandTooLong},
		{"Raw at 12288", nil, protocol.Raw(pad("XFOO ", 12288, "")), nil},
		{"Raw at 12289", nil, protocol.Raw(pad("XFOO ", 12289, "")), protocol.ErrCommandTooLong},
		{"AUTH with an initial response over 512", []string{"AUTH PLAIN"}, protocol.Auth("PLAIN", make([]byte, 373)), protocol.ErrCommandTooLong},
		{"AUTH with an initial response at 512", []string{"AUTH PLAIN"}, protocol.Auth("PLAIN", make([]byte, 372)), nil},
	}
	tests[0].cmd = protocol.Help(pad("", 512-len("HELP "), ""))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ehloed(t, protocol.Config{}, tt.ext...)
			if tt.cmd.Verb == protocol.VerbRcpt {
				mustSend(t, c, protocol.Mail("a@b"))
				mustReceive(t, c, "250 ok\r\n")
				out(c)
			}
			err := sendErr(c, tt.cmd)
			var ue *protocol.UsageError
			if tt.want != nil && !errors.As(err, &ue) {
				t.Fatalf("Send = %v (%T), want a *UsageError", err, err)
			}
			if diff := cmp.Diff(tt.want, err, cmpOpts...); diff != "" && !(tt.want != nil && errors.Is(err, tt.want)) {
				t.Errorf("Send error (-want +got):\n%s", diff)
			}
			// Permits, the pre-flight check, says the same.
			if perr := c.Extensions().Permits(tt.cmd); (perr != nil) != (tt.want != nil) {
				t.Errorf("Permits = %v, want an error: %v", perr, tt.want != nil)
			}
		})
	}
}

// An AUTH response may be as long as RFC 4954 §4 suggests, and not longer.
func TestAuthResponseLimit(t *testing.T) {
	for _, tt := range []struct {
		n    int // raw bytes; base64 makes 4/3 of it
		want error
	}{{9213, nil}, {9214, protocol.ErrCommandTooLong}} { // 12288-2 = 12286 → 9214 raw bytes encode to 12288
		c := ehloed(t, protocol.Config{}, "AUTH PLAIN")
		mustSend(t, c, protocol.Auth("PLAIN", nil))
		mustReceive(t, c, "334 \r\n")
		out(c)
		if err := sendErr(c, protocol.AuthResponse(make([]byte, tt.n))); !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("AuthResponse of %d bytes: %v, want %v", tt.n, err, tt.want)
		}
	}
}

func TestValidHelloName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"client.example", true},
		{"localhost", true},
		{"a-b.c1.example", true},
		{"[192.0.2.1]", true},
		{"[IPv6:2001:db8::1]", true},
		{"[ipv6:::1]", true},
		{"[x-tag:something]", true},
		{strings.Repeat("a", 63) + ".example", true},
		{"", false},
		{"-a.example", false},
		{"a-.example", false},
		{"a..example", false},
		{"a.example.", false},
		{"under_score.example", false},
		{strings.Repeat("a", 64) + ".example", false},
		{strings.Repeat("a.", 128) + "a", false}, // 257 octets
		{"[192.0.2.300]", false},
		{"[2001:db8::1]", false}, // IPv6 needs its tag
		{"[IPv6:192.0.2.1]", false},
		{"[IPv6:fe80::1%eth0]", false},
		{"[]", false},
		{"[tag:a]b]", false},
		{"192.0.2.1]", false},
		{"b\u00fccher.example", false},
	}
	for _, tt := range tests {
		if got := protocol.ValidHelloName(tt.name); got != tt.ok {
			t.Errorf("ValidHelloName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
		if err := protocol.Ehlo(tt.name).Validate(); (err == nil) != tt.ok || err != nil && !errors.Is(err, protocol.ErrInvalidArgument) {
			t.Errorf("Ehlo(%q).Validate() = %v", tt.name, err)
		}
	}
}

// A 2xx other than 250 to EHLO is a greeting without extensions (RFC 5321
// §4.1.1.1's ehlo-ok-rsp is 250; smtplib parses only a 250).
func TestEhloNot250(t *testing.T) {
	for _, code := range []string{"250", "252"} {
		c := greeted(t, protocol.Config{})
		mustSend(t, c, protocol.Ehlo("client.example"))
		mustReceive(t, c, code+"-mx.example\r\n"+code+"-PIPELINING\r\n"+code+" SIZE 10\r\n")
		got := view(c.Extensions())
		want := extView{}
		if code == "250" {
			want = extView{Greeting: "mx.example", Keywords: []string{"PIPELINING", "SIZE"}, Size: 10, HasSize: true}
		}
		if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
			t.Errorf("%s: extensions (-want +got):\n%s", code, diff)
		}
		if c.State() != protocol.StateReady {
			t.Errorf("%s: state %v, want Ready", code, c.State())
		}
	}
}

func TestAuthParamMerged(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "AUTH PLAIN", "AUTH=LOGIN", "AUTH CRAM-MD5")
	if p, _ := c.Extensions().Param("AUTH"); p != "PLAIN LOGIN CRAM-MD5" {
		t.Errorf(`Param("AUTH") = %q, want the lines merged`, p)
	}
}

// RawBytes: sent as given; its replies are matched to it, as many as it
// said, the last one Done; the next command's reply is its own.
func TestRawBytesReplies(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "PIPELINING")
	raw := protocol.RawBytes([]byte("NOOP\r\nNOOP\r\nNOOP\r\n"), 3)
	h, err := c.Send(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := out(c); got != "NOOP\r\nNOOP\r\nNOOP\r\n" {
		t.Errorf("wire %q", got)
	}
	if _, err := c.Send(protocol.Noop()); !errors.Is(err, protocol.ErrMustWait) {
		t.Errorf("Send after raw bytes: %v, want ErrMustWait (raw ends a group)", err)
	}
	evs := mustReceive(t, c, "250 one\r\n250 two\r\n")
	type got struct {
		H    protocol.Handle
		Text string
		Done bool
	}
	view := func(evs []protocol.Event) []got {
		var g []got
		for _, e := range evs {
			g = append(g, got{e.Handle, e.Reply.Text(), e.Done})
		}
		return g
	}
	if diff := cmp.Diff([]got{{h, "one", false}, {h, "two", false}}, view(evs)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if !c.Owed(h) {
		t.Error("Owed after two of three replies = false")
	}
	evs = mustReceive(t, c, "250 three\r\n")
	if diff := cmp.Diff([]got{{h, "three", true}}, view(evs)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	h2, err := c.Send(protocol.Noop())
	if err != nil {
		t.Fatal(err)
	}
	out(c)
	if diff := cmp.Diff([]got{{h2, "four", true}}, view(mustReceive(t, c, "250 four\r\n"))); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, bad := range []protocol.Command{protocol.RawBytes(nil, 1), protocol.RawBytes([]byte("x"), 0), {Verb: protocol.VerbNoop, Replies: 2}} {
		if err := bad.Validate(); !errors.Is(err, protocol.ErrInvalidArgument) {
			t.Errorf("%v.Validate() = %v, want ErrInvalidArgument", bad, err)
		}
	}
	if s := raw.String(); s != "[18 raw bytes]" {
		t.Errorf("String() = %q", s)
	}
}

func TestReceivedLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"250 ok\r\n", []string{"250 ok"}},
		{"250\r\n", []string{"250"}},
		{"250 2.1.0 ok\r\n", []string{"250 2.1.0 ok"}},
		{"550-5.1.1 no such\r\n550-5.1.1 user here\r\n550 5.1.1 sorry\r\n", []string{"550-5.1.1 no such", "550-5.1.1 user here", "550 5.1.1 sorry"}},
		{"550-5.1.1 a\r\n550 5.7.1 b\r\n", []string{"550-5.1.1 a", "550 5.7.1 b"}},
		{"250-mx.example\r\n250 SIZE 10\r\n", []string{"250-mx.example", "250 SIZE 10"}},
		{"354 go ahead\r\n", []string{"354 go ahead"}},
		{"250 2.0.0\r\n", []string{"250 2.0.0"}},
	}
	for _, tt := range tests {
		c := greeted(t, protocol.Config{})
		mustSend(t, c, protocol.Noop())
		evs := mustReceive(t, c, tt.in)
		if len(evs) != 1 {
			t.Fatalf("%q: %d events", tt.in, len(evs))
		}
		if diff := cmp.Diff(tt.want, evs[0].Reply.ReceivedLines()); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.in, diff)
		}
	}
}
