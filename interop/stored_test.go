//go:build interop

package interop

// Reading back what each server stored, and stripping exactly what the server added.
//
//   aiosmtpd   <n>.eml is envelope.original_content: the data as received, dots un-stuffed.
//              Nothing is added, nothing is stripped. <n>.json holds the envelope.
//   Dovecot    Maildir/new/<file>, saved with CRLF (mail_save_crlf = yes). Dovecot prepends
//              Return-Path: <sender>, Delivered-To: <rcpt> (only when the transaction had a
//              single recipient) and a folded Received: header naming the LHLO name, LMTP, a
//              queue id, the envelope sender, the recipient (single recipient only) and the
//              date. Each is checked (sender and recipients exactly, the Received header
//              against a pattern) and stripped; the rest must equal the message.
//   smtp-sink  one dump file per transaction: X-Client-Addr, X-Client-Proto, X-Helo-Args,
//              X-Mail-Args, X-Rcpt-Args (one per RCPT) and a three-line Received: header, then
//              the message with each line ended by a bare LF (smtp-sink strips the CR), then
//              one empty line. The envelope lines are parsed and checked, the Received header
//              checked against a pattern; the message must equal the expected bytes with every
//              CRLF written as LF (a bijection, since the expected bytes have no bare LF).
//
// Postfix and Exim, which deliver into Maildirs, are read by maildir_test.go.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// aioRecord is the envelope aiosmtpd_server.py stores beside each message.
type aioRecord struct {
	Listener    string     `json:"listener"`
	MailFrom    string     `json:"mail_from"`
	MailOptions []string   `json:"mail_options"`
	RcptTos     []string   `json:"rcpt_tos"`
	RcptOptions [][]string `json:"rcpt_options"`
	SMTPUTF8    bool       `json:"smtp_utf8"`
	TLS         bool       `json:"tls"`
	Login       *string    `json:"login"`
}

// aiosmtpdStored finds the message that listener stored for sender.
func aiosmtpdStored(t testing.TB, listener, sender string) (aioRecord, []byte) {
	t.Helper()
	dir := filepath.Join(mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_DIR"), listener)
	type found struct {
		rec  aioRecord
		data []byte
	}
	f := waitFor(t, "aiosmtpd "+listener+" message from "+sender, func() (found, bool, error) {
		names, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			return found{}, false, err
		}
		for _, n := range names {
			js, err := os.ReadFile(n)
			if err != nil {
				return found{}, false, err
			}
			var rec aioRecord
			if err := json.Unmarshal(js, &rec); err != nil {
				return found{}, false, fmt.Errorf("%s: %v", n, err)
			}
			if rec.MailFrom != sender {
				continue
			}
			data, err := os.ReadFile(strings.TrimSuffix(n, ".json") + ".eml")
			return found{rec, data}, err == nil, err
		}
		return found{}, false, nil
	})
	return f.rec, f.data
}

// aiosmtpdByRecipient finds the plain listener's record of the message to rcpt.
func aiosmtpdByRecipient(t testing.TB, rcpt string) aioRecord {
	t.Helper()
	dir := filepath.Join(mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_DIR"), "plain")
	return waitFor(t, "aiosmtpd message to "+rcpt, func() (aioRecord, bool, error) {
		names, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			return aioRecord{}, false, err
		}
		for _, n := range names {
			js, err := os.ReadFile(n)
			if err != nil {
				return aioRecord{}, false, err
			}
			var rec aioRecord
			if err := json.Unmarshal(js, &rec); err != nil {
				return aioRecord{}, false, fmt.Errorf("%s: %v", n, err)
			}
			if len(rec.RcptTos) == 1 && rec.RcptTos[0] == rcpt {
				return rec, true, nil
			}
		}
		return aioRecord{}, false, nil
	})
}

// sorted returns a sorted copy.
func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// dovecotStored finds the message from sender in user's Maildir and strips what Dovecot
// prepended, after checking it. rcpt is the recipient when the transaction had exactly one
// (Dovecot then adds Delivered-To and names it in Received), else "".
func dovecotStored(t testing.TB, user, sender, rcpt string) []byte {
	t.Helper()
	root := filepath.Join(mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_MAIL"), user, "Maildir")
	returnPath := "Return-Path: <" + sender + ">\r\n"
	raw := waitFor(t, "Dovecot message for "+user+" from "+sender, func() ([]byte, bool, error) {
		for _, sub := range []string{"new", "cur"} {
			names, err := filepath.Glob(filepath.Join(root, sub, "*"))
			if err != nil {
				return nil, false, err
			}
			for _, n := range names {
				data, err := os.ReadFile(n)
				if err != nil {
					return nil, false, err
				}
				if bytes.HasPrefix(data, []byte(returnPath)) {
					return data, true, nil
				}
			}
		}
		return nil, false, nil
	})
	rest := raw[len(returnPath):]
	if rcpt != "" {
		dt := "Delivered-To: " + rcpt + "\r\n"
		if !bytes.HasPrefix(rest, []byte(dt)) {
			t.Fatalf("Dovecot message for %s: want %q after Return-Path, got %q", user, dt, head(rest))
		}
		rest = rest[len(dt):]
	}
	// Received: one header, folded: the first line and every continuation line (starting
	// with a tab or a space).
	if !bytes.HasPrefix(rest, []byte("Received: ")) {
		t.Fatalf("Dovecot message for %s: want a Received header, got %q", user, head(rest))
	}
	end := 0
	for {
		i := bytes.Index(rest[end:], []byte("\r\n"))
		if i < 0 {
			t.Fatalf("Dovecot message for %s: unterminated Received header", user)
		}
		end += i + 2
		if end >= len(rest) || (rest[end] != '\t' && rest[end] != ' ') {
			break
		}
	}
	received := strings.Join(strings.Fields(string(rest[:end])), " ")
	if re := dovecotReceived(sender, rcpt); !re.MatchString(received) {
		t.Errorf("Dovecot message for %s: Received header %q does not match %q", user, received, re)
	}
	return rest[end:]
}

// sinkRecord is one smtp-sink dump file, parsed.
type sinkRecord struct {
	ClientAddr  string
	ClientProto string
	Helo        string
	MailArgs    string
	RcptArgs    []string
	Received    string
	Message     []byte // as dumped: lines ended by LF, the final empty line removed
}

// sinkStored finds the dump file of the transaction from sender in smtp-sink instance name.
func sinkStored(t testing.TB, name, sender string) sinkRecord {
	t.Helper()
	dir := filepath.Join(mustEnv(t, "POSTWIRE_INTEROP_SINK_DIR"), name)
	mailArgs := "\nX-Mail-Args: <" + sender + ">"
	last := -1 // the size seen by the previous poll
	raw := waitFor(t, "smtp-sink "+name+" dump from "+sender, func() ([]byte, bool, error) {
		names, err := filepath.Glob(filepath.Join(dir, "msg.*"))
		if err != nil {
			return nil, false, err
		}
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err != nil {
				return nil, false, err
			}
			if i := bytes.Index(data, []byte("\nReceived: ")); i >= 0 && bytes.Contains(data[:i], []byte(mailArgs)) {
				// The dump ends with an empty line once the transaction is complete; the
				// size must also be the same as at the previous poll, in case smtp-sink
				// is still writing after its reply.
				done := bytes.HasSuffix(data, []byte("\n\n")) && len(data) == last
				last = len(data)
				return data, done, nil
			}
		}
		return nil, false, nil
	})
	var r sinkRecord
	rest := raw
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			t.Fatalf("smtp-sink dump from %s: no Received header", sender)
		}
		line := string(rest[:i])
		if strings.HasPrefix(line, "Received: ") {
			break
		}
		rest = rest[i+1:]
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("smtp-sink dump from %s: unexpected line %q before Received", sender, line)
		}
		switch k {
		case "X-Client-Addr":
			r.ClientAddr = v
		case "X-Client-Proto":
			r.ClientProto = v
		case "X-Helo-Args":
			r.Helo = v
		case "X-Mail-Args":
			r.MailArgs = v
		case "X-Rcpt-Args":
			r.RcptArgs = append(r.RcptArgs, v)
		default:
			t.Fatalf("smtp-sink dump from %s: unexpected header %q", sender, line)
		}
	}
	// Received: exactly three lines, the last two starting with a tab.
	end := 0
	for n := 0; n < 3; n++ {
		i := bytes.IndexByte(rest[end:], '\n')
		if i < 0 {
			t.Fatalf("smtp-sink dump from %s: short Received header", sender)
		}
		end += i + 1
	}
	r.Received = string(rest[:end])
	if re := sinkReceived(r.ClientProto, r.ClientAddr == "127.0.0.1"); !re.MatchString(r.Received) {
		t.Errorf("smtp-sink dump from %s: Received header %q does not match %q", sender, r.Received, re)
	}
	r.Message = bytes.TrimSuffix(rest[end:], []byte("\n"))
	return r
}

// asDumped is how smtp-sink writes a message that arrived as want: each CRLF as LF.
func asDumped(want []byte) []byte {
	return bytes.ReplaceAll(want, []byte("\r\n"), []byte("\n"))
}

// head is the start of b, for error messages.
func head(b []byte) []byte { return b[:min(len(b), 200)] }
