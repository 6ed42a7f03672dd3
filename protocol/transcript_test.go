package protocol_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/protocol"
)

// transcript is a recorded conversation: S: lines from the server, C:
// lines from the client, in order.
type transcript struct {
	lmtp  bool
	lines []tline
}

type tline struct {
	server bool
	text   string
}

func readTranscript(t *testing.T, path string) transcript {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr transcript
	for i, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "# config: lmtp"):
			tr.lmtp = true
		case strings.HasPrefix(l, "#") || l == "":
		case strings.HasPrefix(l, "S: "):
			tr.lines = append(tr.lines, tline{true, l[3:]})
		case strings.HasPrefix(l, "C:"):
			tr.lines = append(tr.lines, tline{false, strings.TrimPrefix(l[2:], " ")})
		default:
			t.Fatalf("%s:%d: not S:, C: or #: %q", path, i+1, l)
		}
	}
	return tr
}

// parseCommand turns a C: line into the Command that must produce it.
func parseCommand(t *testing.T, c *protocol.Client, line string) protocol.Command {
	t.Helper()
	if c.State() == protocol.StateAuth {
		if line == "*" {
			return protocol.AuthCancel()
		}
		return protocol.AuthResponse(decode64(t, line))
	}
	verb, rest, _ := strings.Cut(line, " ")
	params := func(s string) []protocol.Param {
		var ps []protocol.Param
		for _, f := range strings.Fields(s) {
			k, v, _ := strings.Cut(f, "=")
			ps = append(ps, protocol.Param{Key: k, Value: v})
		}
		return ps
	}
	path := func(prefix string) (string, []protocol.Param) {
		if !strings.HasPrefix(rest, prefix+"<") {
			t.Fatalf("bad path in %q", line)
		}
		addr, ps, _ := strings.Cut(rest[len(prefix)+1:], ">")
		return addr, params(ps)
	}
	switch verb {
	case "EHLO":
		return protocol.Ehlo(rest)
	case "LHLO":
		return protocol.Lhlo(rest)
	case "HELO":
		return protocol.Helo(rest)
	case "STARTTLS":
		return protocol.StartTLS()
	case "DATA":
		return protocol.Data()
	case "QUIT":
		return protocol.Quit()
	case "RSET":
		return protocol.Rset()
	case "NOOP":
		return protocol.Noop()
	case "VRFY":
		return protocol.Vrfy(rest)
	case "EXPN":
		return protocol.Expn(rest)
	case "HELP":
		return protocol.Help(rest)
	case "AUTH":
		mech, ir, ok := strings.Cut(rest, " ")
		switch {
		case !ok:
			return protocol.Auth(mech, nil)
		case ir == "=":
			return protocol.Auth(mech, []byte{})
		}
		return protocol.Auth(mech, decode64(t, ir))
	case "MAIL":
		a, ps := path("FROM:")
		return protocol.Mail(a, ps...)
	case "RCPT":
		a, ps := path("TO:")
		return protocol.Rcpt(a, ps...)
	}
	return protocol.Raw(line)
}

func decode64(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

// replay drives a Client through tr: C: lines become commands (or body
// lines, or BDAT data), S: lines are delivered. It returns every byte the
// client queued and every event.
func replay(t *testing.T, tr transcript) (string, []protocol.Event) {
	t.Helper()
	c := protocol.NewClient(protocol.Config{LMTP: tr.lmtp})
	var wire strings.Builder
	var events []protocol.Event
	var server strings.Builder
	flushServer := func() {
		if server.Len() == 0 {
			return
		}
		evs := mustReceive(t, c, server.String())
		server.Reset()
		for _, ev := range evs {
			if ev.Kind == protocol.EventStartTLS {
				if err := c.TLSDone(); err != nil { // the handshake would happen here
					t.Fatalf("TLSDone: %v", err)
				}
			}
		}
		events = append(events, evs...)
	}
	lines := tr.lines
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l.server {
			server.WriteString(l.text + "\r\n")
			continue
		}
		flushServer()
		var err error
		switch {
		case c.State() == protocol.StateBody && l.text == ".":
			_, err = c.EndBody()
		case c.State() == protocol.StateBody:
			text := strings.TrimPrefix(l.text, ".") // the transcript shows the stuffed line
			err = c.SendBody([]byte(text + "\r\n"))
		case strings.HasPrefix(l.text, "BDAT "):
			f := strings.Fields(l.text)
			n, _ := strconv.Atoi(f[1])
			var data strings.Builder
			for data.Len() < n {
				i++
				data.WriteString(lines[i].text + "\r\n")
			}
			_, err = c.SendChunk([]byte(data.String()), len(f) == 3 && f[2] == "LAST")
		default:
			_, err = c.Send(parseCommand(t, c, l.text))
		}
		if err != nil {
			t.Fatalf("line %q: %v", l.text, err)
		}
		wire.WriteString(out(c))
	}
	flushServer()
	c.ReceiveEOF()
	evs, err := drain(c)
	if err != nil {
		t.Fatalf("at EOF: %v", err)
	}
	events = append(events, evs...)
	if c.State() != protocol.StateClosed {
		t.Errorf("final state %v, want Closed", c.State())
	}
	return wire.String(), events
}

func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "transcripts", "*.txt"))
	if err != nil || len(files) < 5 {
		t.Fatalf("transcripts: %v, %d files", err, len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			tr := readTranscript(t, f)
			var want strings.Builder
			replies := 0
			for _, l := range tr.lines {
				if !l.server {
					want.WriteString(l.text + "\r\n")
				} else if len(l.text) == 3 || l.text[3] == ' ' {
					replies++ // a reply's last line
				}
			}
			got, events := replay(t, tr)
			if diff := cmp.Diff(strings.SplitAfter(want.String(), "\r\n"), strings.SplitAfter(got, "\r\n")); diff != "" {
				t.Errorf("client bytes differ from the C: lines (-transcript +client):\n%s", diff)
			}
			// One event per reply plus the close; each names a command
			// (but the greeting).
			if len(events) != replies+1 || events[len(events)-1].Kind != protocol.EventClosed {
				t.Errorf("%d events for %d replies: %v", len(events), replies, events)
			}
			for i, ev := range events[1 : len(events)-1] {
				if ev.Cmd.Verb == protocol.VerbNone {
					t.Errorf("event %d matched no command: %+v", i+1, ev)
				}
			}
			// LMTP: every end-of-data reply names its recipient.
			for _, ev := range events {
				if tr.lmtp && ev.Cmd.Verb == protocol.VerbEndData && ev.Rcpt == "" {
					t.Errorf("LMTP end-of-data reply without recipient: %+v", ev)
				}
			}
		})
	}
}
