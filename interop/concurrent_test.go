//go:build interop

package interop

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/postwire/postwire/session"
)

// TestConcurrentClients: eight clients at once against each server, each sending three
// different messages over its own connection; every message must arrive intact. (Run
// `GOFLAGS=-race make interop` to have the race detector watch this.)
func TestConcurrentClients(t *testing.T) {
	type target struct {
		name   string
		dial   func() (*session.Client, error)
		rcpt   string
		stored func(t *testing.T, sender string) []byte
		dumped bool // smtp-sink: compare the LF form
	}
	aio := mustEnv(t, "POSTWIRE_INTEROP_AIOSMTPD_PLAIN")
	dovecot := mustEnv(t, "POSTWIRE_INTEROP_DOVECOT_TCP")
	sink := mustEnv(t, "POSTWIRE_INTEROP_SINK")
	o := &session.Options{LocalName: "client.postwire.test"}
	ctx := testContext(t)
	targets := []target{
		{"aiosmtpd", func() (*session.Client, error) { return session.Dial(ctx, aio, o) }, "c@example.org",
			func(t *testing.T, s string) []byte { _, b := aiosmtpdStored(t, "plain", s); return b }, false},
		{"Dovecot", func() (*session.Client, error) { return session.DialLMTP(ctx, dovecot, o) }, "carol@example.org",
			func(t *testing.T, s string) []byte { return dovecotStored(t, "carol", s, "carol@example.org") }, false},
		{"smtp-sink", func() (*session.Client, error) { return session.Dial(ctx, sink, o) }, "c@example.net",
			func(t *testing.T, s string) []byte { return sinkStored(t, "pipelining", s).Message }, true},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			const clients, perClient = 8, 3
			type sent struct {
				sender string
				want   []byte
			}
			var mu sync.Mutex
			var all []sent
			var wg sync.WaitGroup
			errs := make(chan error, clients*perClient)
			for g := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := tg.dial()
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					for k := range perClient {
						sender := uniqueSender(fmt.Sprintf("concurrent-%s-%d", tg.name, g))
						raw := largeBody(header("\r\n", sender, []string{tg.rcpt}, fmt.Sprintf("client %d message %d", g, k)), (g*perClient+k+1)*20<<10)
						if _, err := c.SendMail(ctx, sender, []string{tg.rcpt}, &oddReader{b: raw}, nil); err != nil {
							errs <- fmt.Errorf("client %d message %d: %w", g, k, err)
							return
						}
						mu.Lock()
						all = append(all, sent{sender, arrived(raw)})
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
			if len(all) != clients*perClient {
				t.Fatalf("%d of %d messages sent", len(all), clients*perClient)
			}
			for _, m := range all {
				want := m.want
				if tg.dumped {
					want = asDumped(want)
				}
				got := tg.stored(t, m.sender)
				if !bytes.Equal(want, got) {
					checkBytes(t, m.sender, want, got)
				}
			}
		})
	}
}
