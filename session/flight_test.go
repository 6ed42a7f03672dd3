package session_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/session"
)

// flightServer is a scripted ESMTP server (PIPELINING, CHUNKING) on
// 127.0.0.1 written from RFC 5321 and 3030 alone: it reads each command
// (and each BDAT chunk) in full before it answers, answers from reply,
// and can cut the connection after writing cutOut bytes of replies or
// after reading cutIn bytes of the client's. It records the sender of
// every message whose BDAT LAST it read and answered with 250.
type flightServer struct {
	ln     net.Listener
	reply  func(verb string, n int) string // n counts that verb from 1; "" means the default
	cutOut int                             // < 0: never
	cutIn  int

	mu     sync.Mutex
	stored []string
	done   chan struct{}
}

func newFlightServer(t *testing.T, reply func(string, int) string, cutOut, cutIn int) *flightServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &flightServer{ln: ln, reply: reply, cutOut: cutOut, cutIn: cutIn, done: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() { ln.Close(); <-s.done })
	return s
}

// cutConn closes the connection at the byte limits.
type cutConn struct {
	net.Conn
	out, in int // bytes left before the cut; < 0: never
}

func (c *cutConn) Write(p []byte) (int, error) {
	if c.out >= 0 && len(p) >= c.out {
		n, err := c.Conn.Write(p[:c.out])
		c.Conn.Close()
		if n == len(p) && err == nil {
			c.out = 0
			return n, nil // all of it went: the cut comes after
		}
		c.out = 0
		return n, net.ErrClosed
	}
	if c.out >= 0 {
		c.out -= len(p)
	}
	return c.Conn.Write(p)
}

func (c *cutConn) Read(p []byte) (int, error) {
	if c.in == 0 {
		c.Conn.Close()
		return 0, net.ErrClosed
	}
	if c.in > 0 && len(p) > c.in {
		p = p[:c.in]
	}
	n, err := c.Conn.Read(p)
	if c.in > 0 {
		c.in -= n
	}
	return n, err
}

func (s *flightServer) serve() {
	defer close(s.done)
	raw, err := s.ln.Accept()
	if err != nil {
		return
	}
	conn := &cutConn{Conn: raw, out: s.cutOut, in: s.cutIn}
	defer conn.Close()
	r := bufio.NewReader(conn)
	count := map[string]int{}
	answer := func(verb, def string) error {
		count[verb]++
		rep := def
		if s.reply != nil {
			if x := s.reply(verb, count[verb]); x != "" {
				rep = x
			}
		}
		_, err := io.WriteString(conn, rep)
		return err
	}
	if answer("GREETING", "220 flight.test ESMTP\r\n") != nil {
		return
	}
	var from string
	mailOK, rcpts, failed := false, 0, false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		var werr error
		switch strings.ToUpper(verb) {
		case "EHLO":
			werr = answer("EHLO", "250-flight.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
		case "MAIL":
			from, rcpts, failed = arg, 0, false
			werr = answer("MAIL", "250 2.1.0 ok\r\n")
			mailOK = count["MAIL"] > 0 && s.lastCode("MAIL", count["MAIL"]) == 2
		case "RCPT":
			werr = answer("RCPT", "250 2.1.5 ok\r\n")
			if mailOK && s.lastCode("RCPT", count["RCPT"]) == 2 {
				rcpts++
			}
		case "BDAT":
			size, rest, _ := strings.Cut(arg, " ")
			n, _ := strconv.Atoi(size)
			if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
				return
			}
			last := strings.EqualFold(rest, "LAST")
			def := "250 2.0.0 chunk ok\r\n"
			switch {
			case !mailOK || rcpts == 0:
				def, failed = "554 5.5.1 no valid recipients\r\n", true
			case last && !failed:
				def = "250 2.0.0 queued\r\n"
			case failed:
				def = "503 5.5.1 transaction failed\r\n"
			}
			if s.replyFor("BDAT", count["BDAT"]+1, def)[0] != '2' {
				failed = true
			}
			if last && !failed {
				// A server takes the message, then says so: a reply cut
				// short leaves it stored and the client not knowing.
				s.mu.Lock()
				s.stored = append(s.stored, from)
				s.mu.Unlock()
			}
			werr = answer("BDAT", def)
			if last {
				mailOK, failed = false, false
			}
		case "RSET":
			mailOK, failed = false, false
			werr = answer("RSET", "250 2.0.0 reset\r\n")
		case "QUIT":
			answer("QUIT", "221 2.0.0 bye\r\n")
			return
		default:
			werr = answer(verb, "250 2.0.0 ok\r\n")
		}
		if werr != nil {
			return
		}
	}
}

// replyFor is the reply the n-th verb gets: the script's, or def.
func (s *flightServer) replyFor(verb string, n int, def string) string {
	if s.reply != nil {
		if x := s.reply(verb, n); x != "" {
			return x
		}
	}
	return def
}

// lastCode is the class of the reply the script gives the n-th verb.
func (s *flightServer) lastCode(verb string, n int) int {
	if s.reply != nil {
		if x := s.reply(verb, n); x != "" {
			return int(x[0] - '0')
		}
	}
	return 2
}

func (s *flightServer) storedSenders() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.stored...)
}

func flightClient(t *testing.T, s *flightServer, o *session.Options) (*session.Client, error) {
	t.Helper()
	conn, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if o == nil {
		o = opts()
	}
	return session.NewClient(ctxTimeout(t), conn, "flight.test", o)
}

// The whole message in one flight (MAIL, RCPTs, BDAT LAST before any
// reply), and every refusal pattern inside it: the result is exactly what
// the server said.
func TestOptimisticFlightRefusals(t *testing.T) {
	const body = "Subject: flight\r\n\r\nhello\r\n"
	type view struct {
		Err       string
		Delivered []bool
		Stored    int
	}
	classify := func(err error) string {
		var sr *session.SenderRefusedError
		var rr *session.RecipientsRefusedError
		var de *session.DataError
		switch {
		case err == nil:
			return ""
		case errors.As(err, &sr):
			return fmt.Sprintf("sender %d", sr.Reply.Code)
		case errors.As(err, &rr):
			return "recipients"
		case errors.Is(err, session.ErrDeliveryUnknown):
			return "unknown"
		case errors.As(err, &de):
			return fmt.Sprintf("data %d", de.Reply.Code)
		case errors.Is(err, session.ErrServerDisconnected):
			return "disconnected"
		}
		return err.Error()
	}
	tests := []struct {
		name      string
		reply     func(verb string, n int) string
		chunkSize int
		want      view
	}{
		{"accepted", nil, 0, view{"", []bool{true, true}, 1}},
		{"MAIL refused", func(v string, n int) string {
			return map[string]string{"MAIL": "550 5.7.1 no\r\n", "RCPT": "503 5.5.1 need MAIL\r\n"}[v]
		}, 0, view{"sender 550", []bool{false, false}, 0}},
		{"one recipient refused", func(v string, n int) string {
			if v == "RCPT" && n == 2 {
				return "550 5.1.1 no such user\r\n"
			}
			return ""
		}, 0, view{"", []bool{true, false}, 1}},
		{"every recipient refused", func(v string, n int) string {
			if v == "RCPT" {
				return "550 5.1.1 no such user\r\n"
			}
			return ""
		}, 0, view{"recipients", []bool{false, false}, 0}},
		{"421 to MAIL", func(v string, n int) string {
			if v == "MAIL" {
				return "421 4.3.2 shutting down\r\n"
			}
			return ""
		}, 0, view{"sender 421", []bool{false, false}, 0}},
		{"421 to RCPT", func(v string, n int) string {
			if v == "RCPT" {
				return "421 4.3.2 shutting down\r\n"
			}
			return ""
		}, 0, view{"disconnected", []bool{false, false}, 0}},
		{"421 to BDAT LAST", func(v string, n int) string {
			if v == "BDAT" {
				return "421 4.3.2 shutting down\r\n"
			}
			return ""
		}, 0, view{"data 421", []bool{false, false}, 0}},
		{"middle chunk refused", func(v string, n int) string {
			if v == "BDAT" && n == 2 {
				return "552 5.3.4 chunk too big\r\n"
			}
			return ""
		}, 8, view{"data 552", []bool{false, false}, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFlightServer(t, tt.reply, -1, -1)
			o := opts()
			o.ChunkSize = tt.chunkSize
			c, err := flightClient(t, s, o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res, err := c.SendMail(ctxTimeout(t), "a@x.test", []string{"b@y.test", "c@y.test"}, strings.NewReader(body), nil)
			c.Close()
			<-s.done // the server has handled everything the client wrote
			got := view{Err: classify(err), Stored: len(s.storedSenders())}
			if res != nil {
				for _, r := range res.Recipients {
					got.Delivered = append(got.Delivered, r.Err == nil)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}
}

// A 3-message SendBatch window with CHUNKING, the connection cut at every
// byte of the server's replies and at every byte of the client's
// commands: each message is delivered only if the server stored it and its
// final reply arrived; a message the server stored is never reported as
// a known failure; a message whose end of data was not written is never
// "unknown".
func TestBatchWindowCutAtEveryByte(t *testing.T) {
	msgs := func() []session.Envelope {
		var envs []session.Envelope
		for i := range 3 {
			envs = append(envs, session.Envelope{
				From: fmt.Sprintf("m%d@x.test", i), To: []string{"b@y.test"},
				Body: strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i)),
			})
		}
		return envs
	}
	// The full length of each stream, from an uncut run.
	full := newFlightServer(t, nil, -1, -1)
	c, err := flightClient(t, full, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range c.SendBatch(ctxTimeout(t), msgs()) {
		if r.Err != nil {
			t.Fatalf("uncut run: message %d: %v", i, r.Err)
		}
	}
	c.Close()
	const outLen = 2000 // more than either stream; the loop stops once nothing is cut
	for _, dir := range []string{"replies", "commands"} {
		for k := 0; k < outLen; k++ {
			cutOut, cutIn := k, -1
			if dir == "commands" {
				cutOut, cutIn = -1, k
			}
			s := newFlightServer(t, nil, cutOut, cutIn)
			c, err := flightClient(t, s, nil)
			if err != nil {
				continue // cut before the conversation began
			}
			res := c.SendBatch(ctxTimeout(t), msgs())
			c.Close()
			<-s.done
			stored := map[string]bool{}
			for _, f := range s.storedSenders() {
				stored[strings.Trim(strings.TrimPrefix(f, "FROM:"), "<>")] = true
			}
			allOK := true
			for i, r := range res {
				from := fmt.Sprintf("m%d@x.test", i)
				switch {
				case r.Err == nil && !stored[from]:
					t.Fatalf("%s cut at %d: message %d reported delivered, not stored", dir, k, i)
				case r.Err != nil && stored[from] && !errors.Is(r.Err, session.ErrDeliveryUnknown):
					t.Fatalf("%s cut at %d: message %d stored, reported %v", dir, k, i, r.Err)
				}
				allOK = allOK && r.Err == nil
			}
			if allOK { // the cut came after everything: longer cuts change nothing
				break
			}
		}
	}
}
