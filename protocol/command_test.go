package protocol_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/protocol"
)

func TestAppendWire(t *testing.T) {
	tests := []struct {
		cmd  protocol.Command
		want string
	}{
		{protocol.Helo("client.example"), "HELO client.example\r\n"},
		{protocol.Ehlo("[192.0.2.1]"), "EHLO [192.0.2.1]\r\n"},
		{protocol.Lhlo("client.example"), "LHLO client.example\r\n"},
		{protocol.StartTLS(), "STARTTLS\r\n"},
		{protocol.Auth("PLAIN", nil), "AUTH PLAIN\r\n"},
		{protocol.Auth("PLAIN", []byte{}), "AUTH PLAIN =\r\n"},
		{protocol.Auth("PLAIN", []byte("\x00u\x00p")), "AUTH PLAIN AHUAcA==\r\n"},
		{protocol.AuthResponse([]byte("secret")), "c2VjcmV0\r\n"},
		{protocol.AuthResponse(nil), "\r\n"},
		{protocol.AuthCancel(), "*\r\n"},
		{protocol.Mail(""), "MAIL FROM:<>\r\n"},
		{protocol.Mail("a@b.example"), "MAIL FROM:<a@b.example>\r\n"},
		{protocol.Mail("a@b.example", protocol.Param{Key: "SIZE", Value: "1000"}, protocol.Param{Key: "BODY", Value: "8BITMIME"}),
			"MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME\r\n"},
		{protocol.Mail("j\u00f6rg@b.example", protocol.Param{Key: "SMTPUTF8"}), "MAIL FROM:<j\u00f6rg@b.example> SMTPUTF8\r\n"},
		{protocol.Mail(`"odd.user"@b.example`), "MAIL FROM:<\"odd.user\"@b.example>\r\n"},
		{protocol.Rcpt("c@d.example", protocol.Param{Key: "NOTIFY", Value: "SUCCESS,FAILURE"}, protocol.Param{Key: "ORCPT", Value: "rfc822;" + codec.XtextEncode("c+x@d.example")}),
			"RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+2Bx@d.example\r\n"},
		{protocol.Rcpt("Postmaster"), "RCPT TO:<Postmaster>\r\n"},
		{protocol.Data(), "DATA\r\n"},
		{protocol.Rset(), "RSET\r\n"},
		{protocol.Noop(), "NOOP\r\n"},
		{protocol.Quit(), "QUIT\r\n"},
		{protocol.Vrfy("postmaster"), "VRFY postmaster\r\n"},
		{protocol.Expn("staff list"), "EXPN staff list\r\n"},
		{protocol.Help(""), "HELP\r\n"},
		{protocol.Help("MAIL"), "HELP MAIL\r\n"},
		{protocol.Raw("XCLIENT NAME=x"), "XCLIENT NAME=x\r\n"},
	}
	for _, tt := range tests {
		got, err := tt.cmd.AppendWire([]byte("prefix:"))
		if err != nil {
			t.Errorf("%v: %v", tt.cmd, err)
			continue
		}
		if diff := cmp.Diff("prefix:"+tt.want, string(got)); diff != "" {
			t.Errorf("%v: (-want +got):\n%s", tt.cmd, diff)
		}
	}
}

func TestCommandString(t *testing.T) {
	tests := []struct {
		cmd  protocol.Command
		want string
	}{
		{protocol.Auth("PLAIN", []byte("\x00user\x00password")), "AUTH PLAIN [redacted]"},
		{protocol.Auth("LOGIN", nil), "AUTH LOGIN"},
		{protocol.AuthResponse([]byte("password")), "[redacted]"},
		{protocol.AuthCancel(), "*"},
		{protocol.Mail("a@b", protocol.Param{Key: "SIZE", Value: "5"}), "MAIL FROM:<a@b> SIZE=5"},
		{protocol.Mail("a\r\nRCPT TO:<x>"), `MAIL FROM:<a\r\nRCPT TO:<x>>`},
		{protocol.Command{Verb: protocol.VerbEndData}, "."},
		{protocol.Raw("auth plain AHUAcA=="), "auth plain [redacted]"},
		{protocol.Raw("AUTH LOGIN"), "AUTH LOGIN"},
		{protocol.Command{}, "NONE"},
	}
	for _, tt := range tests {
		if got := tt.cmd.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// argSlot puts a string into one argument position of a command, and
// prepares a client in which that command would be accepted.
type argSlot struct {
	name  string
	ready func(t *testing.T) *protocol.Client
	cmd   func(s string) protocol.Command
}

var allExt = []string{"PIPELINING", "SIZE 100000", "DSN", "8BITMIME", "SMTPUTF8", "AUTH PLAIN", "STARTTLS", "CHUNKING", "X-TEST"}

func readyClient(t *testing.T) *protocol.Client { return ehloed(t, protocol.Config{}, allExt...) }

func mailClient(t *testing.T) *protocol.Client {
	c := readyClient(t)
	mustSend(t, c, protocol.Mail("a@b.example"))
	mustReceive(t, c, "250 ok\r\n")
	out(c)
	return c
}

var argSlots = []argSlot{
	{"EHLO domain", greetedClient, func(s string) protocol.Command { return protocol.Ehlo("c" + s + "x") }},
	{"HELO domain", greetedClient, func(s string) protocol.Command { return protocol.Helo("c" + s + "x") }},
	{"LHLO domain", func(t *testing.T) *protocol.Client { return greeted(t, protocol.Config{LMTP: true}) },
		func(s string) protocol.Command { return protocol.Lhlo("c" + s + "x") }},
	{"MAIL address", readyClient, func(s string) protocol.Command { return protocol.Mail("a" + s + "@b.example") }},
	{"MAIL param key", readyClient, func(s string) protocol.Command {
		return protocol.Mail("a@b.example", protocol.Param{Key: "X-TEST" + s})
	}},
	{"MAIL param value", readyClient, func(s string) protocol.Command {
		return protocol.Mail("a@b.example", protocol.Param{Key: "SIZE", Value: "1" + s + "0"})
	}},
	{"RCPT address", mailClient, func(s string) protocol.Command { return protocol.Rcpt("c@d" + s + ".example") }},
	{"RCPT param key", mailClient, func(s string) protocol.Command {
		return protocol.Rcpt("c@d.example", protocol.Param{Key: "NOTIFY" + s, Value: "NEVER"})
	}},
	{"RCPT param value", mailClient, func(s string) protocol.Command {
		return protocol.Rcpt("c@d.example", protocol.Param{Key: "NOTIFY", Value: "NEVER" + s})
	}},
	{"AUTH mechanism", readyClient, func(s string) protocol.Command { return protocol.Auth("PLAIN"+s, nil) }},
	{"VRFY", readyClient, func(s string) protocol.Command { return protocol.Vrfy("user" + s) }},
	{"EXPN", readyClient, func(s string) protocol.Command { return protocol.Expn("list" + s) }},
	{"HELP", readyClient, func(s string) protocol.Command { return protocol.Help("MAIL" + s) }},
	{"NOOP", readyClient, func(s string) protocol.Command { return protocol.Command{Verb: protocol.VerbNoop, Arg: "x" + s} }},
	{"Raw", readyClient, func(s string) protocol.Command { return protocol.Raw("XFOO " + s + "bar") }},
}

func greetedClient(t *testing.T) *protocol.Client { return greeted(t, protocol.Config{}) }

// snapshot is what a refused Send must leave unchanged.
type snapshot struct {
	Out     string
	State   protocol.State
	Pending int
}

func snap(c *protocol.Client) snapshot {
	return snapshot{string(c.Outgoing()), c.State(), c.Pending()}
}

// sendRefused sends cmd, expects a *UsageError with cause want, and
// checks that nothing changed.
func sendRefused(t *testing.T, c *protocol.Client, cmd protocol.Command, want error) {
	t.Helper()
	before := snap(c)
	_, err := c.Send(cmd)
	var ue *protocol.UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("Send(%v) = %v, want *UsageError", cmd, err)
	}
	if diff := cmp.Diff(want, err, cmpOpts...); diff != "" {
		t.Fatalf("Send(%v) error (-want +got):\n%s", cmd, diff)
	}
	if diff := cmp.Diff(before, snap(c)); diff != "" {
		t.Fatalf("Send(%v) refused but changed the client (-before +after):\n%s", cmd, diff)
	}
}

func TestControlCharactersRefused(t *testing.T) {
	var ctls []byte
	for b := byte(0); b < 0x20; b++ {
		ctls = append(ctls, b)
	}
	ctls = append(ctls, 0x7f)
	for _, slot := range argSlots {
		t.Run(slot.name, func(t *testing.T) {
			c := slot.ready(t)
			out(c)
			// The slot itself is valid: the clean command must be accepted
			// (on a copy of the state, checked with Check).
			if err := c.Check(slot.cmd("")); err != nil {
				t.Fatalf("clean %v refused: %v", slot.cmd(""), err)
			}
			for _, b := range ctls {
				cmd := slot.cmd(string(b))
				want := protocol.ErrInvalidArgument
				if b == '\r' || b == '\n' {
					want = protocol.ErrLineBreak
				}
				if _, err := cmd.AppendWire(nil); !errors.Is(err, want) {
					t.Errorf("AppendWire with %#x: %v, want %v", b, err, want)
				}
				sendRefused(t, c, cmd, want)
			}
			for _, smuggle := range []string{"\r\nRSET", "\nQUIT", "\r"} {
				sendRefused(t, c, slot.cmd(smuggle), protocol.ErrLineBreak)
			}
		})
	}
}

func TestAddressesRefused(t *testing.T) {
	bad := []string{
		"a@b.example> SIZE=1", "<a@b.example", "a@b.example>", "a b@c.example", "a@b.example ",
		" a@b.example", "a@b.example\tX", `"unbalanced@b.example`, "a@", "\xff@b.example",
	}
	for _, a := range bad {
		t.Run(fmt.Sprintf("%q", a), func(t *testing.T) {
			c := readyClient(t)
			sendRefused(t, c, protocol.Mail(a), protocol.ErrInvalidArgument)
			if _, err := protocol.Mail(a).AppendWire(nil); !errors.Is(err, protocol.ErrInvalidArgument) {
				t.Errorf("AppendWire: %v", err)
			}
			c = mailClient(t)
			sendRefused(t, c, protocol.Rcpt(a), protocol.ErrInvalidArgument)
		})
	}
	// The codec's error is reachable too.
	_, err := protocol.Mail("a>b").AppendWire(nil)
	var ae *codec.AddressError
	if !errors.As(err, &ae) || !errors.Is(err, codec.ErrAddressBrackets) {
		t.Errorf("AppendWire(MAIL a>b) = %v, want a codec.AddressError", err)
	}
}

func TestArgumentsRefused(t *testing.T) {
	p := func(k, v string) protocol.Param { return protocol.Param{Key: k, Value: v} }
	tests := []struct {
		name  string
		ready func(t *testing.T) *protocol.Client
		cmd   protocol.Command
		want  error
	}{
		{"EHLO empty", greetedClient, protocol.Ehlo(""), protocol.ErrInvalidArgument},
		{"EHLO space", greetedClient, protocol.Ehlo("a b"), protocol.ErrInvalidArgument},
		{"EHLO non-ASCII", greetedClient, protocol.Ehlo("b\u00fccher.example"), protocol.ErrInvalidArgument},
		{"RCPT empty", mailClient, protocol.Rcpt(""), protocol.ErrInvalidArgument},
		{"VRFY empty", readyClient, protocol.Vrfy(""), protocol.ErrInvalidArgument},
		{"EXPN empty", readyClient, protocol.Expn(""), protocol.ErrInvalidArgument},
		{"Raw empty", readyClient, protocol.Raw(""), protocol.ErrInvalidArgument},
		{"DATA with argument", mailClient, protocol.Command{Verb: protocol.VerbData, Arg: "x"}, protocol.ErrInvalidArgument},
		{"QUIT with params", readyClient, protocol.Command{Verb: protocol.VerbQuit, Params: []protocol.Param{p("A", "")}}, protocol.ErrInvalidArgument},
		{"NOOP with data", readyClient, protocol.Command{Verb: protocol.VerbNoop, Data: []byte("x")}, protocol.ErrInvalidArgument},
		{"AUTH empty mechanism", readyClient, protocol.Auth("", nil), protocol.ErrInvalidArgument},
		{"AUTH long mechanism", readyClient, protocol.Auth("ABCDEFGHIJKLMNOPQRSTU", nil), protocol.ErrInvalidArgument},
		{"AUTH mechanism with space", readyClient, protocol.Auth("PLAIN X", nil), protocol.ErrInvalidArgument},
		{"empty param key", readyClient, protocol.Mail("a@b", p("", "1")), protocol.ErrInvalidArgument},
		{"param key dash first", readyClient, protocol.Mail("a@b", p("-SIZE", "1")), protocol.ErrInvalidArgument},
		{"param key underscore", readyClient, protocol.Mail("a@b", p("X_TEST", "")), protocol.ErrInvalidArgument},
		{"param key with =", readyClient, protocol.Mail("a@b", p("SIZE=1", "")), protocol.ErrInvalidArgument},
		{"param value with =", readyClient, protocol.Mail("a@b", p("SIZE", "1=2")), protocol.ErrInvalidArgument},
		{"param value with space", readyClient, protocol.Mail("a@b", p("SIZE", "1 RET=FULL")), protocol.ErrInvalidArgument},
		{"param value non-ASCII", readyClient, protocol.Mail("a@b", p("SIZE", "\u00e9")), protocol.ErrInvalidArgument},
		{"duplicate param", readyClient, protocol.Mail("a@b", p("SIZE", "1"), p("size", "2")), protocol.ErrInvalidArgument},
		{"non-ASCII sender without SMTPUTF8", readyClient, protocol.Mail("j\u00f6rg@b.example"), protocol.ErrInvalidArgument},
		{"non-ASCII recipient without SMTPUTF8", mailClient, protocol.Rcpt("j\u00f6rg@b.example"), protocol.ErrInvalidArgument},
		{"BDAT through Send", mailClient, protocol.Command{Verb: protocol.VerbBdat, Arg: "1"}, protocol.ErrInvalidArgument},
		{"end of data through Send", mailClient, protocol.Command{Verb: protocol.VerbEndData}, protocol.ErrInvalidArgument},
		{"no verb", readyClient, protocol.Command{}, protocol.ErrInvalidArgument},
		{"unknown verb", readyClient, protocol.Command{Verb: 200}, protocol.ErrInvalidArgument},
		{"cancel with data", readyClient, protocol.Command{Verb: protocol.VerbAuthResponse, Cancel: true, Data: []byte("x")}, protocol.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.ready(t)
			sendRefused(t, c, tt.cmd, tt.want)
			// AppendWire knows no transaction (RCPT) and encodes a BDAT line.
			if _, err := tt.cmd.AppendWire(nil); tt.cmd.Verb != protocol.VerbRcpt && tt.cmd.Verb != protocol.VerbBdat && err == nil {
				t.Errorf("AppendWire accepted %v", tt.cmd)
			}
		})
	}
}

func TestSMTPUTF8Transaction(t *testing.T) {
	c := readyClient(t)
	mustSend(t, c, protocol.Mail("j\u00f6rg@b.example", protocol.Param{Key: "SMTPUTF8"}))
	mustSend(t, c, protocol.Rcpt("\u00fcser@d.example"))
	want := "MAIL FROM:<j\u00f6rg@b.example> SMTPUTF8\r\nRCPT TO:<\u00fcser@d.example>\r\n"
	if diff := cmp.Diff(want, out(c)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParamsNeedExtensions(t *testing.T) {
	p := func(k, v string) protocol.Param { return protocol.Param{Key: k, Value: v} }
	tests := []struct {
		ext   []string
		param protocol.Param
		ok    bool
	}{
		{nil, p("SIZE", "10"), false},
		{[]string{"SIZE"}, p("SIZE", "10"), true},
		{[]string{"8BITMIME"}, p("BODY", "8BITMIME"), true},
		{nil, p("BODY", "8BITMIME"), false},
		{[]string{"8BITMIME"}, p("BODY", "BINARYMIME"), false},
		{[]string{"BINARYMIME", "CHUNKING"}, p("BODY", "BINARYMIME"), true},
		{[]string{"DSN"}, p("RET", "HDRS"), true},
		{[]string{"DSN"}, p("ENVID", "x"), true},
		{nil, p("RET", "HDRS"), false},
		{[]string{"smtputf8"}, p("SMTPUTF8", ""), true},
		{nil, p("REQUIRETLS", ""), false},
		{[]string{"REQUIRETLS"}, p("REQUIRETLS", ""), true},
		{[]string{"X-FOO"}, p("X-FOO", "1"), true},
		{[]string{"X-BAR"}, p("X-FOO", "1"), false},
	}
	for _, tt := range tests {
		c := ehloed(t, protocol.Config{}, tt.ext...)
		err := c.Check(protocol.Mail("a@b.example", tt.param))
		if tt.ok && err != nil || !tt.ok && !errors.Is(err, protocol.ErrNotAdvertised) {
			t.Errorf("ext %v, MAIL %v: %v (want ok=%v)", tt.ext, tt.param, err, tt.ok)
		}
	}
}
