//go:build interop

package interop

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/transport"
)

// lmtpOutcome is one recipient's outcome, in a comparable form.
type lmtpOutcome struct {
	Recipient string
	Code      int
	Enhanced  string
	Refused   bool
}

func outcomes(res *session.SendResult) []lmtpOutcome {
	var out []lmtpOutcome
	for _, r := range res.Recipients {
		out = append(out, lmtpOutcome{r.Recipient, r.Reply.Code, r.Reply.Enhanced.String(), r.Err != nil})
	}
	return out
}

// TestDovecotLMTPCorpus sends the corpus to alice and bob over the LMTP Unix socket, with
// CHUNKING (BDAT, Dovecot offers it) and with DATA, and checks each mailbox's copy.
func TestDovecotLMTPCorpus(t *testing.T) {
	sock := mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_SOCKET")
	rcpts := []string{"alice@example.org", "bob@example.org"}
	for _, mode := range []struct {
		name    string
		noChunk bool
	}{{"BDAT", false}, {"DATA", true}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := testContext(t)
			log := &lineLog{}
			conn, err := transport.DialUnix(ctx, sock, transport.Options{})
			if err != nil {
				t.Fatalf("transport.DialUnix: %v", err)
			}
			wire := &wireLog{Conn: conn}
			c, err := session.NewClient(ctx, wire, "dovecot.interop", &session.Options{
				LMTP: true, LocalName: "client.postwire.test", DisableChunking: mode.noChunk,
				Logger: slog.New(log)})
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			defer c.Close()
			if err := c.EhloOrHeloIfNeeded(ctx); err != nil {
				t.Fatalf("LHLO: %v", err)
			}
			for _, kw := range []string{"PIPELINING", "CHUNKING", "8BITMIME", "ENHANCEDSTATUSCODES"} {
				if !c.HasExtension(kw) {
					t.Errorf("Dovecot LMTP does not advertise %s", kw)
				}
			}
			for i := range corpus("x@x", rcpts, true) {
				sender := uniqueSender("dovecot-" + mode.name)
				m := corpus(sender, rcpts, true)[i]
				way := sendWays[i%2]
				t.Run(way.name+"/"+m.name, func(t *testing.T) {
					res := way.send(t, c, sender, rcpts, m)
					want := []lmtpOutcome{{"alice@example.org", 250, "2.0.0", false}, {"bob@example.org", 250, "2.0.0", false}}
					if d := cmp.Diff(want, outcomes(res)); d != "" {
						t.Errorf("per-recipient replies (-want +got):\n%s", d)
					}
					for _, user := range []string{"alice", "bob"} {
						checkBytes(t, user+" "+m.name, m.want, dovecotStored(t, user, sender, ""))
					}
					// PIPELINING: MAIL and both RCPTs in one write, and with DATA the DATA
					// command too. (With BDAT in LMTP the session waits for the RCPT replies:
					// it must know how many replies the last chunk will get.)
					w := wire.writeWith("MAIL FROM:<" + sender + ">")
					need := []string{"RCPT TO:<alice@example.org>", "RCPT TO:<bob@example.org>"}
					if mode.noChunk {
						need = append(need, "DATA\r\n")
					}
					for _, s := range need {
						if !bytes.Contains(w, []byte(s)) {
							t.Errorf("pipelined write %q lacks %q", head(w), s)
						}
					}
				})
			}
			var bdat, data int
			for _, l := range log.Sent() {
				switch {
				case strings.HasPrefix(l, "BDAT "):
					bdat++
				case l == "DATA":
					data++
				}
			}
			if mode.noChunk && (bdat != 0 || data == 0) || !mode.noChunk && (data != 0 || bdat == 0) {
				t.Errorf("sent %d BDAT and %d DATA commands with DisableChunking=%v", bdat, data, mode.noChunk)
			}
			if _, err := c.Quit(ctx); err != nil {
				t.Errorf("Quit: %v", err)
			}
		})
	}
}

// TestDovecotLMTPPerRecipient: an unknown user refused at RCPT (550 5.1.1), a user whose
// mailbox cannot be created refused after the data (451 4.2.0), the others delivered; each
// gets its own reply in SendResult.
func TestDovecotLMTPPerRecipient(t *testing.T) {
	sock := mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_SOCKET")
	for _, noChunk := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableChunking=%v", noChunk), func(t *testing.T) {
			ctx := testContext(t)
			c, err := session.DialLMTP(ctx, sock, &session.Options{LocalName: "client.postwire.test", DisableChunking: noChunk})
			if err != nil {
				t.Fatalf("DialLMTP: %v", err)
			}
			defer c.Close()
			if !c.LMTP() {
				t.Error("LMTP() = false after DialLMTP")
			}
			sender := uniqueSender("dovecot-per-rcpt")
			rcpts := []string{"alice@example.org", "nosuch@example.org", "frozen@example.org", "carol@example.org"}
			raw := []byte(header("\r\n", sender, rcpts, "per recipient") + "to alice and carol only\r\n")
			res, err := c.SendMail(ctx, sender, rcpts, bytes.NewReader(raw), nil)
			if err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			want := []lmtpOutcome{
				{"alice@example.org", 250, "2.0.0", false},
				{"nosuch@example.org", 550, "5.1.1", true},
				{"frozen@example.org", 451, "4.2.0", true},
				{"carol@example.org", 250, "2.0.0", false},
			}
			if d := cmp.Diff(want, outcomes(res)); d != "" {
				t.Errorf("per-recipient replies (-want +got):\n%s", d)
			}
			var refused []string
			for _, r := range res.Refused {
				refused = append(refused, r.Recipient)
			}
			if d := cmp.Diff([]string{"nosuch@example.org", "frozen@example.org"}, refused); d != "" {
				t.Errorf("Refused (-want +got):\n%s", d)
			}
			for _, r := range res.Recipients {
				var re *session.RecipientError
				if r.Err != nil && (!errors.As(r.Err, &re) || re.Recipient != r.Recipient) {
					t.Errorf("%s: error %v is not a *RecipientError for it", r.Recipient, r.Err)
				}
			}
			for _, user := range []string{"alice", "carol"} {
				checkBytes(t, user, raw, dovecotStored(t, user, sender, ""))
			}

			// Only refusals: the one recipient left fails after the data.
			sender = uniqueSender("dovecot-all-refused")
			_, err = c.SendMail(ctx, sender, []string{"frozen@example.org"}, strings.NewReader("x\r\n"), nil)
			var rre *session.RecipientsRefusedError
			if !errors.As(err, &rre) || rre.Recipient("frozen@example.org") == nil || rre.Recipient("frozen@example.org").Code != 451 {
				t.Errorf("SendMail to frozen only: %v, want *RecipientsRefusedError with its 451", err)
			}
			if _, err := c.Noop(ctx); err != nil {
				t.Errorf("NOOP afterwards: %v", err)
			}
			if _, err := c.Quit(ctx); err != nil {
				t.Errorf("Quit: %v", err)
			}
		})
	}
}

// TestDovecotLMTPTCP: LMTP over 127.0.0.1, one recipient per message, so Dovecot adds
// Delivered-To and names the recipient in Received; SendBatch pipelines the messages.
func TestDovecotLMTPTCP(t *testing.T) {
	addr := mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_TCP")
	ctx := testContext(t)
	c, err := session.DialLMTP(ctx, addr, &session.Options{LocalName: "client.postwire.test"})
	if err != nil {
		t.Fatalf("DialLMTP: %v", err)
	}
	defer c.Close()
	rcpts := []string{"carol@example.org"}
	var envs []session.Envelope
	var msgs []message
	for i := range corpus("x@x", rcpts, true) {
		sender := uniqueSender("dovecot-tcp")
		m := corpus(sender, rcpts, true)[i]
		msgs = append(msgs, m)
		envs = append(envs, session.Envelope{From: sender, To: rcpts, Body: m.body(), Options: &session.SendOptions{EightBitMIME: m.eightBit}})
	}
	// A message to an unknown user only, in the middle: it fails alone.
	mid := len(envs) / 2
	refused := session.Envelope{From: uniqueSender("dovecot-batch-refused"), To: []string{"nosuch@example.org"}, Body: strings.NewReader("x\r\n")}
	envs = append(envs[:mid], append([]session.Envelope{refused}, envs[mid:]...)...)
	msgs = append(msgs[:mid], append([]message{{name: "refused"}}, msgs[mid:]...)...)
	results := c.SendBatch(ctx, envs)
	if len(results) != len(envs) {
		t.Fatalf("SendBatch: %d results for %d messages", len(results), len(envs))
	}
	for i, r := range results {
		if i == mid {
			var rre *session.RecipientsRefusedError
			if !errors.As(r.Err, &rre) || rre.Recipient("nosuch@example.org") == nil || rre.Recipient("nosuch@example.org").Code != 550 {
				t.Errorf("refused message in the batch: %v, want *RecipientsRefusedError with a 550", r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("%s: %v", msgs[i].name, r.Err)
			continue
		}
		if d := cmp.Diff([]lmtpOutcome{{"carol@example.org", 250, "2.0.0", false}}, outcomes(r.Result)); d != "" {
			t.Errorf("%s: replies (-want +got):\n%s", msgs[i].name, d)
		}
		checkBytes(t, msgs[i].name, msgs[i].want, dovecotStored(t, "carol", envs[i].From, "carol@example.org"))
	}
	if _, err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestDovecotManyRecipients: 90 recipients in one pipelined transaction (valid, unknown and
// frozen users, the valid ones repeated): every RCPT reply and every reply after the data
// must be matched to its own recipient, over BDAT and over DATA.
func TestDovecotManyRecipients(t *testing.T) {
	sock := mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_SOCKET")
	for _, noChunk := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableChunking=%v", noChunk), func(t *testing.T) {
			ctx := testContext(t)
			c, err := session.DialLMTP(ctx, sock, &session.Options{LocalName: "client.postwire.test", DisableChunking: noChunk})
			if err != nil {
				t.Fatalf("DialLMTP: %v", err)
			}
			defer c.Close()
			var rcpts []string
			var want []lmtpOutcome
			for i := range 90 {
				switch i % 5 {
				case 0, 2:
					u := []string{"alice", "bob", "carol"}[i%3] + "@example.org"
					rcpts = append(rcpts, u)
					want = append(want, lmtpOutcome{u, 250, "2.0.0", false})
				case 1:
					u := fmt.Sprintf("unknown%d@example.org", i)
					rcpts = append(rcpts, u)
					want = append(want, lmtpOutcome{u, 550, "5.1.1", true})
				case 3:
					rcpts = append(rcpts, "frozen@example.org")
					want = append(want, lmtpOutcome{"frozen@example.org", 451, "4.2.0", true})
				case 4:
					u := fmt.Sprintf("carol+tag%d@example.org", i)
					rcpts = append(rcpts, u)
					want = append(want, lmtpOutcome{u, 250, "2.0.0", false})
				}
			}
			sender := uniqueSender("dovecot-many")
			raw := []byte("From: <" + sender + ">\r\nSubject: many recipients\r\n\r\nninety\r\n")
			res, err := c.SendMail(ctx, sender, rcpts, bytes.NewReader(raw), nil)
			if err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			if d := cmp.Diff(want, outcomes(res)); d != "" {
				t.Errorf("replies (-want +got):\n%s", d)
			}
			// The text of each reply after the data names its recipient (without a
			// +detail: Dovecot names the final address).
			for _, r := range res.Recipients {
				if r.Err == nil {
					local, _, _ := strings.Cut(r.Recipient, "+")
					local, _, _ = strings.Cut(local, "@")
					if !strings.Contains(r.Reply.Text(), "<"+local) {
						t.Errorf("%s: reply %q names another recipient", r.Recipient, r.Reply.Text())
					}
				}
			}
			for _, u := range []string{"alice", "bob", "carol"} {
				checkBytes(t, u, raw, dovecotStored(t, u, sender, ""))
			}
		})
	}
}
