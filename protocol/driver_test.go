package protocol_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session/smtptest"
	"github.com/postwire/postwire/transport"
)

// This file is the proof that protocol.Client is enough for a program that
// brings its own I/O: it drives real conversations with smtptest over a
// net.Conn using only the exported API of protocol, auth, transport and
// codec. The session package is this loop plus deadlines, the context and
// results.

// driver joins a protocol.Client to a net.Conn.
type driver struct {
	conn   net.Conn
	pc     *protocol.Client
	buf    []byte
	writes int // conn.Write calls: a pipelined group takes one
	log    []heard
}

// heard is what the tests compare of every event: which command it
// answers, how, and whether that command is now fully answered.
type heard struct {
	Handle     protocol.Handle
	Kind       protocol.EventKind
	Verb       string // Cmd.Verb
	Last       bool   // Cmd.Last(): a BDAT LAST
	Code       int
	Done       bool
	Rcpt       string          // LMTP: the recipient of an end-of-data reply
	RcptHandle protocol.Handle // and the RCPT that accepted it
}

func newDriver(t *testing.T, conn net.Conn, cfg protocol.Config) *driver {
	t.Helper()
	// A guard against a hang (a failure would otherwise wait for go
	// test's own time-out), not a timing assertion.
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &driver{conn: conn, pc: protocol.NewClient(cfg), buf: make([]byte, 4096)}
}

// drive is the loop: write what is queued and Advance; take every event
// NextEvent has ready, until ErrNeedData; stop once one of them satisfies
// until; otherwise read, Receive (ReceiveEOF at the end of the stream) and
// go round again. It returns the events taken, and the first error of the
// connection or of the core (a *protocol.PeerError is sticky).
func (d *driver) drive(until func(protocol.Event) bool) ([]protocol.Event, error) {
	var evs []protocol.Event
	for {
		if out := d.pc.Outgoing(); len(out) > 0 {
			n, err := d.conn.Write(out)
			d.writes++
			d.pc.Advance(n) // before reading: only written commands can be answered
			if err != nil {
				return evs, err
			}
		}
		done := false
		for {
			ev, err := d.pc.NextEvent()
			if errors.Is(err, protocol.ErrNeedData) {
				break
			}
			if err != nil {
				return evs, err
			}
			evs = append(evs, ev)
			d.log = append(d.log, heard{ev.Handle, ev.Kind, ev.Cmd.Verb.String(), ev.Cmd.Last(),
				ev.Reply.Code, ev.Done, ev.Rcpt, ev.RcptHandle})
			done = done || until(ev)
			if ev.Kind == protocol.EventClosed {
				return evs, nil
			}
		}
		if done {
			return evs, nil
		}
		n, rerr := d.conn.Read(d.buf)
		if err := d.pc.Receive(d.buf[:n]); err != nil {
			return evs, err
		}
		if errors.Is(rerr, io.EOF) {
			d.pc.ReceiveEOF()
		} else if rerr != nil {
			return evs, rerr
		}
	}
}

// answered is drive's condition for "command h is fully answered".
func answered(h protocol.Handle) func(protocol.Event) bool {
	return func(ev protocol.Event) bool { return ev.Handle == h && ev.Done }
}

func isKind(k protocol.EventKind) func(protocol.Event) bool {
	return func(ev protocol.Event) bool { return ev.Kind == k }
}

// roundTrip sends one command and drives until it is fully answered,
// returning its last event.
func (d *driver) roundTrip(t *testing.T, cmd protocol.Command) protocol.Event {
	t.Helper()
	h, err := d.pc.Send(cmd)
	if err != nil {
		t.Fatalf("Send(%v): %v", cmd, err)
	}
	return d.await(t, h)
}

// await drives until h is fully answered and returns its last event.
func (d *driver) await(t *testing.T, h protocol.Handle) protocol.Event {
	t.Helper()
	evs, err := d.drive(answered(h))
	if err != nil {
		t.Fatalf("waiting for the reply to %d: %v", h, err)
	}
	return evs[len(evs)-1]
}

// startTLS runs STARTTLS, the handshake over the same conn, and TLSDone,
// which is where the core refuses bytes the server sent after its 220.
func (d *driver) startTLS(t *testing.T, cfg *tls.Config) *tls.Conn {
	t.Helper()
	if ev := d.roundTrip(t, protocol.StartTLS()); ev.Kind != protocol.EventStartTLS {
		t.Fatalf("STARTTLS: %v", ev.Reply)
	}
	tc := tls.Client(d.conn, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	if err := d.pc.TLSDone(); err != nil {
		t.Fatalf("TLSDone: %v", err)
	}
	d.conn = tc
	return tc
}

// authenticate runs one SASL exchange: the core encodes the responses and
// decodes the 334 challenges, auth computes them.
func (d *driver) authenticate(t *testing.T, m auth.Mechanism, info auth.ServerInfo) {
	t.Helper()
	ex, ir, err := auth.Begin(m, info)
	if err != nil {
		t.Fatalf("auth.Begin: %v", err)
	}
	ev := d.roundTrip(t, protocol.Auth(m.Name(), ir))
	for ev.Reply.Intermediate() {
		if ev.ChallengeErr != nil {
			t.Fatalf("challenge %q: %v", ev.Reply.Text(), ev.ChallengeErr)
		}
		resp, err := ex.Challenge(ev.Challenge)
		if err != nil {
			t.Fatalf("challenge %q: %v", ev.Challenge, err)
		}
		ev = d.roundTrip(t, protocol.AuthResponse(resp))
	}
	if ev.Reply.Code != 235 {
		t.Fatalf("AUTH: %v", ev.Reply)
	}
	if err := ex.Done(); err != nil {
		t.Fatalf("the server did not prove it knows the password: %v", err)
	}
}

// quit sends QUIT and drives until the server has closed the connection.
func (d *driver) quit(t *testing.T) {
	t.Helper()
	if _, err := d.pc.Send(protocol.Quit()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.drive(isKind(protocol.EventClosed)); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
}

func mustSendCmd(t *testing.T, pc *protocol.Client, cmd protocol.Command) protocol.Handle {
	t.Helper()
	h, err := pc.Send(cmd)
	if err != nil {
		t.Fatalf("Send(%v): %v", cmd, err)
	}
	return h
}

// driverBody has bare LF, bare CR, a leading dot and no final line ending:
// everything the client must normalise, for DATA and BDAT alike.
const driverBody = "Subject: proof\n\n.leading dot\r\nbare CR\rlast line"

// TestDriveSMTP: greeting, EHLO, STARTTLS, EHLO again, AUTH SCRAM-SHA-256,
// then MAIL, two RCPTs (one refused) and BDAT LAST in one write, and QUIT,
// over loopback TCP.
func TestDriveSMTP(t *testing.T) {
	serverTLS, clientTLS, err := smtptest.TLSConfigs("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtptest.NewServer(smtptest.Config{
		TLS:            serverTLS,
		Users:          map[string]string{"alice": "s3cret"},
		AuthMechanisms: []string{"SCRAM-SHA-256"},
		RcptFunc: func(addr string) smtptest.Reply {
			if addr == "nobody@example.org" {
				return smtptest.Reply{Code: 550, Text: "no such user"}
			}
			return smtptest.Reply{}
		},
	})
	t.Cleanup(func() { srv.Close() })
	addr, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, conn, protocol.Config{})

	if _, err := d.drive(isKind(protocol.EventGreeting)); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	d.roundTrip(t, protocol.Ehlo("client.example"))
	tc := d.startTLS(t, clientTLS)
	d.roundTrip(t, protocol.Ehlo("client.example"))
	d.authenticate(t, auth.SCRAMSHA256("alice", "s3cret"), auth.ServerInfo{
		TLS:         true,
		Loopback:    true,
		Mechanisms:  d.pc.Extensions().Auth(),
		TLSExporter: transport.TLSExporter(tc),
	})

	// BDAT is not dot-stuffed and its line endings are not touched by the
	// core: normalise them, so the server gets what DATA would give it.
	var crlf codec.CRLFState
	chunk := crlf.AppendEnd(crlf.Append(nil, []byte(driverBody)))
	writes := d.writes
	mustSendCmd(t, d.pc, protocol.Mail("alice@example.com"))
	bob := mustSendCmd(t, d.pc, protocol.Rcpt("bob@example.org"))
	mustSendCmd(t, d.pc, protocol.Rcpt("nobody@example.org"))
	last, err := d.pc.SendChunk(chunk, true)
	if err != nil {
		t.Fatalf("SendChunk: %v", err)
	}
	if ev := d.await(t, last); ev.Reply.Code != 250 || !ev.Cmd.Last() {
		t.Errorf("BDAT LAST: %v %v", ev.Cmd, ev.Reply)
	}
	if got := d.writes - writes; got != 1 {
		t.Errorf("the pipelined group took %d writes, want 1", got)
	}
	d.quit(t)

	want := []heard{
		{Kind: protocol.EventGreeting, Verb: "NONE", Code: 220, Done: true},
		{Handle: 1, Kind: protocol.EventReply, Verb: "EHLO", Code: 250, Done: true},
		{Handle: 2, Kind: protocol.EventStartTLS, Verb: "STARTTLS", Code: 220, Done: true},
		{Handle: 3, Kind: protocol.EventReply, Verb: "EHLO", Code: 250, Done: true},
		{Handle: 4, Kind: protocol.EventReply, Verb: "AUTH", Code: 334, Done: true},          // server-first
		{Handle: 5, Kind: protocol.EventReply, Verb: "AUTH-RESPONSE", Code: 334, Done: true}, // server-final
		{Handle: 6, Kind: protocol.EventReply, Verb: "AUTH-RESPONSE", Code: 235, Done: true},
		{Handle: 7, Kind: protocol.EventReply, Verb: "MAIL", Code: 250, Done: true},
		{Handle: bob, Kind: protocol.EventReply, Verb: "RCPT", Code: 250, Done: true},
		{Handle: 9, Kind: protocol.EventReply, Verb: "RCPT", Code: 550, Done: true},
		{Handle: last, Kind: protocol.EventReply, Verb: "BDAT", Last: true, Code: 250, Done: true},
		{Handle: 11, Kind: protocol.EventReply, Verb: "QUIT", Code: 221, Done: true},
		{Kind: protocol.EventClosed, Verb: "NONE", Done: false},
	}
	if diff := cmp.Diff(want, d.log); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	wantMsgs := []smtptest.Message{{
		ConnID: 1, Helo: "client.example", TLS: true, AuthUser: "alice",
		From: "alice@example.com", To: []string{"bob@example.org"}, RcptParams: [][]string{nil},
		Data: codec.NormalizeLineEndings([]byte(driverBody)), Size: int64(len(chunk)), Chunked: true,
	}}
	if diff := cmp.Diff(wantMsgs, srv.Messages(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

// TestDriveLMTP: LHLO, then MAIL, three RCPTs (one refused) and DATA in one
// write, the body, and one reply per accepted recipient (one of them a
// refusal at delivery), over transport.Pipe.
func TestDriveLMTP(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Config{
		LMTP: true,
		RcptFunc: func(addr string) smtptest.Reply {
			if addr == "nobody@example.org" {
				return smtptest.Reply{Code: 550, Text: "no such user"}
			}
			return smtptest.Reply{}
		},
		LMTPFunc: func(rcpt string, _ *smtptest.Message) smtptest.Reply {
			if rcpt == "carol@example.org" {
				return smtptest.Reply{Code: 452, Text: "over quota"}
			}
			return smtptest.Reply{}
		},
	})
	t.Cleanup(func() { srv.Close() })
	d := newDriver(t, srv.Pipe(), protocol.Config{LMTP: true})

	if _, err := d.drive(isKind(protocol.EventGreeting)); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	d.roundTrip(t, protocol.Lhlo("client.example"))
	writes := d.writes
	mustSendCmd(t, d.pc, protocol.Mail("alice@example.com"))
	bob := mustSendCmd(t, d.pc, protocol.Rcpt("bob@example.org"))
	mustSendCmd(t, d.pc, protocol.Rcpt("nobody@example.org"))
	carol := mustSendCmd(t, d.pc, protocol.Rcpt("carol@example.org"))
	if ev := d.roundTrip(t, protocol.Data()); ev.Reply.Code != 354 {
		t.Fatalf("DATA: %v", ev.Reply)
	}
	if got := d.writes - writes; got != 1 {
		t.Errorf("the pipelined group took %d writes, want 1", got)
	}
	if err := d.pc.SendBody([]byte(driverBody)); err != nil {
		t.Fatal(err)
	}
	end, err := d.pc.EndBody()
	if err != nil {
		t.Fatal(err)
	}
	d.await(t, end)
	d.quit(t)

	want := []heard{
		{Kind: protocol.EventGreeting, Verb: "NONE", Code: 220, Done: true},
		{Handle: 1, Kind: protocol.EventReply, Verb: "LHLO", Code: 250, Done: true},
		{Handle: 2, Kind: protocol.EventReply, Verb: "MAIL", Code: 250, Done: true},
		{Handle: bob, Kind: protocol.EventReply, Verb: "RCPT", Code: 250, Done: true},
		{Handle: 4, Kind: protocol.EventReply, Verb: "RCPT", Code: 550, Done: true},
		{Handle: carol, Kind: protocol.EventReply, Verb: "RCPT", Code: 250, Done: true},
		{Handle: 6, Kind: protocol.EventReply, Verb: "DATA", Code: 354, Done: true},
		{Handle: end, Kind: protocol.EventReply, Verb: "END-OF-DATA", Code: 250, Rcpt: "bob@example.org", RcptHandle: bob},
		{Handle: end, Kind: protocol.EventReply, Verb: "END-OF-DATA", Code: 452, Done: true, Rcpt: "carol@example.org", RcptHandle: carol},
		{Handle: 8, Kind: protocol.EventReply, Verb: "QUIT", Code: 221, Done: true},
		{Kind: protocol.EventClosed, Verb: "NONE"},
	}
	if diff := cmp.Diff(want, d.log); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	data := codec.NormalizeLineEndings([]byte(driverBody))
	wantMsgs := []smtptest.Message{{
		ConnID: 1, Helo: "client.example", From: "alice@example.com",
		To: []string{"bob@example.org", "carol@example.org"}, RcptParams: [][]string{nil, nil},
		Data: data, Size: int64(len(data)),
	}}
	if diff := cmp.Diff(wantMsgs, srv.Messages(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}
