package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/session/smtptest"
)

// throughput matches the summary line, the connections in its first
// group; the figures vary from run to run.
func throughput(done, count int) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`^%d of %d messages accepted over (\d+) connections in \d+\.\d{3}s: \d+\.\d messages/s\n`, done, count))
}

// checkConns checks that the summary line gives the connections the
// server saw, and that they were at most max.
func checkConns(t *testing.T, stdout string, srv *smtptest.Server, max int) {
	t.Helper()
	m := regexp.MustCompile(` over (\d+) connections in `).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("stdout %q gives no connections", stdout)
	}
	n := len(srv.Conns())
	if m[1] != strconv.Itoa(n) || n > max {
		t.Errorf("%s connections reported, the server saw %d, want at most %d", m[1], n, max)
	}
}

// -pool N -count M sends M copies over N connections, each stored once.
func TestLoad(t *testing.T) {
	defer test.CheckRoutines(t)()
	tests := []struct {
		name      string
		flags     []string
		stdin     string
		pool      int
		count     int
		wantTo    []string
		wantBytes string // of every stored message; "" for a built one
	}{
		{name: "built message", flags: []string{"-from", "carol@example.com", "-to", "dave@example.net", "-subject", "load"},
			pool: 4, count: 40, wantTo: []string{"dave@example.net"}},
		{name: "from standard input, envelope from the headers", stdin: msg, pool: 3, count: 7,
			wantTo:    []string{"dave@example.net", "nobody@example.net", "erin@example.org"},
			wantBytes: "From: Carol <carol@example.com>\r\nTo: dave@example.net\r\nCc: nobody@example.net\r\nSubject: test\r\n\r\nHello.\r\n.leading dot\r\n"},
		{name: "more connections than copies", flags: []string{"-from", "carol@example.com", "-to", "dave@example.net", "-body", "x"},
			pool: 5, count: 2, wantTo: []string{"dave@example.net"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, smtptest.Config{RcptFunc: func(string) smtptest.Reply { return smtptest.Reply{} }}, false, "tcp")
			args := append([]string{"-server", f.addr, "-pool", fmt.Sprint(tt.pool), "-count", fmt.Sprint(tt.count)}, tt.flags...)
			got := runSendmail(t, args, tt.stdin, "")
			if got.Code != cli.ExitOK || got.Stderr != "" {
				t.Fatalf("status %d, stderr %q", got.Code, got.Stderr)
			}
			if re := throughput(tt.count, tt.count); !re.MatchString(got.Stdout) {
				t.Errorf("stdout %q does not match %s", got.Stdout, re)
			}
			f.srv.Close()
			msgs := f.srv.Messages()
			if len(msgs) != tt.count {
				t.Fatalf("%d messages stored, want %d", len(msgs), tt.count)
			}
			for _, m := range msgs {
				if diff := cmp.Diff(tt.wantTo, m.To); diff != "" {
					t.Fatalf("recipients (-want +got):\n%s", diff)
				}
				if tt.wantBytes != "" && string(m.Data) != tt.wantBytes {
					t.Fatalf("stored message differs from what was sent:\n%s", m.Data)
				}
				if !bytes.Equal(m.Data, msgs[0].Data) {
					t.Fatalf("the copies differ:\n%s\n%s", m.Data, msgs[0].Data)
				}
			}
			checkConns(t, got.Stdout, f.srv, min(tt.pool, tt.count))
		})
	}
}

// Copies the server refuses are counted, and the first failure decides
// the exit status.
func TestLoadFailures(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // after the server's Close
	var n atomic.Int64
	f := start(t, smtptest.Config{DataFunc: func(*smtptest.Message) smtptest.Reply {
		if n.Add(1)%4 == 0 {
			return smtptest.Reply{Code: 554, Text: "spam"}
		}
		return smtptest.Reply{}
	}}, false, "tcp")
	args := []string{"-server", f.addr, "-pool", "2", "-count", "20", "-from", "carol@example.com", "-to", "dave@example.net", "-body", "x"}
	got := runSendmail(t, args, "", "")
	if got.Code != cli.ExitDataErr {
		t.Errorf("exit status %d, want %d", got.Code, cli.ExitDataErr)
	}
	re := regexp.MustCompile(throughput(15, 20).String() + `0 with some recipients refused, 5 failed\n$`)
	if !re.MatchString(got.Stdout) {
		t.Errorf("stdout %q does not match %s", got.Stdout, re)
	}
	if want := "sendmail: " + f.addr + ": the first failure: message refused: 554 spam\n"; got.Stderr != want {
		t.Errorf("stderr %q, want %q", got.Stderr, want)
	}
	if got := len(f.srv.Messages()); got != 15 {
		t.Errorf("%d messages stored, want 15", got)
	}
	checkConns(t, got.Stdout, f.srv, 2) // a refusal leaves the connection usable
}

// Some recipients refused in every copy: the exit status says so.
func TestLoadPartialRefusal(t *testing.T) {
	f := start(t, smtptest.Config{}, false, "tcp") // refuses nobody@example.net
	args := []string{"-server", f.addr, "-pool", "2", "-count", "4", "-from", "carol@example.com",
		"-to", "dave@example.net,nobody@example.net", "-body", "x"}
	got := runSendmail(t, args, "", "")
	want := cli.ExitUnavailable // 550 5.1.1
	if got.Code != want {
		t.Errorf("exit status %d, want %d", got.Code, want)
	}
	re := regexp.MustCompile(throughput(4, 4).String() + `4 with some recipients refused, 0 failed\n$`)
	if !re.MatchString(got.Stdout) {
		t.Errorf("stdout %q does not match %s", got.Stdout, re)
	}
	if want := "sendmail: " + f.addr + ": some recipients refused\n"; got.Stderr != want {
		t.Errorf("stderr %q, want %q", got.Stderr, want)
	}
}

// An interrupted load test is not a success, though no copy failed.
func TestLoadInterrupted(t *testing.T) {
	f := start(t, smtptest.Config{}, false, "tcp")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C before the first copy
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"-server", f.addr, "-pool", "2", "-count", "5", "-from", "carol@example.com", "-to", "dave@example.net", "-body", "x"},
		stdio{in: failingReader{t}, out: &out, err: &errOut, getenv: func(string) string { return "" }})
	if code != cli.ExitTempFail {
		t.Errorf("exit status %d, want %d", code, cli.ExitTempFail)
	}
	if re := throughput(0, 5); !re.MatchString(out.String()) {
		t.Errorf("stdout %q does not match %s", out.String(), re)
	}
	if want := "sendmail: " + f.addr + ": the first failure: interrupted\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
	if n := len(f.srv.Messages()); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
	checkConns(t, out.String(), f.srv, 0)
}

// A server that closes every connection with 421 after 10 messages, as
// Exim does after 1,000: the pool dials again and re-sends what the 421
// refused; every copy is stored once.
func TestLoadServerLimit(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	var mu sync.Mutex
	mails := map[int]int{}
	f := start(t, smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Kind != smtptest.HookCommand || ev.Verb != "MAIL" {
			return smtptest.Action{}
		}
		mu.Lock()
		defer mu.Unlock()
		if mails[ev.Conn.ID]++; mails[ev.Conn.ID] > 10 {
			return smtptest.Action{Raw: "421 4.7.0 too many messages in this connection\r\n", Disconnect: true}
		}
		return smtptest.Action{}
	}}, false, "tcp")
	args := []string{"-server", f.addr, "-pool", "2", "-count", "45", "-from", "carol@example.com", "-to", "dave@example.net", "-body", "x"}
	got := runSendmail(t, args, "", "")
	if got.Code != cli.ExitOK || got.Stderr != "" {
		t.Fatalf("status %d, stderr %q", got.Code, got.Stderr)
	}
	if re := throughput(45, 45); !re.MatchString(got.Stdout) {
		t.Errorf("stdout %q does not match %s", got.Stdout, re)
	}
	f.srv.Close()
	if n := len(f.srv.Messages()); n != 45 {
		t.Errorf("%d messages stored, want 45", n)
	}
	checkConns(t, got.Stdout, f.srv, 45/10+2) // at most 10 messages each, and 2 at a time
	if n := len(f.srv.Conns()); n < 5 {
		t.Errorf("%d connections for 45 messages at most 10 each", n)
	}
}
