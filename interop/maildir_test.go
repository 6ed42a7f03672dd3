//go:build interop

package interop

// Reading back what Postfix and Exim delivered. Both deliver every accepted recipient's copy
// as its own file into one Maildir (Postfix: virtual(8) into $POSTWIRE_INTEROP_POSTFIX_MAILDIR;
// Exim: appendfile into $POSTWIRE_INTEROP_EXIM_MAILDIR), after replying to the end of data:
// the tests wait (bounded) for the copies. Each server prepends a fixed set of header fields,
// which the readers check and strip, and nothing else:
//
//   Postfix  (lines ended by LF, as virtual(8) writes them)
//            Return-Path: <sender>
//            X-Original-To: rcpt
//            Delivered-To: rcpt
//            Received: from <EHLO name> (unknown [127.0.0.1])
//            	by postfix.interop (Postfix) with <protocol> id <queue id>
//            	[for <rcpt>]; <date>          ("for" when the transaction had one recipient)
//   Exim     (lines ended by CRLF: use_crlf)
//            Return-path: <sender>
//            Envelope-to: rcpt
//            Delivery-date: <date>
//            Received: from [127.0.0.1] (helo=<EHLO name>)
//            	by exim.interop with <protocol> [(TLS1.3) tls <cipher>] (Exim 4.96)
//            	(envelope-from <sender>)
//            	id <message id>
//            	[for rcpt]; <date>            ("for" when the transaction had one recipient)
//
// The Received headers are unfolded and matched against the patterns in received_test.go.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// delivery is one file a server delivered: the envelope as its headers give it, the
// unfolded Received header, and the message after the headers the server prepended.
type delivery struct {
	file     string
	sender   string
	rcpt     string
	received string
	message  []byte
}

// mtaServer describes how one MTA stores a message.
type mtaServer struct {
	name   string
	queue  string   // the environment variable naming its queue directories (a list, ":")
	eol    string   // the line ending of its files
	fields []string // the header fields it prepends, in order
	// parse turns the prepended fields' unfolded values into a delivery, checking those
	// that do not depend on the transaction (the Received header is checked by take).
	parse func(values []string) (delivery, error)
}

var postfixServer = mtaServer{
	name:   "Postfix",
	queue:  "POSTWIRE_INTEROP_POSTFIX_QUEUE",
	eol:    "\n",
	fields: []string{"Return-Path", "X-Original-To", "Delivered-To", "Received"},
	parse: func(v []string) (delivery, error) {
		if v[1] != v[2] {
			return delivery{}, fmt.Errorf("X-Original-To %q differs from Delivered-To %q", v[1], v[2])
		}
		return delivery{sender: v[0], rcpt: v[2], received: "Received: " + v[3]}, nil
	},
}

var eximServer = mtaServer{
	name:   "Exim",
	queue:  "POSTWIRE_INTEROP_EXIM_QUEUE",
	eol:    "\r\n",
	fields: []string{"Return-path", "Envelope-to", "Delivery-date", "Received"},
	parse: func(v []string) (delivery, error) {
		if !deliveryDate.MatchString(v[2]) {
			return delivery{}, fmt.Errorf("Delivery-date %q does not match %q", v[2], deliveryDate)
		}
		return delivery{sender: v[0], rcpt: v[1], received: "Received: " + v[3]}, nil
	},
}

// cutFields removes the header fields named in names, in that order, from the start of raw
// (lines ended by eol), and returns each one's value unfolded (every run of white space, line
// breaks included, one space) and the rest of raw.
func cutFields(raw []byte, eol string, names []string) ([]string, []byte, error) {
	var values []string
	for _, name := range names {
		if !bytes.HasPrefix(raw, []byte(name+": ")) {
			return nil, nil, fmt.Errorf("want a %s: field, got %q", name, head(raw))
		}
		end := 0
		for {
			i := bytes.Index(raw[end:], []byte(eol))
			if i < 0 {
				return nil, nil, fmt.Errorf("unterminated %s: field", name)
			}
			end += i + len(eol)
			if end >= len(raw) || (raw[end] != '\t' && raw[end] != ' ') {
				break
			}
		}
		values = append(values, strings.Join(strings.Fields(string(raw[len(name)+2:end])), " "))
		raw = raw[end:]
	}
	return values, raw, nil
}

// maildir indexes the files one server delivered into its Maildir, by envelope sender. A
// file name seen once is never read again, so waiting for thousands of messages reads each
// file once.
type maildir struct {
	server mtaServer
	dir    string
	mu     sync.Mutex
	seen   map[string]bool
	byFrom map[string][]delivery

	// What the tests read back and compared: messages, their files, the files that
	// were byte-identical to what was sent.
	messages, files, identical atomic.Int64
}

// count records one message read back in n files, all identical or not.
func (m *maildir) count(messages, n int, identical bool) {
	m.messages.Add(int64(messages))
	m.files.Add(int64(n))
	if identical {
		m.identical.Add(int64(n))
	}
}

var (
	maildirsMu sync.Mutex
	maildirs   = map[string]*maildir{}
)

// maildirOf returns the index of the Maildir named by the environment variable env.
func maildirOf(t testing.TB, server mtaServer, env string) *maildir {
	dir := mustEnv(t, env)
	maildirsMu.Lock()
	defer maildirsMu.Unlock()
	if m := maildirs[dir]; m != nil {
		return m
	}
	m := &maildir{server: server, dir: dir, seen: map[string]bool{}, byFrom: map[string][]delivery{}}
	maildirs[dir] = m
	return m
}

// scan reads the files in new/ not read before. Maildir delivery writes a file in tmp/ and
// renames it into new/, so every file there is complete.
func (m *maildir) scan() error {
	entries, err := os.ReadDir(filepath.Join(m.dir, "new"))
	if os.IsNotExist(err) {
		return nil // nothing delivered yet
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if m.seen[e.Name()] {
			continue
		}
		path := filepath.Join(m.dir, "new", e.Name())
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		m.seen[e.Name()] = true
		values, rest, err := cutFields(raw, m.server.eol, m.server.fields)
		if err != nil {
			return fmt.Errorf("%s: %s: %v", m.server.name, path, err)
		}
		d, err := m.server.parse(values)
		if err != nil {
			return fmt.Errorf("%s: %s: %v", m.server.name, path, err)
		}
		sender, okL := strings.CutPrefix(d.sender, "<")
		sender, okR := strings.CutSuffix(sender, ">")
		if !okL || !okR {
			return fmt.Errorf("%s: %s: return path %q not in <>", m.server.name, path, d.sender)
		}
		d.file, d.sender, d.message = path, sender, rest
		m.byFrom[sender] = append(m.byFrom[sender], d)
	}
	return nil
}

// take waits until every sender's message has been delivered once for each of its
// recipients (rcpts[sender], in any order), checks each copy's envelope and Received header,
// and returns the copies (in the order of the recipients), removing them from the index. A
// sender with more copies than recipients is an error: a message stored twice. The wait ends
// with a failure when 30 s pass without a new delivery.
func (m *maildir) take(t testing.TB, rcpts map[string][]string, check receivedCheck) map[string][]delivery {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]delivery, len(rcpts))
	lastNew, lastSeen := time.Now(), len(m.seen)
	for {
		if err := m.scan(); err != nil {
			t.Fatal(err)
		}
		missing := 0
		for sender, to := range rcpts {
			if len(m.byFrom[sender]) < len(to) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if len(m.seen) > lastSeen {
			lastNew, lastSeen = time.Now(), len(m.seen)
		}
		if time.Since(lastNew) > 30*time.Second {
			t.Fatalf("%s: %d of %d messages not delivered, and nothing new in 30 s", m.server.name, missing, len(rcpts))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for sender, to := range rcpts {
		copies := m.byFrom[sender]
		delete(m.byFrom, sender)
		if len(copies) != len(to) {
			t.Errorf("%s: message from %s stored %d times, want %d (once per recipient)", m.server.name, sender, len(copies), len(to))
			continue
		}
		byRcpt := map[string]delivery{}
		for _, d := range copies {
			byRcpt[d.rcpt] = d
		}
		var got []delivery
		for _, r := range to {
			d, ok := byRcpt[r]
			if !ok {
				t.Errorf("%s: message from %s: no copy for %s (copies for %v)", m.server.name, sender, r, rcptsOf(copies))
				continue
			}
			forRcpt := ""
			if len(to) == 1 {
				forRcpt = r
			}
			if re := check(sender, forRcpt); !re.MatchString(d.received) {
				t.Errorf("%s: %s: Received header %q does not match %q", m.server.name, d.file, d.received, re)
			}
			got = append(got, d)
		}
		out[sender] = got
	}
	return out
}

// settled waits until the server's queue holds no message (every message it accepted has
// been delivered or bounced), then fails if anything from senders was delivered after take
// returned: a message stored twice. It fails when the queue is not empty after 30 s.
func (m *maildir) settled(t testing.TB, senders []string) {
	t.Helper()
	queues := strings.Split(mustEnv(t, m.server.queue), ":")
	waitFor(t, m.server.name+" queue empty", func() (bool, bool, error) {
		n := 0
		for _, q := range queues {
			err := filepath.WalkDir(q, func(_ string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					n++
				}
				return err
			})
			if err != nil && !os.IsNotExist(err) {
				return false, false, err
			}
		}
		return true, n == 0, nil
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.scan(); err != nil {
		t.Fatal(err)
	}
	for _, s := range senders {
		if extra := m.byFrom[s]; len(extra) > 0 {
			t.Errorf("%s: message from %s stored again after all its copies had arrived: %v", m.server.name, s, rcptsOf(extra))
		}
	}
}

// takeOne is take for one message; it returns the stored bytes, which must be the same in
// every recipient's copy.
func (m *maildir) takeOne(t testing.TB, sender string, rcpts []string, check receivedCheck) []byte {
	t.Helper()
	copies := m.take(t, map[string][]string{sender: rcpts}, check)[sender]
	if len(copies) == 0 {
		t.FailNow()
	}
	for _, d := range copies[1:] {
		if !bytes.Equal(d.message, copies[0].message) {
			t.Errorf("%s: copies for %s and %s differ", m.server.name, copies[0].rcpt, d.rcpt)
		}
	}
	return copies[0].message
}

func rcptsOf(ds []delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.rcpt)
	}
	sort.Strings(out)
	return out
}
