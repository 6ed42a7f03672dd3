package main

import (
	"errors"
	"go/parser"
	"go/token"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/session/smtptest"
)

// -h and -help print the usage on standard output and succeed; it says
// where the message comes from and what the exit statuses mean.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help"} {
		got := runSendmail(t, []string{arg}, "", "")
		if got.Code != cli.ExitOK || got.Stderr != "" {
			t.Errorf("%s: status %d, stderr %q; want 0 and nothing", arg, got.Code, got.Stderr)
		}
		for _, want := range []string{"Usage: sendmail", "the message read from standard input", "-pool N", exitStatuses} {
			if !strings.Contains(got.Stdout, want) {
				t.Errorf("%s: the usage lacks %q:\n%s", arg, want, got.Stdout)
			}
		}
	}
	// In the real process too.
	got := runMain(t, "", nil, "-h")
	if got.Code != 0 || !strings.HasPrefix(got.Stdout, "Usage: sendmail") {
		t.Errorf("sendmail -h: status %d, stdout %q", got.Code, got.Stdout)
	}
}

// The package comment documents the exit statuses the usage prints.
func TestUsageMatchesDoc(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(f.Doc.Text()), " ")
	for _, line := range strings.Split(strings.TrimSpace(exitStatuses), "\n")[1:] {
		if line = strings.Join(strings.Fields(line), " "); !strings.Contains(doc, line) {
			t.Errorf("the package comment lacks %q", line)
		}
	}
}

// failingReader fails the test if the program reads standard input.
type failingReader struct{ t *testing.T }

func (r failingReader) Read([]byte) (int, error) {
	r.t.Error("standard input was read")
	return 0, io.EOF
}

// Every exit status the program can give, each from a real conversation
// (68, a host that does not exist, needs DNS: cli's TestExitCode has it).
func TestExitCodes(t *testing.T) {
	defer test.CheckRoutines(t)()
	refuseMAIL := func(raw string) smtptest.Config {
		return smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
			if ev.Verb == "MAIL" {
				return smtptest.Action{Raw: raw}
			}
			return smtptest.Action{}
		}}
	}
	envelope := []string{"-from", "carol@example.com", "-to", "dave@example.net"}
	tests := []struct {
		name       string
		cfg        smtptest.Config
		args       []string // after -server addr
		stdin      io.Reader
		want       int
		wantStderr string // a part of it
	}{
		{name: "accepted", args: envelope, want: cli.ExitOK},
		{name: "unknown flag", args: []string{"-bogus"}, want: cli.ExitUsage, wantStderr: "flag provided but not defined: -bogus\nUsage: sendmail"},
		{name: "pool of none", args: append([]string{"-pool", "0"}, envelope...), want: cli.ExitUsage, wantStderr: "-pool and -count must be at least 1"},
		{name: "test message without an envelope", args: []string{"-subject", "x"}, want: cli.ExitUsage,
			wantStderr: "-subject and -body need -from and -to"},
		{name: "subject of two lines", args: append([]string{"-subject", "a\r\nBcc: x@example.org"}, envelope...), want: cli.ExitUsage,
			wantStderr: "-subject must be one line"},
		{name: "header without a sender", stdin: strings.NewReader("To: dave@example.net\r\n\r\nhi\r\n"), want: cli.ExitDataErr,
			wantStderr: "message header has no sender address"},
		{name: "address with a line break", args: []string{"-from", "carol@example.com", "-to", "dave@example.net\r\nRSET"}, want: cli.ExitDataErr},
		{name: "message refused", cfg: smtptest.Config{DataFunc: func(*smtptest.Message) smtptest.Reply { return smtptest.Reply{Code: 554, Text: "no"} }},
			args: envelope, want: cli.ExitDataErr, wantStderr: "message refused: 554 no"},
		{name: "message too large for -count", args: append([]string{"-count", "2"}, envelope...),
			stdin: strings.NewReader(strings.Repeat("x", maxHeld+1)), want: cli.ExitDataErr, wantStderr: "larger than 16 MiB"},
		{name: "cafile missing", args: append([]string{"-cafile", "/nonexistent/ca.pem"}, envelope...), want: cli.ExitNoInput,
			wantStderr: "sendmail: cannot use /nonexistent/ca.pem: no such file or directory\n"},
		{name: "greeting refused", cfg: smtptest.Config{Greeting: "554 5.3.2 no service\r\n"}, args: envelope, want: cli.ExitUnavailable,
			wantStderr: "the server refused the connection: 554 5.3.2 no service"},
		{name: "sender refused", cfg: refuseMAIL("553 5.7.1 not you\r\n"), args: envelope, want: cli.ExitUnavailable,
			wantStderr: "sender <carol@example.com> refused: 553 5.7.1 not you"},
		{name: "standard input unreadable", args: envelope, stdin: iotest.ErrReader(errors.New("disk on fire")), want: cli.ExitIOErr,
			wantStderr: "sendmail: reading the message: disk on fire\n"},
		{name: "standard input failing midway", args: envelope,
			stdin: io.MultiReader(strings.NewReader("Subject: x\r\n\r\npartial"), iotest.ErrReader(errors.New("disk on fire"))),
			want:  cli.ExitIOErr, wantStderr: "reading the message: disk on fire"},
		{name: "sender refused for now", cfg: refuseMAIL("451 4.3.0 try later\r\n"), args: envelope, want: cli.ExitTempFail,
			wantStderr: "sender <carol@example.com> refused: 451 4.3.0 try later"},
		{name: "421 at the greeting", cfg: smtptest.Config{Greeting: "421 4.3.2 busy\r\n"}, args: envelope, want: cli.ExitTempFail},
		{name: "hang-up at MAIL", cfg: smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
			return smtptest.Action{Disconnect: ev.Verb == "MAIL"}
		}}, args: envelope, want: cli.ExitTempFail, wantStderr: "the server closed the connection unexpectedly"},
		{name: "garbled reply", cfg: smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
			if ev.Verb == "EHLO" {
				return smtptest.Action{Raw: "25O garbage\r\n"}
			}
			return smtptest.Action{}
		}}, args: envelope, want: cli.ExitProtocol, wantStderr: "the server broke the protocol"},
		{name: "authentication required", cfg: smtptest.Config{RequireTLS: true}, args: append([]string{"-tls", "none"}, envelope...),
			want: cli.ExitNoPerm, wantStderr: "530 5.7.0"},
		{name: "bad password", args: append([]string{"-user", user}, envelope...), want: cli.ExitNoPerm, wantStderr: "authentication failed: 535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, tt.cfg, false, "tcp")
			stdin := tt.stdin
			if stdin == nil {
				stdin = strings.NewReader(msg)
			}
			got := runSendmailFrom(t, append([]string{"-server", f.addr}, tt.args...), stdin, "wrong")
			if got.Code != tt.want {
				t.Errorf("exit status %d, want %d; stderr:\n%s", got.Code, tt.want, got.Stderr)
			}
			if !strings.Contains(got.Stderr, tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, got.Stderr)
			}
		})
	}
}

// A server that is not there: 75, try again later (sysexits.h's mailer
// that "could not create a connection").
func TestExitConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	got := runSendmail(t, []string{"-server", addr, "-from", "carol@example.com", "-to", "dave@example.net"}, msg, "")
	want := outcome{Code: cli.ExitTempFail, Stderr: "sendmail: " + addr + ": cannot connect: connection refused\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}
}

// A -cafile without a certificate in it is refused before connecting.
func TestExitCAFileWithoutPEM(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := runSendmail(t, []string{"-server", "127.0.0.1:1", "-cafile", file, "-from", "a@example.com", "-to", "b@example.com"}, msg, "")
	want := outcome{Code: cli.ExitNoInput, Stderr: "sendmail: cannot use " + file + ": no PEM certificate found\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}
}
