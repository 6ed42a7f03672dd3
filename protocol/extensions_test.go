package protocol_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
)

// extView is Extensions' exported view, for cmp.
type extView struct {
	Greeting string
	Keywords []string
	Auth     []string
	Size     int64
	HasSize  bool
}

func view(e protocol.Extensions) extView {
	n, ok := e.Size()
	return extView{e.Greeting(), e.Keywords(), e.Auth(), n, ok}
}

func TestExtensions(t *testing.T) {
	tests := []struct {
		name string
		ext  []string
		want extView
	}{
		{"none", nil, extView{Greeting: "mx.example"}},
		{"lowercase keywords count", []string{"starttls", "pipelining", "8bitmime"},
			extView{Greeting: "mx.example", Keywords: []string{"STARTTLS", "PIPELINING", "8BITMIME"}}},
		{"size number", []string{"SIZE 35882577"},
			extView{Greeting: "mx.example", Keywords: []string{"SIZE"}, Size: 35882577, HasSize: true}},
		{"size without limit", []string{"SIZE"},
			extView{Greeting: "mx.example", Keywords: []string{"SIZE"}, HasSize: true}},
		{"size zero", []string{"SIZE 0"},
			extView{Greeting: "mx.example", Keywords: []string{"SIZE"}, HasSize: true}},
		{"size garbage", []string{"SIZE lots"},
			extView{Greeting: "mx.example", Keywords: []string{"SIZE"}, HasSize: true}},
		{"auth list", []string{"AUTH PLAIN LOGIN xoauth2"},
			extView{Greeting: "mx.example", Keywords: []string{"AUTH"}, Auth: []string{"PLAIN", "LOGIN", "XOAUTH2"}}},
		{"old AUTH= merged", []string{"AUTH LOGIN PLAIN", "AUTH=LOGIN CRAM-MD5"},
			extView{Greeting: "mx.example", Keywords: []string{"AUTH"}, Auth: []string{"LOGIN", "PLAIN", "CRAM-MD5"}}},
		{"old AUTH= alone", []string{"AUTH=LOGIN PLAIN"},
			extView{Greeting: "mx.example", Keywords: []string{"AUTH"}, Auth: []string{"LOGIN", "PLAIN"}}},
		{"duplicate keyword: first place, last value (smtplib)", []string{"SIZE 10", "DSN", "size 20"},
			extView{Greeting: "mx.example", Keywords: []string{"SIZE", "DSN"}, Size: 20, HasSize: true}},
		{"AUTH lines merged", []string{"AUTH PLAIN", "SIZE 5", "AUTH LOGIN plain"},
			extView{Greeting: "mx.example", Keywords: []string{"AUTH", "SIZE"}, Auth: []string{"PLAIN", "LOGIN"}, Size: 5, HasSize: true}},
		{"invalid keyword lines ignored", []string{"-BAD", "X.DOT", "", "(x)", "DSN"},
			extView{Greeting: "mx.example", Keywords: []string{"DSN"}}},
		{"underscore tolerated", []string{"PIPE_CONNECT"},
			extView{Greeting: "mx.example", Keywords: []string{"PIPE_CONNECT"}}},
		{"vendor keywords", []string{"X-EXPS GSSAPI NTLM", "XCLIENT NAME ADDR"},
			extView{Greeting: "mx.example", Keywords: []string{"X-EXPS", "XCLIENT"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ehloed(t, protocol.Config{}, tt.ext...)
			if diff := cmp.Diff(tt.want, view(c.Extensions()), cmpOpts...); diff != "" {
				t.Errorf("extensions mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtensionParamAndHas(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "SIZE   1000", "starttls", "XCLIENT NAME ADDR")
	e := c.Extensions()
	type lookup struct {
		Param string
		Ok    bool
	}
	got := map[string]lookup{}
	for _, k := range []string{"size", "SIZE", "StartTLS", "xclient", "DSN"} {
		p, ok := e.Param(k)
		got[k] = lookup{p, ok}
		if e.Has(k) != ok {
			t.Errorf("Has(%q) = %v, Param ok = %v", k, e.Has(k), ok)
		}
	}
	want := map[string]lookup{
		"size": {"1000", true}, "SIZE": {"1000", true}, "StartTLS": {"", true},
		"xclient": {"NAME ADDR", true}, "DSN": {"", false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// HELO gives no extensions; a later EHLO does; STARTTLS forgets them.
func TestExtensionsLifecycle(t *testing.T) {
	c := greeted(t, protocol.Config{})
	mustSend(t, c, protocol.Helo("client.example"))
	mustReceive(t, c, "250 mx.example\r\n")
	if got := c.Extensions().Keywords(); len(got) != 0 {
		t.Fatalf("after HELO: keywords %v", got)
	}
	mustSend(t, c, protocol.Ehlo("client.example"))
	mustReceive(t, c, ehloReply("STARTTLS", "PIPELINING"))
	if !c.Extensions().Has("starttls") {
		t.Fatalf("after EHLO: no STARTTLS in %v", c.Extensions().Keywords())
	}
	mustSend(t, c, protocol.StartTLS())
	mustReceive(t, c, "220 2.0.0 go ahead\r\n")
	if got := c.Extensions().Keywords(); len(got) != 0 {
		t.Fatalf("after STARTTLS: keywords %v", got)
	}
	if err := c.TLSDone(); err != nil {
		t.Fatal(err)
	}
	if got := c.Extensions().Keywords(); len(got) != 0 {
		t.Fatalf("after TLSDone: keywords %v", got)
	}
	// A failed EHLO keeps what was known (nothing here).
	mustSend(t, c, protocol.Ehlo("client.example"))
	mustReceive(t, c, "502 not now\r\n")
	if got, want := c.State(), protocol.StateHello; got != want {
		t.Fatalf("after failed EHLO: State() = %v, want %v", got, want)
	}
}
