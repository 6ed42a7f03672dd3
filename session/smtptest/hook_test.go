package smtptest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/session/smtptest"
	"github.com/postwire/postwire/transport"
)

// onVerb returns a hook answering a at the first event matching kind and
// verb ("" matches any verb), and the zero Action otherwise.
func onVerb(kind smtptest.HookKind, verb string, a smtptest.Action) func(smtptest.HookEvent) smtptest.Action {
	return func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Kind == kind && (verb == "" || ev.Verb == verb) {
			return a
		}
		return smtptest.Action{}
	}
}

func TestHook(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	tests := []struct {
		name string
		hook func(smtptest.HookEvent) smtptest.Action
		// script is written after the greeting and EHLO; want is everything
		// the server sends after that, until it closes or QUIT is answered.
		script string
		want   string
		msgs   int
	}{
		{"canned refusal, command not executed",
			onVerb(smtptest.HookCommand, "MAIL", smtptest.Action{Raw: "451 4.3.0 try later\r\n"}),
			"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nQUIT\r\n",
			"451 4.3.0 try later\r\n503 5.5.1 need MAIL before RCPT\r\n221 2.0.0 smtptest.local closing connection\r\n", 0},
		{"malformed reply",
			onVerb(smtptest.HookCommand, "NOOP", smtptest.Action{Raw: "25O garbage\r\n"}),
			"NOOP\r\nQUIT\r\n",
			"25O garbage\r\n221 2.0.0 smtptest.local closing connection\r\n", 0},
		{"disconnect after a command",
			onVerb(smtptest.HookCommand, "RCPT", smtptest.Action{Disconnect: true}),
			"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nNOOP\r\n",
			"250 2.1.0 sender OK\r\n", 0},
		{"421 mid-session",
			onVerb(smtptest.HookCommand, "MAIL", smtptest.Action{Raw: "421 4.3.2 shutting down\r\n", Disconnect: true}),
			"MAIL FROM:<a@x>\r\n",
			"421 4.3.2 shutting down\r\n", 0},
		{"delay",
			onVerb(smtptest.HookCommand, "NOOP", smtptest.Action{Delay: time.Millisecond}),
			"NOOP\r\nQUIT\r\n",
			"250 2.0.0 OK\r\n221 2.0.0 smtptest.local closing connection\r\n", 0},
		{"execute with another reply",
			onVerb(smtptest.HookCommand, "MAIL", smtptest.Action{Raw: "250 fine\r\n", Execute: true}),
			"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nQUIT\r\n",
			"250 fine\r\n250 2.1.5 recipient OK\r\n221 2.0.0 smtptest.local closing connection\r\n", 0},
		{"bytes after a reply",
			onVerb(smtptest.HookCommand, "NOOP", smtptest.Action{After: "250 unsolicited\r\n"}),
			"NOOP\r\nQUIT\r\n",
			"250 2.0.0 OK\r\n250 unsolicited\r\n221 2.0.0 smtptest.local closing connection\r\n", 0},
		{"no final reply after data",
			onVerb(smtptest.HookDataEnd, "", smtptest.Action{Disconnect: true}),
			"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nbody\r\n.\r\n",
			"250 2.1.0 sender OK\r\n250 2.1.5 recipient OK\r\n354 end data with <CR><LF>.<CR><LF>\r\n", 0},
		{"final reply replaced, message recorded",
			onVerb(smtptest.HookDataEnd, "", smtptest.Action{Raw: "250 X\r\n", Execute: true}),
			"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 2 LAST\r\nhiQUIT\r\n",
			"250 2.1.0 sender OK\r\n250 2.1.5 recipient OK\r\n250 X\r\n221 2.0.0 smtptest.local closing connection\r\n", 1},
		{"final reply replaced, message dropped",
			onVerb(smtptest.HookDataEnd, "", smtptest.Action{Raw: "554 no\r\n"}),
			"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nbody\r\n.\r\nRCPT TO:<c@x>\r\nQUIT\r\n",
			"250 2.1.0 sender OK\r\n250 2.1.5 recipient OK\r\n354 end data with <CR><LF>.<CR><LF>\r\n554 no\r\n" +
				"503 5.5.1 need MAIL before RCPT\r\n221 2.0.0 smtptest.local closing connection\r\n", 0},
		{"BDAT chunk consumed before the hook",
			onVerb(smtptest.HookCommand, "BDAT", smtptest.Action{Raw: "451 later\r\n"}),
			"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 6\r\nNOOP\r\nQUIT\r\n",
			"250 2.1.0 sender OK\r\n250 2.1.5 recipient OK\r\n451 later\r\n221 2.0.0 smtptest.local closing connection\r\n", 0},
		{"AUTH response replaced ends the exchange",
			onVerb(smtptest.HookAuthResponse, "", smtptest.Action{Raw: "454 4.7.0 temporary failure\r\n"}),
			"AUTH LOGIN\r\nxxxx\r\nNOOP\r\nQUIT\r\n",
			"334 VXNlcm5hbWU6\r\n454 4.7.0 temporary failure\r\n250 2.0.0 OK\r\n221 2.0.0 smtptest.local closing connection\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, smtptest.Config{Hook: tt.hook, Users: map[string]string{"u": "p"}})
			c := newClient(t, s.Pipe())
			c.reply()
			c.cmd("EHLO c")
			// The script may outlive the conversation (a hook disconnects, QUIT
			// closes): a write error here is not a failure, the replies are.
			io.WriteString(c.conn, tt.script)
			got, err := io.ReadAll(c.r)
			if err != nil {
				t.Fatalf("ReadAll: %v after %q", err, got)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if n := len(s.Messages()); n != tt.msgs {
				t.Errorf("%d messages, want %d", n, tt.msgs)
			}
		})
	}
}

func TestHookEvents(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	var mu sync.Mutex
	var events []string
	s := startServer(t, smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
		mu.Lock()
		defer mu.Unlock()
		e := ev.Kind.String() + " " + ev.Verb + " " + ev.Line
		if ev.Message != nil {
			e += " msg=" + string(ev.Message.Data)
		}
		if ev.Conn.InTransaction {
			e += " tx"
		}
		events = append(events, e)
		return smtptest.Action{}
	}})
	c := newClient(t, s.Pipe())
	c.reply()
	c.write("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
	for range 4 {
		c.reply()
	}
	c.cmd("x\r\n.")
	io.WriteString(c.conn, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 1 LAST\r\nyQUIT\r\n") // may race with the close after QUIT
	io.ReadAll(c.r)
	waitConns(t, s, 1)
	want := []string{
		"greeting  ",
		"command EHLO EHLO c",
		"command MAIL MAIL FROM:<a@x>",
		"command RCPT RCPT TO:<b@x> tx",
		"command DATA DATA tx",
		"data-end  . msg=x\r\n tx",
		"command MAIL MAIL FROM:<a@x>",
		"command RCPT RCPT TO:<b@x> tx",
		"command BDAT BDAT 1 LAST tx",
		"data-end  BDAT 1 LAST msg=y tx",
		"command QUIT QUIT",
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestHookGreeting(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := startServer(t, smtptest.Config{Hook: onVerb(smtptest.HookGreeting, "", smtptest.Action{Raw: "421 busy\r\n", Disconnect: true})})
	c := newClient(t, s.Pipe())
	if got, _ := io.ReadAll(c.r); string(got) != "421 busy\r\n" {
		t.Errorf("got %q", got)
	}
}

// endless is an io.Reader of "250-more\r\n" lines that never ends.
type endless struct{ off int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "250-more\r\n"[(e.off+i)%10]
	}
	e.off += len(p)
	return len(p), nil
}

func TestHookEndlessReply(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := startServer(t, smtptest.Config{Hook: onVerb(smtptest.HookCommand, "EHLO", smtptest.Action{RawReader: &endless{}})})
	c := newClient(t, s.Pipe())
	c.reply()
	c.write("EHLO c\r\n")
	buf := make([]byte, 1<<20)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		t.Fatalf("ReadFull: %v", err)
	}
	if !strings.HasPrefix(string(buf), "250-more\r\n250-more\r\n") {
		t.Errorf("got %q...", buf[:40])
	}
	c.conn.Close()
	waitConns(t, s, 1) // the copy stops when the client goes away
}

func TestClose(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := smtptest.NewServer(smtptest.Config{Hook: onVerb(smtptest.HookCommand, "NOOP", smtptest.Action{Delay: time.Hour})})
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idle := dial(t, s, "pipe")
	idle.reply()
	slow := dial(t, s, "pipe")
	slow.reply()
	slow.write("NOOP\r\n") // sleeps an hour unless Close cuts it short

	client, server := transport.Pipe()
	defer client.Close()
	direct := make(chan error, 1)
	go func() { direct <- s.ServeConn(server) }()
	newClient(t, client).reply()

	s.Close()
	if err := <-direct; !errors.Is(err, smtptest.ErrServerClosed) {
		t.Errorf("ServeConn = %v, want ErrServerClosed", err)
	}
	for _, r := range s.Conns() {
		if !r.Done || !errors.Is(r.Err, smtptest.ErrServerClosed) {
			t.Errorf("conn %d: Done %v Err %v", r.ID, r.Done, r.Err)
		}
	}
	if _, err := s.Listen("tcp", "127.0.0.1:0"); !errors.Is(err, smtptest.ErrServerClosed) {
		t.Errorf("Listen after Close = %v", err)
	}
	if err := s.ServeConn(server); !errors.Is(err, smtptest.ErrServerClosed) {
		t.Errorf("ServeConn after Close = %v", err)
	}
	if _, err := io.ReadAll(s.Pipe()); err != nil {
		t.Errorf("Pipe after Close: %v, want EOF", err)
	}
	if conn, err := net.Dial("tcp", addr.String()); err == nil {
		conn.Close()
		t.Errorf("listener still accepting after Close")
	}
	s.Close() // idempotent
}

func TestServeConnQuit(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := startServer(t, smtptest.Config{})
	client, server := transport.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.ServeConn(server) }()
	c := newClient(t, client)
	c.reply()
	c.cmd("QUIT")
	if err := <-done; err != nil {
		t.Errorf("ServeConn after QUIT = %v", err)
	}
	// A client that just goes away is a clean end too.
	c2 := newClient(t, s.Pipe())
	c2.reply()
	c2.conn.Close()
	waitConns(t, s, 2)
	if r := s.Conns()[1]; r.Err != nil {
		t.Errorf("second conn ended with %v", r.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.WaitConns(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitConns(cancelled) = %v", err)
	}
}
