package protocol_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
	h    protocol.Handle
	end  int // len(wire) once its bytes are queued: written when written >= end
}

// mrcpt is an accepted recipient and the RCPT that named it.
type mrcpt struct {
	addr string
	h    protocol.Handle
}

type model struct {
	lmtp     bool
	base     protocol.State // after every answered command
	pending  []mcmd
	ext      map[string]bool
	accepted []mrcpt // RCPTs accepted in the current transaction
	lmtpLeft []mrcpt // recipients still owed an end-of-data reply
	lastH    protocol.Handle
	utf8     bool
	eof      bool
	reported bool // EventClosed returned
	failed   bool
	wire     []byte // every byte queued
	wtn      int    // of which written (Advance)
	stuff    codec.StuffState
}

// modelOpts compare events with their ledger fields; the SASL challenge
// decoding is checked in client_test.go.
var modelOpts = []cmp.Option{cmpopts.EquateEmpty(), cmpopts.EquateErrors(),
	cmpopts.IgnoreFields(protocol.Event{}, "Challenge", "ChallengeErr")}

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

// queue records a command the client accepted; its bytes are in m.wire.
func (m *model) queue(c mcmd) {
	m.lastH++
	c.h, c.end = m.lastH, len(m.wire)
	m.pending = append(m.pending, c)
}

// written reports whether every byte of command h was written. Answered
// commands were (a reply only answers written ones).
func (m *model) written(h protocol.Handle) bool {
	for _, p := range m.pending {
		if p.h == h {
			return p.end <= m.wtn
		}
	}
	return h <= m.lastH
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
		_, err := c.Send(cmd)
		checkErr(t, "Send("+cmd.String()+") in "+m.state().String(), want, err)
		if err != nil {
			return
		}
		m.wire, _ = cmd.AppendWire(m.wire)
		m.queue(mcmd{cmd: cmd})
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
			for _, ev := range got {
				// The invariant: a reply never answers a command that was
				// not written in full when the reply arrived.
				if ev.Handle != protocol.NoHandle && !m.written(ev.Handle) {
					t.Fatalf("reply %v attributed to command %d (%v), not yet written", ev.Reply, ev.Handle, ev.Cmd)
				}
			}
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
			return protocol.Event{Kind: protocol.EventGreeting, Reply: r, Done: true}
		}
		h := m.pending[0]
		ev := protocol.Event{Kind: protocol.EventReply, Handle: h.h, Cmd: h.cmd, Reply: r, Done: true}
		_, valid := next(m.base, h.cmd.Verb, h.last)
		if m.lmtp && (h.cmd.Verb == protocol.VerbEndData || h.last) {
			if m.lmtpLeft == nil {
				m.lmtpLeft = []mrcpt{{}}
				if valid && len(m.accepted) > 0 {
					m.lmtpLeft = m.accepted
				}
				m.accepted = nil
			}
			ev.Rcpt, ev.RcptHandle, m.lmtpLeft = m.lmtpLeft[0].addr, m.lmtpLeft[0].h, m.lmtpLeft[1:]
			if len(m.lmtpLeft) > 0 && code != 421 {
				ev.Done = false
				return ev
			}
			m.lmtpLeft = nil
		}
		m.pending = m.pending[1:]
		switch h.cmd.Verb {
		case protocol.VerbRcpt:
			if valid && code/100 == 2 {
				m.accepted = append(m.accepted, mrcpt{h.cmd.Arg, h.h})
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
					if code == 250 { // another 2xx lists no extensions
						m.ext[strings.Fields(l)[0]] = true
					}
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
	checkErr(t, "Send before greeting", protocol.ErrMustWait, sendErr(c, protocol.Ehlo("client.example")))
	greeting := 220
	if rapid.IntRange(0, 9).Draw(t, "odd greeting") == 0 {
		greeting = rapid.SampledFrom(codes).Draw(t, "greeting")
	}
	want := []protocol.Event{expectReply(greeting, []string{"mx.example"})}
	got, err := deliver(t, fmt.Sprintf("%d mx.example\r\n", greeting))
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	if diff := cmp.Diff(want, got, modelOpts...); diff != "" {
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
				return // "not this time": nothing to do (a no-op, not a skip: under fuzzing the input picks the actions, and rapid gives up on too many skips)
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
			_, err := c.EndBody()
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
				m.queue(mcmd{cmd: protocol.Command{Verb: protocol.VerbEndData}})
			}
		},
		"bdat": func(t *rapid.T) {
			p := rapid.StringMatching(`[a.\r\n]{0,12}`).Draw(t, "chunk")
			last := rapid.Bool().Draw(t, "last")
			_, err := c.SendChunk([]byte(p), last)
			checkErr(t, fmt.Sprintf("SendChunk(last=%v) in %v", last, m.state()), m.expect(protocol.VerbBdat, last), err)
			if err == nil {
				cmd := protocol.Command{Verb: protocol.VerbBdat, Arg: fmt.Sprint(len(p))}
				line := "BDAT " + cmd.Arg
				if last {
					cmd.Params = []protocol.Param{{Key: "LAST"}}
					line += " LAST"
				}
				m.wire = append(m.wire, line+"\r\n"+p...)
				m.queue(mcmd{cmd: cmd, last: last})
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
				return // "only between STARTTLS's 220 and TLSDone"
			}
			if err := c.Receive([]byte("250 injected\r\n")); err != nil {
				t.Fatalf("inject: Receive: %v", err)
			}
			if evs, err := drain(c); len(evs) > 0 || !errors.Is(err, protocol.ErrTLSInjection) {
				t.Fatalf("inject: %v, %v; want ErrTLSInjection", evs, err)
			}
			m.failed = true
		},
		"vrfy": func(t *rapid.T) { send(t, protocol.Vrfy("postmaster")) },
		"unasked421": func(t *rapid.T) {
			if !canReceive() || len(m.pending) > 0 && m.written(m.pending[0].h) || m.base == protocol.StateGreeting {
				return // "a reply is owed, or none can arrive"
			}
			got, err := deliver(t, "421 4.4.2 idle too long\r\n")
			want := []protocol.Event{{Kind: protocol.EventReply, Reply: protocol.Reply{Code: 421,
				Enhanced: protocol.EnhancedCode{Class: 4, Subject: 4, Detail: 2}, Lines: []string{"idle too long"}}, Done: true}}
			if diff := cmp.Diff(want, got, modelOpts...); diff != "" || err != nil {
				t.Fatalf("unasked 421: %v (-want +got):\n%s", err, diff)
			}
			m.base, m.pending, m.lmtpLeft, m.accepted = protocol.StateClosed, nil, nil, nil
		},
		// unsolicited: a reply when no written command awaits one (none
		// pending, or the oldest not yet written: an early reply, such as
		// "250 queued" right behind a 354). Never an answer: the sticky
		// PeerError, with the reply kept.
		"unsolicited": func(t *rapid.T) {
			if !canReceive() || m.base == protocol.StateGreeting || len(m.pending) > 0 && m.written(m.pending[0].h) {
				return // "a written command awaits a reply"
			}
			code := rapid.SampledFrom(codes).Draw(t, "code")
			if code == 421 {
				return // "421 may come unasked"
			}
			got, err := deliver(t, fmt.Sprintf("%d unasked\r\n", code))
			var pe *protocol.PeerError
			if len(got) > 0 || !errors.As(err, &pe) || !errors.Is(err, protocol.ErrUnsolicited) || pe.Reply.Code != code {
				t.Fatalf("unsolicited %d with %d pending: %v, %v; want ErrUnsolicited keeping the reply", code, len(m.pending), got, err)
			}
			m.failed = true
		},
		"flush": func(t *rapid.T) {
			n := rapid.IntRange(0, len(m.wire)-m.wtn).Draw(t, "written")
			c.Advance(n)
			m.wtn += n
		},
		"reply": func(t *rapid.T) {
			if !canReceive() || len(m.pending) == 0 && m.base != protocol.StateGreeting {
				return // "nothing to answer"
			}
			if len(m.pending) > 0 && !m.written(m.pending[0].h) {
				c.Advance(len(m.wire) - m.wtn) // a server answers what it has read
				m.wtn = len(m.wire)
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
			if diff := cmp.Diff(want, got, modelOpts...); diff != "" {
				t.Fatalf("reply %d (-want +got):\n%s", code, diff)
			}
		},
		"eof": func(t *rapid.T) {
			if m.eof || m.failed || rapid.IntRange(0, 7).Draw(t, "rare") > 0 {
				return // "already closed, or not this time"
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
			wantOut := string(m.wire[m.wtn:])
			if m.failed || m.state() == protocol.StateClosed {
				wantOut = "" // nothing more goes to a server that broke the protocol or closed
			}
			if diff := cmp.Diff(wantOut, string(c.Outgoing())); diff != "" {
				t.Fatalf("Outgoing() differs from the accepted commands (-model +client):\n%s", diff)
			}
			if b := c.Buffered(); b > maxLine*maxLines {
				t.Fatalf("Buffered() = %d", b)
			}
			for _, p := range m.pending {
				if m.failed {
					break
				}
				if c.Written(p.h) != m.written(p.h) || !c.Owed(p.h) {
					t.Fatalf("command %d (%v): Written %v Owed %v, model written %v", p.h, p.cmd, c.Written(p.h), c.Owed(p.h), m.written(p.h))
				}
			}
			if c.Last() != m.lastH {
				t.Fatalf("Last() = %d, model %d", c.Last(), m.lastH)
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
