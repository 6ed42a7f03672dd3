package session_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/postwire/postwire/codec"
	"github.com/postwire/postwire/session"
)

// adversary is a scripted SMTP/LMTP server on 127.0.0.1 that keeps a real
// transaction state (RFC 5321 §3.3, RFC 3030, RFC 2033) and shares nothing
// with the client or smtptest. Its quirks are switches: keepAfterLast
// leaves the transaction open after it refused a BDAT LAST (as it does,
// like some servers, after a BDAT with no valid recipient), so that a MAIL
// that follows gets 503 and the RCPTs and BDATs after it extend the old
// transaction. answer overrides the reply to the n-th (from 1) verb of the
// connection: "MAIL", "RCPT", "DATA", "BDAT" (a chunk that is not the
// last), "END" (the end of data or BDAT LAST; in LMTP each per-recipient
// reply counts), "RSET"; a reply ending in "\x00" closes the connection
// after it is written (the NUL is not sent).
type adversary struct {
	ln            net.Listener
	ext           []string
	lmtp          bool
	keepAfterLast bool
	answer        func(verb string, n int) string
	cutOut, cutIn int // cut the connection after so many bytes out, in (< 0: never; see cutConn)

	mu     sync.Mutex
	stored []advMsg
	lines  []string
	done   chan struct{}
}

// advMsg is one message the server took responsibility for.
type advMsg struct {
	From string
	To   []string
	Body string
}

func newAdversary(t *testing.T, ext []string, lmtp, keepAfterLast bool, answer func(string, int) string) *adversary {
	t.Helper()
	s, err := startAdversary(&adversary{ext: ext, lmtp: lmtp, keepAfterLast: keepAfterLast, answer: answer, cutOut: -1, cutIn: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ln.Close(); <-s.done })
	return s
}

// startAdversary starts s (its switches set) on a new listener.
func startAdversary(s *adversary) (*adversary, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.ln, s.done = ln, make(chan struct{})
	go s.serve()
	return s, nil
}

func (s *adversary) client(t *testing.T, o *session.Options) *session.Client {
	t.Helper()
	conn, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if o == nil {
		o = opts()
	}
	o.LMTP = s.lmtp
	c, err := session.NewClient(ctxTimeout(t), conn, "adv.test", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wait returns what the server stored, once it has handled everything
// the client wrote (the client must have closed).
func (s *adversary) wait() []advMsg {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]advMsg(nil), s.stored...)
}

func (s *adversary) serve() {
	defer close(s.done)
	raw, err := s.ln.Accept()
	if err != nil {
		return
	}
	conn := &cutConn{Conn: raw, out: s.cutOut, in: s.cutIn}
	defer conn.Close()
	r := bufio.NewReader(conn)
	count := map[string]int{}
	// say writes the reply to verb (def unless the script overrides it)
	// and reports whether the conversation goes on.
	say := func(verb, def string) (string, bool) {
		count[verb]++
		rep := def
		if s.answer != nil {
			if x := s.answer(verb, count[verb]); x != "" {
				rep = x
			}
		}
		// RFC 5321 §3.8: a 421 closes. (A server that goes on after a
		// 421 to a pipelined RCPT, and stores the BDAT LAST behind it,
		// is reported failed: the client believed the 421.)
		closing := strings.HasSuffix(rep, "\x00") || strings.HasPrefix(rep, "421")
		rep = strings.TrimSuffix(rep, "\x00")
		_, err := io.WriteString(conn, rep)
		return rep, err == nil && !closing
	}
	io.WriteString(conn, "220 adv.test ESMTP\r\n")
	var (
		inTxn, failed bool
		from          string
		rcpts         []string
		body          strings.Builder
	)
	reset := func() { inTxn, failed, from, rcpts = false, false, "", nil; body.Reset() }
	// end answers the end of a message and stores it for the recipients
	// the server accepted it for.
	end := func() bool {
		n := 1
		if s.lmtp && !failed {
			n = max(len(rcpts), 1)
		}
		var to []string
		ok := true
		for i := range n {
			def := "250 2.0.0 queued\r\n"
			if len(rcpts) == 0 || failed {
				def = "554 5.5.1 no valid recipients\r\n"
			}
			// A server takes the message, then says so.
			rep := s.peek("END", count["END"]+1, def)
			if rep != "" && rep[0] == '2' && len(rcpts) > 0 && !failed {
				if s.lmtp {
					to = []string{rcpts[i]}
				} else {
					to = rcpts
				}
				s.mu.Lock()
				s.stored = append(s.stored, advMsg{from, to, body.String()})
				s.mu.Unlock()
			}
			var goOn bool
			if rep, goOn = say("END", def); !goOn {
				return false
			}
			ok = ok && rep != "" && rep[0] == '2'
		}
		if ok || !s.keepAfterLast {
			reset()
		} else {
			body.Reset() // the data is gone, the envelope stays
		}
		return true
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		s.mu.Lock()
		s.lines = append(s.lines, strings.TrimRight(line, "\r\n"))
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		goOn := true
		var rep string
		switch strings.ToUpper(verb) {
		case "EHLO", "LHLO":
			reply := "250-adv.test\r\n"
			for _, e := range s.ext {
				reply += "250-" + e + "\r\n"
			}
			_, goOn = say("EHLO", reply+"250 HELP\r\n")
		case "MAIL":
			if inTxn {
				_, goOn = say("MAIL", "503 5.5.1 nested MAIL command\r\n")
				break
			}
			if rep, goOn = say("MAIL", "250 2.1.0 ok\r\n"); rep[0] == '2' {
				inTxn, from = true, strings.TrimPrefix(arg, "FROM:")
			}
		case "RCPT":
			if !inTxn {
				_, goOn = say("RCPT", "503 5.5.1 need MAIL\r\n")
				break
			}
			to, _, _ := strings.Cut(strings.TrimPrefix(arg, "TO:"), " ")
			if rep, goOn = say("RCPT", "250 2.1.5 ok\r\n"); rep[0] == '2' {
				rcpts = append(rcpts, to)
			}
		case "DATA":
			if !inTxn || len(rcpts) == 0 {
				_, goOn = say("DATA", "503 5.5.1 no valid recipients\r\n")
				break
			}
			if rep, goOn = say("DATA", "354 go ahead\r\n"); rep[0] != '3' || !goOn {
				break
			}
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				body.WriteString(strings.TrimPrefix(l, "."))
			}
			goOn = end()
			reset() // the end of data ends the transaction, whatever the reply
		case "BDAT":
			size, rest, _ := strings.Cut(arg, " ")
			n, _ := strconv.Atoi(size)
			chunk := make([]byte, n)
			if _, err := io.ReadFull(r, chunk); err != nil {
				return
			}
			body.Write(chunk)
			if strings.EqualFold(rest, "LAST") {
				goOn = end()
				break
			}
			def := "250 2.0.0 chunk ok\r\n"
			if !inTxn || len(rcpts) == 0 {
				def = "554 5.5.1 no valid recipients\r\n"
			}
			if rep, goOn = say("BDAT", def); rep[0] != '2' {
				failed = inTxn
			}
		case "RSET":
			reset()
			_, goOn = say("RSET", "250 2.0.0 reset\r\n")
		case "QUIT":
			say("QUIT", "221 2.0.0 bye\r\n")
			return
		default:
			_, goOn = say(verb, "250 2.0.0 ok\r\n")
		}
		if !goOn {
			return
		}
	}
}

// peek is the reply the n-th verb will get, without counting it.
func (s *adversary) peek(verb string, n int, def string) string {
	if s.answer != nil {
		if x := s.answer(verb, n); x != "" {
			return strings.TrimSuffix(x, "\x00")
		}
	}
	return def
}

// checkHonest fails t when a result says more than the server did: a
// message delivered (Err nil) that the server did not store with exactly
// its body, or a known failure (anything but ErrDeliveryUnknown) for a
// message whose body the server stored.
func checkHonest(t *testing.T, bodies []string, res []session.BatchResult, stored []advMsg) {
	t.Helper()
	got := map[string]int{}
	for _, m := range stored {
		got[m.Body]++
	}
	for i, r := range res {
		switch {
		case r.Err == nil && got[bodies[i]] == 0:
			t.Errorf("message %d reported delivered, not stored", i)
		case r.Err != nil && got[bodies[i]] > 0 && !isUnknown(r.Err):
			t.Errorf("message %d stored by the server (%+v), reported %v", i, stored, r.Err)
		}
	}
}

func isUnknown(err error) bool { return errors.Is(err, session.ErrDeliveryUnknown) }

// body i of a test: distinct, and longer than limit when big.
func advBody(i int, big bool) string {
	b := fmt.Sprintf("Subject: %d\r\n\r\nmessage %d\r\n", i, i)
	if big {
		b += strings.Repeat("padding line\r\n", 10)
	}
	return b
}

func advBatch(bodies []string) []session.Envelope {
	var envs []session.Envelope
	for i, b := range bodies {
		envs = append(envs, session.Envelope{From: fmt.Sprintf("m%d@x.test", i), To: []string{"a@y.test", "b@y.test"}, Body: strings.NewReader(b)})
	}
	return envs
}

// A BDAT LAST refused by a server that keeps the transaction open (as the
// client already assumes servers may after a BDAT with no valid recipient):
// the next message's MAIL gets 503 "nested", its RCPTs and BDAT LAST extend
// the old transaction, and the server stores the next message's body. The
// client must not report that message refused. The first message is sent
// after its envelope replies (its body is above OptimisticLimit), the
// second in one flight; both in one window, and also as two SendMail calls.
func TestRefusedLastKeptTransaction(t *testing.T) {
	refuseFirst := func(v string, n int) string {
		if v == "END" && n == 1 {
			return "554 5.7.1 rejected as spam\r\n"
		}
		return ""
	}
	bodies := []string{advBody(0, true), advBody(1, false)}
	o := func() *session.Options { o := opts(); o.OptimisticLimit = 100; return o }
	for _, lmtp := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch/lmtp=%v", lmtp), func(t *testing.T) {
			s := newAdversary(t, []string{"PIPELINING", "CHUNKING"}, lmtp, true, refuseFirst)
			c := s.client(t, o())
			res := c.SendBatch(ctxTimeout(t), advBatch(bodies))
			c.Close()
			checkHonest(t, bodies, res, s.wait())
		})
		t.Run(fmt.Sprintf("SendMail/lmtp=%v", lmtp), func(t *testing.T) {
			s := newAdversary(t, []string{"PIPELINING", "CHUNKING"}, lmtp, true, refuseFirst)
			c := s.client(t, o())
			var res []session.BatchResult
			for _, e := range advBatch(bodies) {
				r, err := c.SendMail(ctxTimeout(t), e.From, e.To, e.Body, nil)
				res = append(res, session.BatchResult{Result: r, Err: err})
			}
			c.Close()
			checkHonest(t, bodies, res, s.wait())
		})
	}
}

// LMTP: the server answers the first recipient of the end of data with 421
// and closes before the second recipient's reply. The second recipient
// was never answered: an LMTP server delivers before it replies, so it
// may have the message; it must be reported unknown, not refused.
func TestLMTPClosingBeforeLastRecipient(t *testing.T) {
	for _, ext := range [][]string{{"PIPELINING", "CHUNKING"}, {"PIPELINING"}, nil} {
		t.Run(strings.Join(ext, "+"), func(t *testing.T) {
			s := newAdversary(t, ext, true, false, func(v string, n int) string {
				if v == "END" && n == 1 {
					return "421 4.3.2 shutting down\r\n\x00"
				}
				return ""
			})
			c := s.client(t, nil)
			res, err := c.SendMail(ctxTimeout(t), "a@x.test", []string{"a@y.test", "b@y.test"}, strings.NewReader(advBody(0, false)), nil)
			c.Close()
			s.wait()
			if !isUnknown(err) {
				t.Errorf("SendMail error = %v, want ErrDeliveryUnknown", err)
			}
			if res == nil || len(res.Recipients) != 2 {
				t.Fatalf("result %+v", res)
			}
			if got := res.Recipients[1].Err; !isUnknown(got) {
				t.Errorf("recipient never answered: error %v, want ErrDeliveryUnknown", got)
			}
			if got := res.Refusal("b@y.test"); got != nil {
				t.Errorf("recipient never answered is listed refused: %v", got)
			}
		})
	}
}

// scriptedReader returns its data, then err; after the data it may first
// return (0, nil) empty times.
type scriptedReader struct {
	data  string
	empty int
	err   error
}

func (r *scriptedReader) Read(p []byte) (int, error) {
	if r.data != "" {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	if r.empty > 0 {
		r.empty--
		return 0, nil
	}
	return 0, r.err
}

// SendMessage reads the header block itself before streaming: a message
// ends only at a bare io.EOF there too (a wrapped EOF is a failure, the
// message cut short), and a reader stuck returning (0, nil) fails with
// io.ErrNoProgress instead of spinning.
func TestSendMessageHeaderReaderEnds(t *testing.T) {
	errStop := errors.New("reader gave up")
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{"wrapped EOF in the header", &scriptedReader{data: "From: a@x.test\r\nTo: b@y.test\r\nSubject: cut sh", err: fmt.Errorf("conn: %w", io.EOF)}, io.EOF},
		{"wrapped EOF after the header", &scriptedReader{data: "From: a@x.test\r\nTo: b@y.test\r\n\r\nhalf a bo", err: fmt.Errorf("conn: %w", io.EOF)}, io.EOF},
		{"no progress in the header", &scriptedReader{data: "From: a@x.test\r\nTo: b@y.test\r\n", empty: 1000, err: errStop}, io.ErrNoProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newAdversary(t, nil, false, false, nil)
			c := s.client(t, nil)
			_, err := c.SendMessage(ctxTimeout(t), tt.r, nil)
			c.Close()
			if stored := s.wait(); len(stored) > 0 {
				t.Errorf("a message cut short was stored: %+v", stored)
			}
			if !errors.Is(err, tt.want) || isUnknown(err) || err == nil {
				t.Errorf("error = %v, want the reader's failure (%v)", err, tt.want)
			}
		})
	}
}

// The property: whatever the server answers (refusals, 452s, 421 with or
// without closing, at any command), wherever the connection is cut, with
// or without PIPELINING and CHUNKING, in SMTP and LMTP, a server that
// keeps or drops a refused BDAT transaction, small and large bodies with
// bare CR and LF and leading dots: a message reported delivered was stored
// with exactly its normalised body, a message stored is never reported as
// a known failure, and no message is stored twice.
func TestAdversaryProperty(t *testing.T) {
	replies := []string{
		"", "", "", "", "",
		"550 5.7.1 no\r\n", "452 4.5.3 too many\r\n", "421 4.3.2 bye\r\n",
		"250 2.0.0 ok\r\n", "503 5.5.1 bad sequence\r\n",
	}
	exts := [][]string{nil, {"PIPELINING"}, {"CHUNKING"}, {"PIPELINING", "CHUNKING"}}
	rapid.Check(t, func(rt *rapid.T) {
		script := map[string]string{}
		for _, v := range []string{"MAIL", "RCPT", "DATA", "BDAT", "END", "RSET"} {
			for n := 1; n <= 8; n++ {
				script[fmt.Sprintf("%s%d", v, n)] = rapid.SampledFrom(replies).Draw(rt, fmt.Sprintf("%s %d", v, n))
			}
		}
		s, err := startAdversary(&adversary{
			ext:           rapid.SampledFrom(exts).Draw(rt, "ext"),
			lmtp:          rapid.Bool().Draw(rt, "lmtp"),
			keepAfterLast: rapid.Bool().Draw(rt, "keep"),
			answer:        func(v string, n int) string { return script[fmt.Sprintf("%s%d", v, n)] },
			cutOut:        rapid.IntRange(-1, 1500).Draw(rt, "cutOut"),
			cutIn:         rapid.IntRange(-1, 3000).Draw(rt, "cutIn"),
		})
		if err != nil {
			rt.Fatal(err)
		}
		defer s.ln.Close()
		n := rapid.IntRange(1, 4).Draw(rt, "messages")
		var want []string
		var envs []session.Envelope
		for i := range n {
			b := fmt.Sprintf("Subject: %d\r\n\r\n", i) + rapid.StringOfN(rapid.SampledFrom([]rune{'a', '.', '\r', '\n', ' '}), 0, 300, -1).Draw(rt, "body")
			want = append(want, string(codec.NormalizeLineEndings([]byte(b))))
			rcpts := []string{"a@y.test", "b@y.test", "c@y.test"}[:rapid.IntRange(1, 3).Draw(rt, "rcpts")]
			envs = append(envs, session.Envelope{From: fmt.Sprintf("m%d@x.test", i), To: rcpts, Body: strings.NewReader(b)})
		}
		o := opts()
		o.LMTP = s.lmtp
		o.OptimisticLimit = rapid.SampledFrom([]int{-1, 0, 100}).Draw(rt, "optimistic")
		o.ChunkSize = rapid.SampledFrom([]int{0, 7, 64}).Draw(rt, "chunk")
		o.BatchWindow = rapid.IntRange(0, 3).Draw(rt, "window")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		conn, err := net.Dial("tcp", s.ln.Addr().String())
		if err != nil {
			rt.Fatal(err)
		}
		c, err := session.NewClient(ctx, conn, "adv.test", o)
		var res []session.BatchResult
		if err == nil {
			if rapid.Bool().Draw(rt, "batch") {
				res = c.SendBatch(ctx, envs)
			} else {
				for _, e := range envs {
					r, err := c.SendMail(ctx, e.From, e.To, e.Body, nil)
					res = append(res, session.BatchResult{Result: r, Err: err})
				}
			}
			c.Close()
		} else {
			conn.Close()
		}
		<-s.done
		s.mu.Lock()
		stored := s.stored
		s.mu.Unlock()
		got := map[string]int{}
		for _, m := range stored {
			got[m.Body]++
		}
		for b, k := range got {
			if !s.lmtp && k > 1 {
				rt.Fatalf("body stored %d times: %q", k, b)
			}
		}
		for i, r := range res {
			switch {
			case r.Err == nil && got[want[i]] == 0:
				rt.Fatalf("message %d reported delivered, not stored (stored %+v)", i, stored)
			case r.Err != nil && got[want[i]] > 0 && !isUnknown(r.Err):
				rt.Fatalf("message %d stored (%+v), reported %v", i, stored, r.Err)
			case r.Err == nil && r.Result == nil:
				rt.Fatalf("message %d: no result, no error", i)
			}
		}
	})
}

// Every recipient refused in the flight, then the connection lost before
// the reply to the BDAT LAST sent with them: no recipient can have the
// message, so the result is the refusal, not "delivery unknown".
func TestFlightRefusedThenLost(t *testing.T) {
	s := newAdversary(t, []string{"PIPELINING", "CHUNKING"}, false, false, func(v string, n int) string {
		switch v {
		case "RCPT":
			return "550 5.1.1 no such user\r\n"
		case "END":
			return "\x00" // closes without a word
		}
		return ""
	})
	c := s.client(t, nil)
	_, err := c.SendMail(ctxTimeout(t), "a@x.test", []string{"a@y.test", "b@y.test"}, strings.NewReader(advBody(0, false)), nil)
	c.Close()
	s.wait()
	var rr *session.RecipientsRefusedError
	if !errors.As(err, &rr) || isUnknown(err) {
		t.Errorf("error = %v, want *RecipientsRefusedError", err)
	}
}
