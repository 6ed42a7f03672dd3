package protocol_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
)

func TestParseReply(t *testing.T) {
	enh := func(code int, e protocol.EnhancedCode, lines ...string) []protocol.Event {
		r := reply(code, lines...)
		r.Enhanced = e
		return []protocol.Event{greetingEv(r)}
	}
	g := func(code int, lines ...string) []protocol.Event {
		return []protocol.Event{greetingEv(reply(code, lines...))}
	}
	e200 := protocol.EnhancedCode{Class: 2, Subject: 0, Detail: 0}
	small := protocol.Config{MaxLineLength: 16, MaxReplyLines: 3}
	tests := []struct {
		name string
		cfg  protocol.Config
		in   string
		want []protocol.Event
		err  error // cause, matched with errors.Is
		off  int64 // PeerError.Offset when err != nil
	}{
		{name: "single line", in: "220 mx.example ESMTP ready\r\n", want: g(220, "mx.example ESMTP ready")},
		{name: "multiline", in: "220-mx.example\r\n220-second\r\n220 third\r\n", want: g(220, "mx.example", "second", "third")},
		{name: "bare code", in: "220\r\n", want: g(220, "")},
		{name: "code and space", in: "220 \r\n", want: g(220, "")},
		{name: "bare code ends multiline", in: "220-a\r\n220\r\n", want: g(220, "a", "")},
		{name: "empty continuation", in: "220-\r\n220 b\r\n", want: g(220, "", "b")},
		{name: "highest code", in: "599 x\r\n", want: g(599, "x")},
		{name: "lowest code", in: "200 x\r\n", want: g(200, "x")},
		{name: "text keeps spaces", in: "220  two  spaces \r\n", want: g(220, " two  spaces ")},
		{name: "tab and UTF-8 in text", in: "220 h\u00e9llo\twelt\r\n", want: g(220, "h\u00e9llo\twelt")},
		{name: "bare LF", in: "220 ok\n", want: g(220, "ok")},
		{name: "bare LF multiline mixed", in: "220-a\n220-b\r\n220 c\n", want: g(220, "a", "b", "c")},

		{name: "code mismatch", in: "220-a\r\n250 b\r\n", err: protocol.ErrCodeMismatch, off: 7},
		{name: "code mismatch in continuation", in: "220-a\r\n221-b\r\n220 c\r\n", err: protocol.ErrCodeMismatch, off: 7},
		{name: "code below 200", in: "199 x\r\n", err: protocol.ErrMalformedReply},
		{name: "code 100", in: "100 x\r\n", err: protocol.ErrMalformedReply},
		{name: "code 600", in: "600 x\r\n", err: protocol.ErrMalformedReply},
		{name: "code 000", in: "000 x\r\n", err: protocol.ErrMalformedReply},
		{name: "non-digit code", in: "2x0 x\r\n", err: protocol.ErrMalformedReply},
		{name: "letters", in: "OK go\r\n", err: protocol.ErrMalformedReply},
		{name: "short code", in: "22\r\n", err: protocol.ErrMalformedReply},
		{name: "four digits", in: "2200 x\r\n", err: protocol.ErrMalformedReply},
		{name: "missing space", in: "220ok\r\n", err: protocol.ErrMalformedReply},
		{name: "bad separator", in: "220_ok\r\n", err: protocol.ErrMalformedReply},
		{name: "leading space", in: " 220 ok\r\n", err: protocol.ErrMalformedReply},
		{name: "CR inside line", in: "220 o\rk\r\n", err: protocol.ErrMalformedReply},
		{name: "CR CR LF", in: "220 ok\r\r\n", err: protocol.ErrMalformedReply},
		{name: "CR in second line", in: "220-a\r\n220 b\rc\n", err: protocol.ErrMalformedReply, off: 7},
		{name: "empty line", in: "\r\n", err: protocol.ErrMalformedReply},
		{name: "empty bare LF line", in: "\n", err: protocol.ErrMalformedReply},
		{name: "empty line inside multiline", in: "220-a\r\n\r\n220 b\r\n", err: protocol.ErrMalformedReply, off: 7},
		{name: "second reply unsolicited", in: "220 a\r\n250 b\r\n", want: g(220, "a"), err: protocol.ErrUnsolicited, off: 7},

		// MaxLineLength 16 counts the line ending: "220 " + 10 + CRLF = 16.
		{name: "line at limit", cfg: small, in: "220 0123456789\r\n", want: g(220, "0123456789")},
		{name: "bare LF line at limit", cfg: small, in: "220 0123456789a\n", want: g(220, "0123456789a")},
		{name: "line one over limit", cfg: small, in: "220 0123456789a\r\n", err: protocol.ErrLineTooLong},
		{name: "unterminated line at limit", cfg: small, in: "220 0123456789ab", err: protocol.ErrLineTooLong},
		{name: "second line over limit", cfg: small, in: "220-a\r\n220 0123456789a\r\n", err: protocol.ErrLineTooLong, off: 7},
		{name: "default limit exact", in: "220 " + strings.Repeat("x", 8186) + "\r\n", want: g(220, strings.Repeat("x", 8186))},
		{name: "default limit over", in: "220 " + strings.Repeat("x", 8187) + "\r\n", err: protocol.ErrLineTooLong},
		{name: "lines at limit", cfg: small, in: "220-a\r\n220-b\r\n220 c\r\n", want: g(220, "a", "b", "c")},
		{name: "more lines than limit", cfg: small, in: "220-a\r\n220-b\r\n220-c\r\n220 d\r\n", err: protocol.ErrReplyTooLong, off: 14},

		{name: "enhanced", in: "220 2.0.0 ready\r\n", want: enh(220, e200, "ready")},
		{name: "enhanced three digits", in: "250 2.123.999 ok\r\n", want: enh(250, protocol.EnhancedCode{Class: 2, Subject: 123, Detail: 999}, "ok")},
		{name: "enhanced alone", in: "220 2.0.0\r\n", want: enh(220, e200, "")},
		{name: "enhanced multiline", in: "554-5.7.1 first\r\n554 5.7.1 second\r\n", want: enh(554, protocol.EnhancedCode{Class: 5, Subject: 7, Detail: 1}, "first", "second")},
		{name: "enhanced only on first line", in: "220-2.0.0 a\r\n220 b\r\n", want: enh(220, e200, "a", "b")},
		{name: "other enhanced on later line kept", in: "220-2.0.0 a\r\n220 2.1.0 b\r\n", want: enh(220, e200, "a", "2.1.0 b")},
		{name: "enhanced on later line only", in: "220-a\r\n220 2.0.0 b\r\n", want: g(220, "a", "2.0.0 b")},
		{name: "enhanced wrong class", in: "220 5.0.0 odd\r\n", want: g(220, "5.0.0 odd")},
		{name: "enhanced class 3", in: "354 3.0.0 go\r\n", want: g(354, "3.0.0 go")},
		{name: "enhanced two parts", in: "220 2.0 x\r\n", want: g(220, "2.0 x")},
		{name: "enhanced leading zero", in: "220 2.01.0 x\r\n", want: g(220, "2.01.0 x")},
		{name: "enhanced four digits", in: "220 2.1000.0 x\r\n", want: g(220, "2.1000.0 x")},
		{name: "enhanced glued to text", in: "220 2.0.0x\r\n", want: g(220, "2.0.0x")},
		{name: "enhanced trailing dot", in: "220 2.0.0. x\r\n", want: g(220, "2.0.0. x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := feedChunked(t, func() *protocol.Client { return protocol.NewClient(tt.cfg) }, tt.in)
			if diff := cmp.Diff(tt.want, got, cmpOpts...); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.err, err, cmpOpts...); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if tt.err != nil {
				pe, ok := err.(*protocol.PeerError)
				if !ok {
					t.Fatalf("error %T %v, want *protocol.PeerError", err, err)
				}
				if pe.Offset != tt.off {
					t.Errorf("Offset = %d, want %d", pe.Offset, tt.off)
				}
			}
		})
	}
}

// An endless line must fail once the limit is passed, with memory bounded
// by the limit, however the bytes arrive.
func TestEndlessLineBounded(t *testing.T) {
	c := protocol.NewClient(protocol.Config{MaxLineLength: 64})
	chunk := []byte("220 " + strings.Repeat("x", 20))
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		if err = c.Receive(chunk); err != nil {
			break
		}
		if _, err = c.NextEvent(); err == protocol.ErrNeedData {
			err = nil
		}
		if b := c.Buffered(); b > 64+len(chunk) {
			t.Fatalf("buffered %d bytes with a 64-byte line limit", b)
		}
	}
	if diff := cmp.Diff(protocol.ErrLineTooLong, err, cmpOpts...); diff != "" {
		t.Fatalf("error mismatch (-want +got):\n%s", diff)
	}
	if c.State() != protocol.StateFailed {
		t.Errorf("State() = %v, want Failed", c.State())
	}
}

// The received buffer is compacted: many replies through one client keep
// it small.
func TestBufferCompacted(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "PIPELINING")
	for i := range 2000 {
		mustSend(t, c, protocol.Noop())
		out(c)
		evs := mustReceive(t, c, "250 2.0.0 Ok\r\n")
		if len(evs) != 1 || evs[0].Reply.Code != 250 {
			t.Fatalf("round %d: events %v", i, evs)
		}
		if b := c.Buffered(); b != 0 {
			t.Fatalf("round %d: %d bytes still buffered", i, b)
		}
	}
}

func TestReplyMethods(t *testing.T) {
	tests := []struct {
		code                  int
		pos, inter, tmp, perm bool
	}{
		{250, true, false, false, false},
		{354, false, true, false, false},
		{451, false, false, true, false},
		{550, false, false, false, true},
	}
	for _, tt := range tests {
		r := protocol.Reply{Code: tt.code}
		got := []bool{r.Positive(), r.Intermediate(), r.Transient(), r.Permanent()}
		if diff := cmp.Diff([]bool{tt.pos, tt.inter, tt.tmp, tt.perm}, got); diff != "" {
			t.Errorf("%d: (-want +got):\n%s", tt.code, diff)
		}
	}
	r := protocol.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Lines: []string{"no such user", "try again"}}
	if got, want := r.Text(), "no such user\ntry again"; got != want {
		t.Errorf("Text() = %q, want %q", got, want)
	}
	if got, want := r.String(), "550 5.1.1 no such user (+1 lines)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (protocol.EnhancedCode{}).String(); got != "" {
		t.Errorf("zero EnhancedCode.String() = %q", got)
	}
}
