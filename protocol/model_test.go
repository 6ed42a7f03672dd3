package protocol_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/protocol"
)

// The model is written from RFC 5321, 2920, 2033, 3030, 3207 and 4954 and
// the package documentation, NOT from state.go: it uses plain switches
// where the package uses tables. It tracks what has been confirmed by
// replies (base), the commands in flight, and derives the state the
// client must report by replaying the commands in flight optimistically.

type mcmd struct {
	cmd  protocol.Command
	last bool // BDAT LAST
}

type model struct {
	lmtp     bool
	base     protocol.State // after every answered command
	pending  []mcmd
	ext      map[string]bool
	accepted []string // RCPTs accepted in the current transaction
	lmtpLeft []string // recipients still owed an end-of-data reply
	utf8     bool
	eof      bool
	reported bool // EventClosed returned
	failed   bool
	wire     []byte // every byte queued
	written  int
	stuff    codec.StuffState
}

const (
	maxLine  = 128
	maxLines = 8
)

// next is the effect of sending v in s (RFC 5321 §4.1.4 ordering, RFC
// 3030 BDAT, RFC 4954 AUTH, RFC 3207 STARTTLS); ok=false if illegal.
func next(s protocol.State, v protocol.Verb, last bool) (protocol.State, bool) {
	idle := s == protocol.StateHello || s == protocol.StateReady || s == protocol.StateMail ||
		s == protocol.StateRcpt || s == protocol.StateBodyDone
	switch v {
	case protocol.VerbEhlo, protocol.VerbHelo, protocol.VerbLhlo:
		if idle {
			return protocol.StateReady, true
		}
	case protocol.VerbNoop, protocol.VerbVrfy:
		if idle {
			return s, true
		}
	case protocol.VerbRset:
		if s == protocol.StateHello {
			return s, true
		}
		if idle || s == protocol.StateChunking {
			return protocol.StateReady, true
		}
	case protocol.VerbQuit:
		if idle || s == protocol.StateChunking {
			return protocol.StateQuit, true
		}
	case protocol.VerbMail:
		if s == protocol.StateReady || s == protocol.StateBodyDone {
			return protocol.StateMail, true
		}
	case protocol.VerbRcpt:
		if s == protocol.StateMail || s == protocol.StateRcpt {
			return protocol.StateRcpt, true
		}
	case protocol.VerbData:
		if s == protocol.StateRcpt {
			return protocol.StateDataWait, true
		}
	case protocol.VerbBdat:
		if s == protocol.StateRcpt || s == protocol.StateChunking {
			if last {
				return protocol.StateBodyDone, true
			}
			return protocol.StateChunking, true
		}
	case protocol.VerbEndData:
		if s == protocol.StateBody {
			return protocol.StateBodyDone, true
		}
	case protocol.VerbStartTLS, protocol.VerbAuth:
		if s == protocol.StateReady {
			if v == protocol.VerbAuth {
				return protocol.StateAuth, true
			}
			return protocol.StateStartTLS, true
		}
	case protocol.VerbAuthResponse:
		if s == protocol.StateAuth {
			return s, true
		}
	}
	return s, false
}

// afterReply is the confirmed state after a reply of code to c sent in base.
func afterReply(base protocol.State, c mcmd, code int) protocol.State {
	if code == 421 {
		return protocol.StateClosed
	}
	after, _ := next(base, c.cmd.Verb, c.last)
	class := code / 100
	switch c.cmd.Verb {
	case protocol.VerbData:
		if class == 3 {
			return protocol.StateBody // also when no RCPT was accepted (RFC 2920 §3.1)
		}
		return base
	case protocol.VerbEndData:
		return protocol.StateReady
	case protocol.VerbBdat:
		if c.last || class != 2 {
			return protocol.StateReady
		}
		return after
	case protocol.VerbStartTLS:
		if class == 2 {
			return protocol.StateTLS
		}
		return base
	case protocol.VerbAuth, protocol.VerbAuthResponse:
		switch {
		case class == 2:
			return protocol.StateReady
		case class == 3:
			return protocol.StateAuth
		case c.cmd.Verb == protocol.VerbAuth:
			return base
		}
		return protocol.StateReady
	case protocol.VerbQuit:
		return protocol.StateClosed
	}
	if class == 2 {
		return after
	}
	return base
}

func (m *model) state() protocol.State {
	if m.failed {
		return protocol.StateFailed
	}
	s := m.base
	for _, p := range m.pending {
		s, _ = next(s, p.cmd.Verb, p.last)
	}
	return s
}

func endsGroup(v protocol.Verb) bool {
	switch v {
	case protocol.VerbMail, protocol.VerbRcpt, protocol.VerbRset, protocol.VerbBdat, protocol.VerbEndData:
		return false
	}
	return true
}

// expect returns the cause Send (or SendChunk) must fail with, or nil.
func (m *model) expect(v protocol.Verb, last bool) error {
	s := m.state()
	switch {
	case m.failed:
		return protocol.ErrUnsolicited // any sticky PeerError; checked by type
	case s == protocol.StateClosed:
		return protocol.ErrClosed
	case s == protocol.StateGreeting:
		return protocol.ErrMustWait
	case len(m.pending) > 0 && (!m.ext["PIPELINING"] || endsGroup(m.pending[len(m.pending)-1].cmd.Verb)):
		return protocol.ErrMustWait
	}
	if _, ok := next(s, v, last); !ok {
		return protocol.ErrInvalidState
	}
	if m.lmtp && (v == protocol.VerbEhlo || v == protocol.VerbHelo) || !m.lmtp && v == protocol.VerbLhlo {
		return protocol.ErrInvalidState
	}
	need := map[protocol.Verb]string{protocol.VerbStartTLS: "STARTTLS", protocol.VerbAuth: "AUTH", protocol.VerbBdat: "CHUNKING"}[v]
	if need != "" && !m.ext[need] {
		return protocol.ErrNotAdvertised
	}
	return nil
}

func checkErr(t *rapid.T, what string, want, got error) {
	if want == nil {
		if got != nil {
			t.Fatalf("%s: unexpected error %v", what, got)
		}
		return
	}
	if want == protocol.ErrUnsolicited { // stands for "the sticky PeerError"
		var pe *protocol.PeerError
		if !errors.As(got, &pe) {
			t.Fatalf("%s: %v, want the sticky *PeerError", what, got)
		}
		return
	}
	var ue *protocol.UsageError
	if !errors.As(got, &ue) || !errors.Is(got, want) {
		t.Fatalf("%s: %v, want *UsageError with %v", what, got, want)
	}
}

var (
	addrGen  = rapid.StringMatching(`[a-z]{1,6}@[a-z]{1,6}\.example`)
	codes    = []int{220, 221, 235, 250, 251, 334, 354, 421, 450, 451, 452, 500, 503, 550, 552, 554}
	extLines = []string{"PIPELINING", "CHUNKING", "STARTTLS", "AUTH PLAIN LOGIN", "SIZE 10000", "8BITMIME"}
)

// likely returns the reply that moves the conversation forward.
func likely(m *model) int {
	if len(m.pending) == 0 {
		return 220
	}
	switch m.pending[0].cmd.Verb {
	case protocol.VerbData:
		return 354
	case protocol.VerbAuth, protocol.VerbAuthResponse:
		return 334
	case protocol.VerbStartTLS:
		return 220
	case protocol.VerbQuit:
		return 221
	}
	return 250
}

func TestClientModel(t *testing.T) { rapid.Check(t, testClientModel) }

func FuzzClientModel(f *testing.F) { f.Fuzz(rapid.MakeFuzz(testClientModel)) }

func testClientModel(t *rapid.T) {
	m := &model{lmtp: rapid.Bool().Draw(t, "lmtp"), ext: map[string]bool{}}
	c := protocol.NewClient(protocol.Config{LMTP: m.lmtp, MaxLineLength: maxLine, MaxReplyLines: maxLines})

	send := func(t *rapid.T, cmd protocol.Command) {
		want := m.expect(cmd.Verb, false)
		if want == nil && cmd.Verb == protocol.VerbAuthResponse && len(m.pending) > 0 {
			want = protocol.ErrMustWait
		}
		err := c.Send(cmd)
		checkErr(t, "Send("+cmd.String()+") in "+m.state().String(), want, err)
		if err != nil {
			return
		}
		m.wire, _ = cmd.AppendWire(m.wire)
		m.pending = append(m.pending, mcmd{cmd: cmd})
	}
	// deliver feeds b in random pieces and returns all events; the result
	// must not depend on the chunking.
	deliver := func(t *rapid.T, b string) ([]protocol.Event, error) {
		var evs []protocol.Event
		for len(b) > 0 {
			n := rapid.IntRange(1, len(b)).Draw(t, "chunk")
			if err := c.Receive([]byte(b[:n])); err != nil {
				return evs, err
			}
			b = b[n:]
			got, err := drain(c)
			evs = append(evs, got...)
			if err != nil {
				return evs, err
			}
		}
		return evs, nil
	}
	// expectReply is the event the client must emit for one reply, and
	// updates the model.
	expectReply := func(code int, lines []string) protocol.Event {
		r := protocol.Reply{Code: code, Lines: lines}
		if m.base == protocol.StateGreeting {
			m.base = afterReply(protocol.StateHello, mcmd{}, code)
			return protocol.Event{Kind: protocol.EventGreeting, Reply: r}
		}
		h := m.pending[0]
		ev := protocol.Event{Kind: protocol.EventReply, Cmd: h.cmd, Reply: r}
		_, valid := next(m.base, h.cmd.Verb, h.last)
		if m.lmtp && (h.cmd.Verb == protocol.VerbEndData || h.last) {
			if m.lmtpLeft == nil {
				m.lmtpLeft = []string{""}
				if valid && len(m.accepted) > 0 {
					m.lmtpLeft = m.accepted
				}
				m.accepted = nil
			}
			ev.Rcpt, m.lmtpLeft = m.lmtpLeft[0], m.lmtpLeft[1:]
			if len(m.lmtpLeft) > 0 && code != 421 {
				return ev
			}
			m.lmtpLeft = nil
		}
		m.pending = m.pending[1:]
		switch h.cmd.Verb {
		case protocol.VerbRcpt:
			if valid && code/100 == 2 {
				m.accepted = append(m.accepted, h.cmd.Arg)
			}
		case protocol.VerbMail, protocol.VerbRset, protocol.VerbEhlo, protocol.VerbHelo, protocol.VerbLhlo, protocol.VerbEndData:
			m.accepted = nil
		case protocol.VerbBdat:
			if h.last {
				m.accepted = nil
			}
		}
		if code/100 == 2 {
			switch h.cmd.Verb {
			case protocol.VerbEhlo, protocol.VerbLhlo:
				m.ext = map[string]bool{}
				for _, l := range lines[1:] {
					m.ext[strings.Fields(l)[0]] = true
				}
			case protocol.VerbHelo, protocol.VerbStartTLS:
				m.ext = map[string]bool{}
			}
		}
		m.base = afterReply(m.base, h, code)
		if m.base == protocol.StateClosed {
			m.pending, m.lmtpLeft, m.accepted = nil, nil, nil
		}
		if h.cmd.Verb == protocol.VerbStartTLS && m.base == protocol.StateTLS {
			ev.Kind = protocol.EventStartTLS
		}
		return ev
	}
	canReceive := func() bool {
		s := m.state()
		return !m.failed && !m.eof && s != protocol.StateClosed && s != protocol.StateTLS
	}

	// Before the greeting every command must wait.
	checkErr(t, "Send before greeting", protocol.ErrMustWait, c.Send(protocol.Ehlo("client.example")))
	greeting := 220
	if rapid.IntRange(0, 9).Draw(t, "odd greeting") == 0 {
		greeting = rapid.SampledFrom(codes).Draw(t, "greeting")
	}
	want := []protocol.Event{expectReply(greeting, []string{"mx.example"})}
	got, err := deliver(t, fmt.Sprintf("%d mx.example\r\n", greeting))
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Fatalf("greeting (-want +got):\n%s", diff)
	}
	actions := map[string]func(*rapid.T){
		"ehlo": func(t *rapid.T) { send(t, protocol.Ehlo("client.example")) },
		"lhlo": func(t *rapid.T) { send(t, protocol.Lhlo("client.example")) },
		"helo": func(t *rapid.T) { send(t, protocol.Helo("client.example")) },
		"mail": func(t *rapid.T) {
			utf8 := rapid.Bool().Draw(t, "utf8") && m.ext["SMTPUTF8"]
			var ps []protocol.Param
			if utf8 {
				ps = append(ps, protocol.Param{Key: "SMTPUTF8"})
			}
			before := len(m.pending)
			send(t, protocol.Mail(addrGen.Draw(t, "from"), ps...))
			if len(m.pending) > before {
				m.utf8 = utf8
			}
		},
		"rcpt": func(t *rapid.T) { send(t, protocol.Rcpt(addrGen.Draw(t, "to"))) },
		"data": func(t *rapid.T) { send(t, protocol.Data()) },
		"rset": func(t *rapid.T) { send(t, protocol.Rset()) },
		"noop": func(t *rapid.T) { send(t, protocol.Noop()) },
		"quit": func(t *rapid.T) {
			if rapid.IntRange(0, 3).Draw(t, "rare") > 0 {
				t.Skip("not this time")
			}
			send(t, protocol.Quit())
		},
		"auth": func(t *rapid.T) {
			ir := []byte(nil)
			if rapid.Bool().Draw(t, "ir") {
				ir = []byte("\x00user\x00pass")
			}
			send(t, protocol.Auth("PLAIN", ir))
		},
		"authresp": func(t *rapid.T) {
			if rapid.Bool().Draw(t, "cancel") {
				send(t, protocol.AuthCancel())
			} else {
				send(t, protocol.AuthResponse([]byte("response")))
			}
		},
		"starttls": func(t *rapid.T) { send(t, protocol.StartTLS()) },
		"body": func(t *rapid.T) {
			p := []byte(rapid.StringMatching(`[a.\r\n]{0,12}`).Draw(t, "body"))
			err := c.SendBody(p)
			var want error
			switch s := m.state(); {
			case m.failed:
				want = protocol.ErrUnsolicited
			case s == protocol.StateClosed:
				want = protocol.ErrClosed
			case s != protocol.StateBody:
				want = protocol.ErrInvalidState
			}
			checkErr(t, "SendBody in "+m.state().String(), want, err)
			if err == nil {
				m.wire = m.stuff.Append(m.wire, p)
			}
		},
		"endbody": func(t *rapid.T) {
			err := c.EndBody()
			var want error
			switch s := m.state(); {
			case m.failed:
				want = protocol.ErrUnsolicited
			case s == protocol.StateClosed:
				want = protocol.ErrClosed
			case s != protocol.StateBody:
				want = protocol.ErrInvalidState
			}
			checkErr(t, "EndBody in "+m.state().String(), want, err)
			if err == nil {
				m.wire = m.stuff.AppendEnd(m.wire)
				m.pending = append(m.pending, mcmd{cmd: protocol.Command{Verb: protocol.VerbEndData}})
			}
		},
		"bdat": func(t *rapid.T) {
			p := rapid.StringMatching(`[a.\r\n]{0,12}`).Draw(t, "chunk")
			last := rapid.Bool().Draw(t, "last")
			err := c.SendChunk([]byte(p), last)
			checkErr(t, fmt.Sprintf("SendChunk(last=%v) in %v", last, m.state()), m.expect(protocol.VerbBdat, last), err)
			if err == nil {
				cmd := protocol.Command{Verb: protocol.VerbBdat, Arg: fmt.Sprint(len(p))}
				line := "BDAT " + cmd.Arg
				if last {
					cmd.Params = []protocol.Param{{Key: "LAST"}}
					line += " LAST"
				}
				m.wire = append(m.wire, line+"\r\n"+p...)
				m.pending = append(m.pending, mcmd{cmd: cmd, last: last})
			}
		},
		"tlsdone": func(t *rapid.T) {
			err := c.TLSDone()
			var want error
			switch s := m.state(); {
			case m.failed:
				want = protocol.ErrUnsolicited
			case s == protocol.StateClosed:
				want = protocol.ErrClosed
			case s != protocol.StateTLS:
				want = protocol.ErrInvalidState
			}
			checkErr(t, "TLSDone in "+m.state().String(), want, err)
			if err == nil {
				m.base, m.ext = protocol.StateHello, map[string]bool{}
			}
		},
		"inject": func(t *rapid.T) {
			if m.state() != protocol.StateTLS || m.eof {
				t.Skip("only between STARTTLS's 220 and TLSDone")
			}
			err := c.Receive([]byte("250 injected\r\n"))
			if !errors.Is(err, protocol.ErrTLSInjection) {
				t.Fatalf("inject: %v, want ErrTLSInjection", err)
			}
			m.failed = true
		},
		"vrfy": func(t *rapid.T) { send(t, protocol.Vrfy("postmaster")) },
		"unasked421": func(t *rapid.T) {
			if !canReceive() || len(m.pending) > 0 || m.base == protocol.StateGreeting {
				t.Skip("a reply is owed, or none can arrive")
			}
			got, err := deliver(t, "421 4.4.2 idle too long\r\n")
			want := []protocol.Event{{Kind: protocol.EventReply, Reply: protocol.Reply{Code: 421,
				Enhanced: protocol.EnhancedCode{Class: 4, Subject: 4, Detail: 2}, Lines: []string{"idle too long"}}}}
			if diff := cmp.Diff(want, got, cmpOpts...); diff != "" || err != nil {
				t.Fatalf("unasked 421: %v (-want +got):\n%s", err, diff)
			}
			m.base, m.lmtpLeft, m.accepted = protocol.StateClosed, nil, nil
		},
		"flush": func(t *rapid.T) {
			n := rapid.IntRange(0, len(m.wire)-m.written).Draw(t, "written")
			c.Advance(n)
			m.written += n
		},
		"reply": func(t *rapid.T) {
			if !canReceive() || len(m.pending) == 0 && m.base != protocol.StateGreeting {
				t.Skip("nothing to answer")
			}
			code := rapid.SampledFrom(codes).Draw(t, "code")
			if rapid.IntRange(0, 3).Draw(t, "likely") > 0 { // steer towards the happy path
				code = likely(m)
			}
			n := rapid.IntRange(1, 4).Draw(t, "lines")
			if len(m.pending) > 0 && (m.pending[0].cmd.Verb == protocol.VerbEhlo || m.pending[0].cmd.Verb == protocol.VerbLhlo) {
				n = rapid.IntRange(1, len(extLines)+1).Draw(t, "ehlo lines")
			}
			lines := make([]string, n)
			lines[0] = "mx.example"
			for i := 1; i < n; i++ {
				lines[i] = rapid.SampledFrom(extLines).Draw(t, "ext")
			}
			var wire strings.Builder
			for i, l := range lines {
				sep := "-"
				if i == n-1 {
					sep = " "
				}
				fmt.Fprintf(&wire, "%d%s%s\r\n", code, sep, l)
			}
			want := []protocol.Event{expectReply(code, lines)}
			got, err := deliver(t, wire.String())
			if err != nil {
				t.Fatalf("reply %d: %v", code, err)
			}
			if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
				t.Fatalf("reply %d (-want +got):\n%s", code, diff)
			}
		},
		"eof": func(t *rapid.T) {
			if m.eof || m.failed || rapid.IntRange(0, 7).Draw(t, "rare") > 0 {
				t.Skip("already closed, or not this time")
			}
			c.ReceiveEOF()
			m.eof = true
			evs, err := drain(c)
			s := m.state()
			clean := s == protocol.StateClosed && !m.reported ||
				len(m.pending) > 0 && m.pending[0].cmd.Verb == protocol.VerbQuit ||
				len(m.pending) == 0 && (s == protocol.StateHello || s == protocol.StateReady || s == protocol.StateMail || s == protocol.StateRcpt)
			if s == protocol.StateClosed && m.reported {
				return
			}
			if clean {
				if err != nil || len(evs) != 1 || evs[0].Kind != protocol.EventClosed {
					t.Fatalf("clean EOF in %v: %v, %v", s, evs, err)
				}
				m.base, m.pending, m.reported = protocol.StateClosed, nil, true
				return
			}
			if !errors.Is(err, protocol.ErrUnexpectedClose) {
				t.Fatalf("EOF in %v with %d pending: %v, %v; want ErrUnexpectedClose", s, len(m.pending), evs, err)
			}
			m.failed = true
		},
		"": func(t *rapid.T) {
			if got, want := c.State(), m.state(); got != want {
				t.Fatalf("State() = %v, model %v (base %v, pending %d)", got, want, m.base, len(m.pending))
			}
			pending := len(m.pending)
			if m.failed {
				pending = 0
			}
			cmd, ok := c.Awaiting()
			if c.Pending() != pending || ok != (pending > 0) || ok && !cmp.Equal(cmd, m.pending[0].cmd, cmpOpts...) {
				t.Fatalf("Awaiting() = %v, %v; Pending() = %d; model %d pending", cmd, ok, c.Pending(), len(m.pending))
			}
			if diff := cmp.Diff(string(m.wire[m.written:]), string(c.Outgoing())); diff != "" {
				t.Fatalf("Outgoing() differs from the accepted commands (-model +client):\n%s", diff)
			}
			if b := c.Buffered(); b > maxLine*maxLines {
				t.Fatalf("Buffered() = %d", b)
			}
		},
	}
	// forward does what moves the conversation on from here, so that the
	// walk reaches the deep states (body, chunking, AUTH, TLS) often.
	forward := func(t *rapid.T) {
		if len(m.pending) > 0 && rapid.Bool().Draw(t, "answer") {
			actions["reply"](t)
			return
		}
		var next []string
		switch m.state() {
		case protocol.StateHello:
			next = []string{"ehlo"}
			if m.lmtp {
				next = []string{"lhlo"}
			}
		case protocol.StateReady:
			next = []string{"mail", "auth", "starttls"}
		case protocol.StateMail:
			next = []string{"rcpt"}
		case protocol.StateRcpt:
			next = []string{"rcpt", "data", "bdat"}
		case protocol.StateBody:
			next = []string{"body", "endbody"}
		case protocol.StateChunking:
			next = []string{"bdat"}
		case protocol.StateAuth:
			next = []string{"authresp"}
		case protocol.StateTLS:
			next = []string{"tlsdone", "inject"}
		case protocol.StateBodyDone:
			next = []string{"mail"}
		default:
			next = []string{"reply"}
		}
		actions[rapid.SampledFrom(next).Draw(t, "forward")](t)
	}
	for i := range 8 {
		actions[fmt.Sprint("forward", i)] = forward
	}
	t.Repeat(actions)
}
