package session_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// TestSendBatchModel sends random batches to a server with random
// per-recipient and per-message verdicts, with and without PIPELINING,
// CHUNKING and LMTP, and checks the results against a model written from
// the RFCs: what the client reports is exactly what the server stored.
func TestSendBatchModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pool := []string{"a@y.test", "b@y.test", "c@y.test", "d@y.test"}
		codes := []int{250, 452, 550}
		rcptCode := map[string]int{}
		lmtpCode := map[string]int{}
		for _, r := range pool {
			rcptCode[r] = rapid.SampledFrom(codes).Draw(t, "rcpt "+r)
			lmtpCode[r] = rapid.SampledFrom(codes).Draw(t, "lmtp "+r)
		}
		lmtp := rapid.Bool().Draw(t, "lmtp")
		cfg := smtptest.Config{
			Hostname:          serverName,
			LMTP:              lmtp,
			DisablePipelining: rapid.Bool().Draw(t, "no pipelining"),
			DisableChunking:   rapid.Bool().Draw(t, "no chunking"),
			RcptFunc: func(addr string) smtptest.Reply {
				return smtptest.Reply{Code: rcptCode[addr], Text: "rcpt"}
			},
			DataFunc: func(m *smtptest.Message) smtptest.Reply {
				if strings.Contains(string(m.Data), "bad") {
					return smtptest.Reply{Code: 554, Text: "rejected"}
				}
				return smtptest.Reply{Code: 250, Text: "ok"}
			},
			LMTPFunc: func(rcpt string, _ *smtptest.Message) smtptest.Reply {
				return smtptest.Reply{Code: lmtpCode[rcpt], Text: "lmtp"}
			},
		}
		s := smtptest.NewServer(cfg)
		defer s.Close()
		c, err := session.NewClient(context.Background(), s.Pipe(), serverName, &session.Options{LMTP: lmtp, LocalName: "client.test", ChunkSize: 8})
		if err != nil {
			t.Fatalf("NewClient: %v", err)
		}
		defer c.Close()

		type outcome struct {
			Err     string // "", "recipients", "data"
			Refused []refusedView
		}
		var (
			batch      []session.Envelope
			want       []outcome
			wantStored []stored
		)
		n := rapid.IntRange(1, 5).Draw(t, "messages")
		for i := range n {
			to := rapid.SliceOfN(rapid.SampledFrom(pool), 1, 3).Draw(t, "to")
			body := fmt.Sprintf("message %d %s\r\n", i, rapid.SampledFrom([]string{"good", "bad"}).Draw(t, "verdict"))
			batch = append(batch, session.Envelope{From: "s@x.test", To: to, Body: strings.NewReader(body)})

			var o outcome
			var accepted []string
			for _, r := range to {
				if rcptCode[r] == 250 {
					accepted = append(accepted, r)
				} else {
					o.Refused = append(o.Refused, refusedView{r, rcptCode[r]})
				}
			}
			switch {
			case len(accepted) == 0:
				o.Err = "recipients"
			case lmtp:
				// Refused is in RCPT order, whether refused at RCPT or
				// after the data.
				o.Refused = nil
				delivered := false
				for _, r := range to {
					switch {
					case rcptCode[r] != 250:
						o.Refused = append(o.Refused, refusedView{r, rcptCode[r]})
					case lmtpCode[r] != 250:
						o.Refused = append(o.Refused, refusedView{r, lmtpCode[r]})
					default:
						delivered = true
					}
				}
				if !delivered {
					o.Err = "recipients"
				} else {
					wantStored = append(wantStored, stored{"s@x.test", nil, accepted, make([][]string, len(accepted)), body, !cfg.DisableChunking})
				}
			case strings.Contains(body, "bad"):
				o.Err = "data"
			default:
				wantStored = append(wantStored, stored{"s@x.test", nil, accepted, make([][]string, len(accepted)), body, !cfg.DisableChunking})
			}
			want = append(want, o)
		}

		var got []outcome
		for _, r := range c.SendBatch(context.Background(), batch) {
			var o outcome
			var rr *session.RecipientsRefusedError
			var de *session.DataError
			switch {
			case r.Err == nil:
			case errors.As(r.Err, &rr):
				o.Err = "recipients"
			case errors.As(r.Err, &de):
				o.Err = "data"
			default:
				t.Fatalf("unexpected error %v", r.Err)
			}
			if r.Result == nil {
				t.Fatalf("nil result with error %v", r.Err)
			}
			o.Refused = refusedOf(r.Result.Refused)
			got = append(got, o)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("results (-want +got):\n%s", diff)
		}
		if _, err := c.Quit(context.Background()); err != nil {
			t.Fatalf("Quit: %v", err)
		}
		if diff := cmp.Diff(wantStored, storedOf(s.Messages()), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
	})
}
