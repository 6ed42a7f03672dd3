package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/session/smtptest"
)

// throughput matches the summary line; the figures vary from run to run.
func throughput(done, count, conns int) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`^%d of %d messages accepted over %d connections in \d+\.\d{3}s: \d+\.\d messages/s\n`, done, count, conns))
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
		conns     int // connections the server sees
		wantTo    []string
		wantBytes string // of every stored message; "" for a built one
	}{
		{name: "built message", flags: []string{"-from", "carol@example.com", "-to", "dave@example.net", "-subject", "load"},
			pool: 4, count: 40, conns: 4, wantTo: []string{"dave@example.net"}},
		{name: "from standard input, envelope from the headers", stdin: msg, pool: 3, count: 7, conns: 3,
			wantTo:    []string{"dave@example.net", "nobody@example.net", "erin@example.org"},
			wantBytes: "From: Carol <carol@example.com>\r\nTo: dave@example.net\r\nCc: nobody@example.net\r\nSubject: test\r\n\r\nHello.\r\n.leading dot\r\n"},
		{name: "more connections than copies", flags: []string{"-from", "carol@example.com", "-to", "dave@example.net", "-body", "x"},
			pool: 5, count: 2, conns: 2, wantTo: []string{"dave@example.net"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, smtptest.Config{RcptFunc: func(string) smtptest.Reply { return smtptest.Reply{} }}, false, "tcp")
			args := append([]string{"-server", f.addr, "-pool", fmt.Sprint(tt.pool), "-count", fmt.Sprint(tt.count)}, tt.flags...)
			got := runSendmail(t, args, tt.stdin, "")
			if got.Code != cli.ExitOK || got.Stderr != "" {
				t.Fatalf("status %d, stderr %q", got.Code, got.Stderr)
			}
			if re := throughput(tt.count, tt.count, tt.conns); !re.MatchString(got.Stdout) {
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
			if n := len(f.srv.Conns()); n != tt.conns {
				t.Errorf("%d connections, want %d", n, tt.conns)
			}
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
	re := regexp.MustCompile(throughput(15, 20, 2).String() + `0 with some recipients refused, 5 failed\n$`)
	if !re.MatchString(got.Stdout) {
		t.Errorf("stdout %q does not match %s", got.Stdout, re)
	}
	if want := "sendmail: " + f.addr + ": the first failure: message refused: 554 spam\n"; got.Stderr != want {
		t.Errorf("stderr %q, want %q", got.Stderr, want)
	}
	if got := len(f.srv.Messages()); got != 15 {
		t.Errorf("%d messages stored, want 15", got)
	}
	if got := len(f.srv.Conns()); got != 2 {
		t.Errorf("%d connections, want 2: a refusal leaves the connection usable", got)
	}
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
	re := regexp.MustCompile(throughput(4, 4, 2).String() + `4 with some recipients refused, 0 failed\n$`)
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
	if re := throughput(0, 5, 2); !re.MatchString(out.String()) {
		t.Errorf("stdout %q does not match %s", out.String(), re)
	}
	if want := "sendmail: " + f.addr + ": the first failure: interrupted\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
	if n := len(f.srv.Messages()); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
}
