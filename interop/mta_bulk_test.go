//go:build interop

package interop

// Postfix and Exim in bulk: 1,000 messages on one connection, and 2,000 over eight at once.

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/postwire/postwire/session"
)

// batchEnvelopes returns n envelopes to rcpt, one sender each, cycling through the small
// corpus, and the bytes each must arrive as, by sender.
func batchEnvelopes(tag string, n int, rcpt string) ([]session.Envelope, map[string][]byte) {
	rcpts := []string{rcpt}
	envs := make([]session.Envelope, 0, n)
	want := make(map[string][]byte, n)
	for i := range n {
		sender := uniqueSender(tag)
		msgs := smallCorpus(sender, rcpts, true)
		m := msgs[i%len(msgs)]
		envs = append(envs, session.Envelope{From: sender, To: rcpts, Body: m.body(),
			Options: &session.SendOptions{EightBitMIME: m.eightBit}})
		want[sender] = m.want
	}
	return envs, want
}

// checkBatch checks one result per envelope, all delivered, and every message stored once,
// byte for byte; it returns how many were stored intact.
func (s mta) checkBatch(t *testing.T, envs []session.Envelope, results []session.BatchResult, want map[string][]byte, proto string) int {
	t.Helper()
	if len(results) != len(envs) {
		t.Fatalf("SendBatch: %d results for %d messages", len(results), len(envs))
	}
	expect := map[string][]string{}
	for i, r := range results {
		if r.Err != nil {
			t.Errorf("message %d from %s: %v", i, envs[i].From, r.Err)
			continue
		}
		expect[envs[i].From] = envs[i].To
	}
	intact := 0
	stored := s.box.take(t, expect, s.received(proto))
	senders := make([]string, 0, len(stored))
	for sender, copies := range stored {
		senders = append(senders, sender)
		ok := true
		for _, d := range copies {
			if w := s.stored(want[sender]); !bytes.Equal(w, d.message) {
				checkBytes(t, sender, w, d.message)
				ok = false
			}
		}
		if ok {
			intact++
		}
		s.box.count(1, len(copies), ok)
	}
	s.box.settled(t, senders)
	return intact
}

// TestMTABatch sends 1,000 messages on one connection with SendBatch (pipelined, BDAT), one
// of them to a refused recipient only: 1,000 MAIL commands, Exim's default limit per
// connection.
func TestMTABatch(t *testing.T) {
	for _, s := range mtas(t) {
		t.Run(s.name, func(t *testing.T) {
			ctx := testContext(t)
			c := dialPlain(t, ctx, s.addr)
			envs, want := batchEnvelopes(s.name+"-batch", 999, "batch@example.org")
			mid := len(envs) / 2
			refused := session.Envelope{From: uniqueSender(s.name + "-batch-refused"), To: []string{"refuse-batch@example.org"},
				Body: strings.NewReader("x\r\n")}
			envs = append(envs[:mid], append([]session.Envelope{refused}, envs[mid:]...)...)
			results := c.SendBatch(ctx, envs)
			if len(results) == len(envs) {
				var rre *session.RecipientsRefusedError
				if !errors.As(results[mid].Err, &rre) || rre.Recipient("refuse-batch@example.org") == nil {
					t.Errorf("refused message in the batch: %v, want *RecipientsRefusedError", results[mid].Err)
				}
				results = append(results[:mid], results[mid+1:]...)
				envs = append(envs[:mid], envs[mid+1:]...)
			}
			intact := s.checkBatch(t, envs, results, want, s.proto(false, false, false))
			t.Logf("%s: %d messages sent in one batch, %d stored byte-identical", s.name, len(envs), intact)
			if _, err := c.Quit(ctx); err != nil {
				t.Errorf("Quit: %v", err)
			}
		})
	}
}

// TestMTAConcurrent: 8 connections at once, each its own Client in its own goroutine (half
// by BDAT, half by DATA), 2,000 messages in all, sent as batches of 50; every message must
// be stored exactly once, byte for byte.
func TestMTAConcurrent(t *testing.T) {
	const conns, total, perBatch = 8, 2000, 50
	for _, s := range mtas(t) {
		t.Run(s.name, func(t *testing.T) {
			ctx := testContext(t)
			var mu sync.Mutex
			want := map[string][]byte{}
			var envs []session.Envelope
			var results []session.BatchResult
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for g := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := session.Dial(ctx, s.addr, &session.Options{LocalName: "client.postwire.test", DisableChunking: g%2 == 1})
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					rcpts := []string{fmt.Sprintf("conn%d@example.org", g)}
					for b := range total / conns / perBatch {
						var batch []session.Envelope
						for k := range perBatch {
							sender := uniqueSender(fmt.Sprintf("%s-conc-%d", s.name, g))
							raw := largeBody(header("\r\n", sender, rcpts, fmt.Sprintf("connection %d batch %d message %d", g, b, k)), 512+(k%9)*700)
							batch = append(batch, session.Envelope{From: sender, To: rcpts, Body: &oddReader{b: raw}})
							mu.Lock()
							want[sender] = arrived(raw)
							mu.Unlock()
						}
						res := c.SendBatch(ctx, batch)
						mu.Lock()
						envs = append(envs, batch...)
						results = append(results, res...)
						mu.Unlock()
					}
					if _, err := c.Quit(ctx); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if len(envs) != total {
				t.Fatalf("%d of %d messages sent", len(envs), total)
			}
			intact := s.checkBatch(t, envs, results, want, s.proto(false, false, false))
			t.Logf("%s: %d messages sent over %d connections, %d stored byte-identical", s.name, total, conns, intact)
		})
	}
}
