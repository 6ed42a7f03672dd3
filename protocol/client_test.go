package protocol_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
)

// step is one move in a scenario: exactly one field set.
type step struct {
	send    *protocol.Command
	body    string
	endBody bool
	chunk   *chunk
	tlsDone bool
	recv    string
	eof     bool
}

type chunk struct {
	data string
	last bool
}

func send(c protocol.Command) step  { return step{send: &c} }
func recv(s string) step            { return step{recv: s} }
func body(s string) step            { return step{body: s} }
func bdat(s string, last bool) step { return step{chunk: &chunk{s, last}} }

var (
	endBody = step{endBody: true}
	tlsDone = step{tlsDone: true}
	eof     = step{eof: true}
)

// result is what a scenario produced.
type result struct {
	Wire   string // everything the client queued
	Events []protocol.Event
	Err    error // the first error
	State  protocol.State
}

func play(c *protocol.Client, steps ...step) result {
	var r result
	for _, s := range steps {
		var err error
		switch {
		case s.send != nil:
			_, err = c.Send(*s.send)
		case s.body != "":
			err = c.SendBody([]byte(s.body))
		case s.endBody:
			_, err = c.EndBody()
		case s.chunk != nil:
			_, err = c.SendChunk([]byte(s.chunk.data), s.chunk.last)
		case s.tlsDone:
			err = c.TLSDone()
		case s.eof:
			c.ReceiveEOF()
		default:
			r.Wire += out(c) // written before the reply is read
			err = c.Receive([]byte(s.recv))
		}
		r.Wire += out(c)
		if err == nil {
			var evs []protocol.Event
			evs, err = drain(c)
			r.Events = append(r.Events, evs...)
		}
		if err != nil {
			r.Err = err
			break
		}
	}
	r.State = c.State()
	return r
}

func checkResult(t *testing.T, want, got result) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("scenario mismatch (-want +got):\n%s", diff)
	}
}

var (
	ehlo   = protocol.Ehlo("client.example")
	lhlo   = protocol.Lhlo("client.example")
	data   = protocol.Data()
	quit   = protocol.Quit()
	endCmd = protocol.Command{Verb: protocol.VerbEndData}
)

func mail(a string) protocol.Command { return protocol.Mail(a) }
func rcpt(a string) protocol.Command { return protocol.Rcpt(a) }

func ok(cmd protocol.Command, code int, text ...string) protocol.Event {
	return replyEv(cmd, reply(code, text...))
}

func TestSimpleTransaction(t *testing.T) {
	c := ehloed(t, protocol.Config{})
	got := play(c,
		send(mail("a@b.example")), recv("250 2.1.0 Ok\r\n"),
		send(rcpt("c@d.example")), recv("250 2.1.5 Ok\r\n"),
		send(data), recv("354 go ahead\r\n"),
		body("Subject: hi\r\n\r\n.hidden\nbare LF\r"), body("\nend"), endBody, recv("250 2.0.0 queued as 1\r\n"),
		send(quit), recv("221 2.0.0 Bye\r\n"), eof,
	)
	e := func(code int, en protocol.EnhancedCode, text string) protocol.Reply {
		return protocol.Reply{Code: code, Enhanced: en, Lines: []string{text}}
	}
	want := result{
		Wire: "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n" +
			"Subject: hi\r\n\r\n..hidden\r\nbare LF\r\nend\r\n.\r\n" + "QUIT\r\n",
		Events: []protocol.Event{
			replyEv(mail("a@b.example"), e(250, protocol.EnhancedCode{Class: 2, Subject: 1}, "Ok")),
			replyEv(rcpt("c@d.example"), e(250, protocol.EnhancedCode{Class: 2, Subject: 1, Detail: 5}, "Ok")),
			ok(data, 354, "go ahead"),
			replyEv(endCmd, e(250, protocol.EnhancedCode{Class: 2}, "queued as 1")),
			replyEv(quit, e(221, protocol.EnhancedCode{Class: 2}, "Bye")),
			{Kind: protocol.EventClosed},
		},
		State: protocol.StateClosed,
	}
	checkResult(t, want, got)
	// Nothing can be sent after Closed.
	for _, cmd := range []protocol.Command{protocol.Noop(), ehlo, quit} {
		if _, err := c.Send(cmd); !errors.Is(err, protocol.ErrClosed) {
			t.Errorf("Send(%v) after close: %v", cmd, err)
		}
	}
	if err := c.SendBody([]byte("x")); !errors.Is(err, protocol.ErrClosed) {
		t.Errorf("SendBody after close: %v", err)
	}
	if err := c.Receive([]byte("250 ok\r\n")); !errors.Is(err, protocol.ErrClosed) {
		t.Errorf("Receive after close: %v", err)
	}
	if len(c.Outgoing()) != 0 {
		t.Errorf("queued after close: %q", c.Outgoing())
	}
}

func TestPipelining(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "PIPELINING")
	// A whole envelope and DATA in one flight; DATA ends the group.
	for _, cmd := range []protocol.Command{mail("a@b.example"), rcpt("c@d.example"), rcpt("bad@d.example"), data} {
		mustSend(t, c, cmd)
	}
	sendRefused(t, c, protocol.Noop(), protocol.ErrMustWait)
	if got, want := c.State(), protocol.StateDataWait; got != want {
		t.Fatalf("State() = %v, want %v", got, want)
	}
	got := play(c,
		recv("250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n"),
		body("hi\r\n"), endBody,
		// The next transaction may follow the end of data at once.
		send(mail("x@b.example")), send(rcpt("y@d.example")), send(data),
		recv("250 queued\r\n250 ok\r\n"), // end of data, MAIL
	)
	want := result{
		Wire: "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<bad@d.example>\r\nDATA\r\n" +
			"hi\r\n.\r\nMAIL FROM:<x@b.example>\r\nRCPT TO:<y@d.example>\r\nDATA\r\n",
		Events: []protocol.Event{
			ok(mail("a@b.example"), 250, "ok"),
			ok(rcpt("c@d.example"), 250, "ok"),
			replyEv(rcpt("bad@d.example"), protocol.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Lines: []string{"no such user"}}),
			ok(data, 354, "go"),
			ok(endCmd, 250, "queued"),
			ok(mail("x@b.example"), 250, "ok"),
		},
		State: protocol.StateDataWait,
	}
	checkResult(t, want, got)
	if cmd, ok := c.Awaiting(); !ok || cmd.Verb != protocol.VerbRcpt || c.Pending() != 2 {
		t.Errorf("Awaiting() = %v, %v; Pending() = %d", cmd, ok, c.Pending())
	}
}

// Without PIPELINING every command waits for its reply.
func TestNoPipeliningMustWait(t *testing.T) {
	c := ehloed(t, protocol.Config{})
	mustSend(t, c, mail("a@b.example"))
	sendRefused(t, c, rcpt("c@d.example"), protocol.ErrMustWait)
	mustReceive(t, c, "250 ok\r\n")
	mustSend(t, c, rcpt("c@d.example"))
}

// A refused MAIL in a pipelined group: the RCPTs and DATA that followed
// are refused too, and the state ends where the transaction never began.
func TestPipelinedMailRefused(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "PIPELINING")
	for _, cmd := range []protocol.Command{mail("a@b.example"), rcpt("c@d.example"), data} {
		mustSend(t, c, cmd)
	}
	var states []protocol.State
	for _, r := range []string{"550 no\r\n", "503 need MAIL\r\n", "503 need RCPT\r\n"} {
		mustReceive(t, c, r)
		states = append(states, c.State())
	}
	want := []protocol.State{protocol.StateReady, protocol.StateReady, protocol.StateReady}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

// RFC 2920 §3.1: 354 although no RCPT was accepted. The event is emitted;
// the session sends an empty body.
func TestDataAcceptedWithoutRecipients(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "PIPELINING")
	got := play(c,
		send(mail("a@b.example")), send(rcpt("c@d.example")), send(data),
		recv("250 ok\r\n550 no\r\n"),
	)
	if got.State != protocol.StateMail {
		t.Fatalf("all RCPT refused: State() = %v, want Mail", got.State)
	}
	got = play(c, recv("354 go anyway\r\n"), endBody, recv("554 no valid recipients\r\n"))
	want := result{
		Wire:   ".\r\n",
		Events: []protocol.Event{ok(data, 354, "go anyway"), ok(endCmd, 554, "no valid recipients")},
		State:  protocol.StateReady,
	}
	checkResult(t, want, got)
}

func TestLMTP(t *testing.T) {
	c := ehloed(t, protocol.Config{LMTP: true}, "PIPELINING", "ENHANCEDSTATUSCODES")
	got := play(c,
		send(mail("a@b.example")), send(rcpt("x@d.example")), send(rcpt("bad@d.example")),
		send(rcpt("y@d.example")), send(rcpt("x@d.example")), send(data),
		recv("250 ok\r\n250 ok\r\n550 unknown\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
		body("hi"), endBody,
		recv("250 2.0.0 x delivered\r\n452 4.2.2 y over quota\r\n"),
		recv("250 2.0.0 x again\r\n"),
	)
	r := func(code int, en protocol.EnhancedCode, text string) protocol.Reply {
		return protocol.Reply{Code: code, Enhanced: en, Lines: []string{text}}
	}
	lmtp := func(rc string, rep protocol.Reply) protocol.Event {
		return protocol.Event{Kind: protocol.EventReply, Cmd: endCmd, Reply: rep, Rcpt: rc}
	}
	want := result{
		Wire: "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@d.example>\r\nRCPT TO:<bad@d.example>\r\n" +
			"RCPT TO:<y@d.example>\r\nRCPT TO:<x@d.example>\r\nDATA\r\nhi\r\n.\r\n",
		Events: []protocol.Event{
			ok(mail("a@b.example"), 250, "ok"), ok(rcpt("x@d.example"), 250, "ok"),
			ok(rcpt("bad@d.example"), 550, "unknown"), ok(rcpt("y@d.example"), 250, "ok"),
			ok(rcpt("x@d.example"), 250, "ok"), ok(data, 354, "go"),
			lmtp("x@d.example", r(250, protocol.EnhancedCode{Class: 2}, "x delivered")),
			lmtp("y@d.example", r(452, protocol.EnhancedCode{Class: 4, Subject: 2, Detail: 2}, "y over quota")),
			lmtp("x@d.example", r(250, protocol.EnhancedCode{Class: 2}, "x again")),
		},
		State: protocol.StateReady,
	}
	checkResult(t, want, got)
	// One more reply would be unsolicited.
	if err := c.Receive([]byte("250 extra\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NextEvent(); !errors.Is(err, protocol.ErrUnsolicited) {
		t.Errorf("extra LMTP reply: %v, want ErrUnsolicited", err)
	}
}

func TestLMTPModeVerbs(t *testing.T) {
	c := greeted(t, protocol.Config{LMTP: true})
	sendRefused(t, c, ehlo, protocol.ErrInvalidState)
	sendRefused(t, c, protocol.Helo("x"), protocol.ErrInvalidState)
	s := greeted(t, protocol.Config{})
	sendRefused(t, s, lhlo, protocol.ErrInvalidState)
}

func TestBDAT(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "PIPELINING", "CHUNKING")
	got := play(c,
		send(mail("a@b.example")), send(rcpt("c@d.example")),
		bdat("Subject: x\r\n\r\n", false), bdat(".line\n", false), bdat("", true),
		recv("250 ok\r\n250 ok\r\n250 15 octets\r\n250 6 octets\r\n250 2.0.0 queued\r\n"),
	)
	last := protocol.Command{Verb: protocol.VerbBdat, Arg: "0", Params: []protocol.Param{{Key: "LAST"}}}
	want := result{
		Wire: "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n" +
			"BDAT 14\r\nSubject: x\r\n\r\nBDAT 6\r\n.line\nBDAT 0 LAST\r\n",
		Events: []protocol.Event{
			ok(mail("a@b.example"), 250, "ok"), ok(rcpt("c@d.example"), 250, "ok"),
			ok(protocol.Command{Verb: protocol.VerbBdat, Arg: "14"}, 250, "15 octets"),
			ok(protocol.Command{Verb: protocol.VerbBdat, Arg: "6"}, 250, "6 octets"),
			replyEv(last, protocol.Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2}, Lines: []string{"queued"}}),
		},
		State: protocol.StateReady,
	}
	checkResult(t, want, got)
}

func TestBDATNeedsChunking(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "PIPELINING")
	mustSend(t, c, mail("a@b.example"))
	mustSend(t, c, rcpt("c@d.example"))
	before := snap(c)
	if _, err := c.SendChunk([]byte("x"), true); !errors.Is(err, protocol.ErrNotAdvertised) {
		t.Fatalf("SendChunk without CHUNKING: %v", err)
	}
	if diff := cmp.Diff(before, snap(c)); diff != "" {
		t.Fatalf("refused chunk changed the client (-before +after):\n%s", diff)
	}
}

func TestLMTPBDAT(t *testing.T) {
	c := ehloed(t, protocol.Config{LMTP: true}, "PIPELINING", "CHUNKING")
	got := play(c,
		send(mail("a@b.example")), send(rcpt("x@d.example")), send(rcpt("y@d.example")),
		bdat("hello\r\n", true),
		recv("250 ok\r\n250 ok\r\n250 ok\r\n250 x ok\r\n550 y failed\r\n"),
	)
	last := protocol.Command{Verb: protocol.VerbBdat, Arg: "7", Params: []protocol.Param{{Key: "LAST"}}}
	want := result{
		Wire: "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@d.example>\r\nRCPT TO:<y@d.example>\r\nBDAT 7 LAST\r\nhello\r\n",
		Events: []protocol.Event{
			ok(mail("a@b.example"), 250, "ok"), ok(rcpt("x@d.example"), 250, "ok"), ok(rcpt("y@d.example"), 250, "ok"),
			{Kind: protocol.EventReply, Cmd: last, Reply: reply(250, "x ok"), Rcpt: "x@d.example"},
			{Kind: protocol.EventReply, Cmd: last, Reply: reply(550, "y failed"), Rcpt: "y@d.example"},
		},
		State: protocol.StateReady,
	}
	checkResult(t, want, got)
}

func TestStartTLS(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "STARTTLS", "PIPELINING")
	got := play(c, send(protocol.StartTLS()), recv("220 2.0.0 Ready to start TLS\r\n"), tlsDone)
	if got.State != protocol.StateHello {
		t.Fatalf("after TLSDone: %v", got.State)
	}
	sendRefused(t, c, mail("a@b.example"), protocol.ErrInvalidState) // EHLO again first
	got2 := play(c, send(ehlo), recv("250-mx.example\r\n250 AUTH PLAIN\r\n"))
	got.Wire += got2.Wire
	got.Events = append(got.Events, got2.Events...)
	got.State = got2.State
	want := result{
		Wire: "STARTTLS\r\nEHLO client.example\r\n",
		Events: []protocol.Event{
			{Kind: protocol.EventStartTLS, Cmd: protocol.StartTLS(), Reply: protocol.Reply{Code: 220, Enhanced: protocol.EnhancedCode{Class: 2}, Lines: []string{"Ready to start TLS"}}},
			ok(ehlo, 250, "mx.example", "AUTH PLAIN"),
		},
		State: protocol.StateReady,
	}
	checkResult(t, want, got)
	if got := c.Extensions().Keywords(); !cmp.Equal(got, []string{"AUTH"}) {
		t.Errorf("keywords after TLS EHLO: %v", got)
	}
	// STARTTLS was not advertised the second time.
	sendRefused(t, c, protocol.StartTLS(), protocol.ErrNotAdvertised)
}

// Bytes after the 220 to STARTTLS are an injection attempt (CVE-2011-0411),
// whether they come with the 220 or later, and TLSDone refuses them too.
func TestStartTLSInjection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
		off   int64
	}{
		{"same read", []step{recv("220 go\r\n250 injected\r\n")}, 8},
		{"later read", []step{recv("220 go\r\n"), recv("250 injected\r\n")}, 8},
		{"partial line", []step{recv("220 go\r\nX")}, 8},
		{"before TLSDone", []step{recv("220 go\r\n"), recv("x"), tlsDone}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ehloed(t, protocol.Config{}, "STARTTLS")
			mustSend(t, c, protocol.StartTLS())
			base := c.Buffered() // 0
			_ = base
			got := play(c, tc.steps...)
			if !errors.Is(got.Err, protocol.ErrTLSInjection) {
				t.Fatalf("error %v, want ErrTLSInjection", got.Err)
			}
			var pe *protocol.PeerError
			errors.As(got.Err, &pe)
			// Offsets count the whole stream: greeting and EHLO reply first.
			pre := int64(len("220 mx.example ESMTP\r\n") + len(ehloReply("STARTTLS")))
			if pe.Offset != pre+tc.off || pe.State != protocol.StateTLS {
				t.Errorf("PeerError{State %v, Offset %d}, want {TLS, %d}", pe.State, pe.Offset, pre+tc.off)
			}
			if c.State() != protocol.StateFailed || c.Err() != got.Err {
				t.Errorf("not sticky: State %v, Err %v", c.State(), c.Err())
			}
			if err := c.TLSDone(); err != got.Err {
				t.Errorf("TLSDone after failure: %v", err)
			}
		})
	}
}

func TestStartTLSRefused(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "STARTTLS")
	got := play(c, send(protocol.StartTLS()), recv("454 4.7.0 TLS not available\r\n"), send(mail("a@b.example")))
	if got.Err != nil || got.State != protocol.StateMail {
		t.Fatalf("after 454: %v, state %v", got.Err, got.State)
	}
	if err := c.TLSDone(); !errors.Is(err, protocol.ErrInvalidState) {
		t.Errorf("TLSDone without STARTTLS: %v", err)
	}
}

func TestAuth(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "AUTH LOGIN PLAIN", "PIPELINING")
	auth := protocol.Auth("LOGIN", nil)
	got := play(c,
		send(auth), recv("334 VXNlcm5hbWU6\r\n"),
		send(protocol.AuthResponse([]byte("user"))), recv("334 UGFzc3dvcmQ6\r\n"),
		send(protocol.AuthResponse([]byte("pass"))), recv("235 2.7.0 Authentication successful\r\n"),
		send(mail("a@b.example")),
	)
	want := result{
		Wire: "AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nMAIL FROM:<a@b.example>\r\n",
		Events: []protocol.Event{
			challengeEv(ok(auth, 334, "VXNlcm5hbWU6"), "Username:"),
			challengeEv(ok(protocol.AuthResponse([]byte("user")), 334, "UGFzc3dvcmQ6"), "Password:"),
			replyEv(protocol.AuthResponse([]byte("pass")), protocol.Reply{Code: 235, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 7}, Lines: []string{"Authentication successful"}}),
		},
		State: protocol.StateMail,
	}
	checkResult(t, want, got)
}

func TestAuthCancelAndFailure(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "AUTH PLAIN")
	sendRefused(t, c, protocol.AuthResponse([]byte("x")), protocol.ErrInvalidState)
	got := play(c, send(protocol.Auth("PLAIN", []byte{})), recv("334 \r\n"))
	if got.State != protocol.StateAuth {
		t.Fatalf("after 334: %v", got.State)
	}
	sendRefused(t, c, protocol.Noop(), protocol.ErrInvalidState) // a 334 must be answered
	got = play(c, send(protocol.AuthCancel()), recv("501 5.0.0 cancelled\r\n"))
	if got.Wire != "*\r\n" || got.State != protocol.StateReady {
		t.Fatalf("cancel: wire %q state %v", got.Wire, got.State)
	}
	got = play(c, send(protocol.Auth("PLAIN", []byte("\x00u\x00p"))), recv("535 5.7.8 bad credentials\r\n"))
	if got.State != protocol.StateReady || got.Err != nil {
		t.Fatalf("failed AUTH: state %v err %v", got.State, got.Err)
	}
	b := ehloed(t, protocol.Config{})
	sendRefused(t, b, protocol.Auth("PLAIN", nil), protocol.ErrNotAdvertised)
}

func Test421Closes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
		want  []protocol.Event
	}{
		{"greeting", nil, nil},
		{"to MAIL", []step{send(mail("a@b.example")), recv("421 4.3.2 shutting down\r\n")},
			[]protocol.Event{replyEv(mail("a@b.example"), protocol.Reply{Code: 421, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 3, Detail: 2}, Lines: []string{"shutting down"}})}},
		{"mid pipeline", []step{send(mail("a@b.example")), send(rcpt("c@d.example")), recv("250 ok\r\n421 bye\r\n")},
			[]protocol.Event{ok(mail("a@b.example"), 250, "ok"), ok(rcpt("c@d.example"), 421, "bye")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *protocol.Client
			if tc.steps == nil {
				c = protocol.NewClient(protocol.Config{})
				tc.steps = []step{recv("421 too busy\r\n")}
				tc.want = []protocol.Event{greetingEv(reply(421, "too busy"))}
			} else {
				c = ehloed(t, protocol.Config{}, "PIPELINING")
			}
			got := play(c, tc.steps...)
			wire := got.Wire
			checkResult(t, result{Wire: wire, Events: tc.want, State: protocol.StateClosed}, got)
			if c.Pending() != 0 {
				t.Errorf("Pending() = %d after 421", c.Pending())
			}
			if _, err := c.Send(quit); !errors.Is(err, protocol.ErrClosed) || len(c.Outgoing()) != 0 {
				t.Errorf("Send after 421: %v, outgoing %q", err, c.Outgoing())
			}
			// The peer's EOF is then reported once.
			c.ReceiveEOF()
			evs, err := drain(c)
			if err != nil || !cmp.Equal(evs, []protocol.Event{{Kind: protocol.EventClosed}}) {
				t.Errorf("after EOF: %v, %v", evs, err)
			}
		})
	}
}

func TestEOF(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
		err   error // nil: EventClosed
	}{
		{"idle", []step{eof}, nil},
		{"after QUIT sent", []step{send(quit), eof}, nil},
		{"mid transaction, nothing owed", []step{send(mail("a@b.example")), recv("250 ok\r\n"), eof}, nil},
		{"MAIL owed", []step{send(mail("a@b.example")), eof}, protocol.ErrUnexpectedClose},
		{"inside a reply", []step{send(protocol.Noop()), recv("250-partial\r\n"), eof}, protocol.ErrUnexpectedClose},
		{"mid body", []step{send(mail("a@b.example")), recv("250 ok\r\n"), send(rcpt("c@d.example")), recv("250 ok\r\n"),
			send(data), recv("354 go\r\n"), body("half a mess"), eof}, protocol.ErrUnexpectedClose},
		{"after end of data", []step{send(mail("a@b.example")), recv("250 ok\r\n"), send(rcpt("c@d.example")), recv("250 ok\r\n"),
			send(data), recv("354 go\r\n"), body("all"), endBody, eof}, protocol.ErrUnexpectedClose},
		{"during TLS handshake", []step{send(protocol.StartTLS()), recv("220 go\r\n"), eof}, protocol.ErrUnexpectedClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ehloed(t, protocol.Config{}, "STARTTLS")
			got := play(c, tc.steps...)
			if tc.err == nil {
				if got.Err != nil || got.State != protocol.StateClosed || len(got.Events) == 0 || got.Events[len(got.Events)-1].Kind != protocol.EventClosed {
					t.Fatalf("want EventClosed, got %+v", got)
				}
				return
			}
			if diff := cmp.Diff(tc.err, got.Err, cmpOpts...); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			var pe *protocol.PeerError
			if !errors.As(got.Err, &pe) || got.State != protocol.StateFailed {
				t.Fatalf("want sticky *PeerError, got %T, state %v", got.Err, got.State)
			}
		})
	}
	// EOF before the greeting.
	c := protocol.NewClient(protocol.Config{})
	got := play(c, recv("220-mx"), eof)
	if !errors.Is(got.Err, protocol.ErrUnexpectedClose) {
		t.Errorf("EOF in greeting: %v", got.Err)
	}
}

// An unasked 421 (a server timing out an idle client, or shutting down
// in the middle of a body) closes the conversation; it is not an error.
func TestUnasked421(t *testing.T) {
	c := ehloed(t, protocol.Config{})
	got := play(c,
		send(mail("a@b.example")), recv("250 ok\r\n"), send(rcpt("c@d.example")), recv("250 ok\r\n"),
		send(data), recv("354 go\r\n"), body("half"),
		recv("421 4.4.2 mx.example Error: timeout exceeded\r\n"), eof,
	)
	want := result{
		Wire: "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nhalf",
		Events: []protocol.Event{
			ok(mail("a@b.example"), 250, "ok"), ok(rcpt("c@d.example"), 250, "ok"), ok(data, 354, "go"),
			{Kind: protocol.EventReply, Reply: protocol.Reply{Code: 421, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 4, Detail: 2}, Lines: []string{"mx.example Error: timeout exceeded"}}},
			{Kind: protocol.EventClosed},
		},
		State: protocol.StateClosed,
	}
	checkResult(t, want, got)
	if err := c.SendBody([]byte("more")); !errors.Is(err, protocol.ErrClosed) {
		t.Errorf("SendBody after 421: %v", err)
	}
}

func TestUnsolicited(t *testing.T) {
	c := ehloed(t, protocol.Config{})
	got := play(c, recv("250 surprise\r\n"))
	if !errors.Is(got.Err, protocol.ErrUnsolicited) || got.State != protocol.StateFailed {
		t.Fatalf("got %v in %v", got.Err, got.State)
	}
	if _, err := c.Send(protocol.Noop()); err != got.Err {
		t.Errorf("Send after failure = %v, want the sticky error", err)
	}
	if err := c.Receive([]byte("x")); err != got.Err {
		t.Errorf("Receive after failure = %v, want the sticky error", err)
	}
}

func TestStateRefusals(t *testing.T) {
	c := protocol.NewClient(protocol.Config{})
	sendRefused(t, c, ehlo, protocol.ErrMustWait) // no greeting yet
	mustReceive(t, c, "220 hi\r\n")
	sendRefused(t, c, mail("a@b.example"), protocol.ErrInvalidState) // before EHLO
	sendRefused(t, c, data, protocol.ErrInvalidState)
	if err := c.SendBody([]byte("x")); !errors.Is(err, protocol.ErrInvalidState) {
		t.Errorf("SendBody in Hello: %v", err)
	}
	if _, err := c.EndBody(); !errors.Is(err, protocol.ErrInvalidState) {
		t.Errorf("EndBody in Hello: %v", err)
	}
	mustSend(t, c, ehlo)
	mustReceive(t, c, "250 mx\r\n")
	sendRefused(t, c, rcpt("c@d.example"), protocol.ErrInvalidState)
	sendRefused(t, c, protocol.StartTLS(), protocol.ErrNotAdvertised)
	var ue *protocol.UsageError
	_, err := c.Send(data)
	if !errors.As(err, &ue) || ue.Verb != protocol.VerbData || ue.State != protocol.StateReady {
		t.Errorf("UsageError = %+v", ue)
	}
}

func TestOutgoingAdvance(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "PIPELINING")
	mustSend(t, c, mail("a@b.example"))
	c.Advance(5)
	mustSend(t, c, rcpt("c@d.example"))
	if got, want := string(c.Outgoing()), "FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"; got != want {
		t.Fatalf("Outgoing() = %q, want %q", got, want)
	}
	c.Advance(-3)
	c.Advance(1 << 20)
	if len(c.Outgoing()) != 0 {
		t.Fatalf("Outgoing() after Advance(all) = %q", c.Outgoing())
	}
}

func TestConfigDefaults(t *testing.T) {
	got := protocol.NewClient(protocol.Config{LMTP: true}).Config()
	want := protocol.Config{LMTP: true, MaxLineLength: 8192, MaxReplyLines: 1000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// challengeEv is ev with its decoded SASL challenge.
func challengeEv(ev protocol.Event, decoded string) protocol.Event {
	ev.Challenge = []byte(decoded)
	return ev
}
