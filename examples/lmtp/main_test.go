package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session/smtptest"
)

func runLMTP(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// The built-in run delivers to three recipients, refuses one, and leaves
// no socket behind.
func TestBuiltIn(t *testing.T) {
	code, out, errOut := runLMTP()
	if code != 0 || errOut != "" {
		t.Fatalf("exit status %d, stderr %q", code, errOut)
	}
	header, table, ok := strings.Cut(out, "\n")
	socket, found := strings.CutPrefix(header, "--- delivery through ")
	if !ok || !found || !filepath.IsAbs(socket) {
		t.Fatalf("first line %q does not name the socket", header)
	}
	want := "alice@example.net  delivered        250 2.0.0 delivered to INBOX\n" +
		"full@example.net   refused for now  452 4.2.2 mailbox full\n" +
		"bob@example.net    delivered        250 2.0.0 delivered to INBOX\n"
	if diff := cmp.Diff(want, table); diff != "" {
		t.Errorf("per-recipient results mismatch (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Dir(socket)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary directory %s left behind (stat: %v)", filepath.Dir(socket), err)
	}
}

func TestVerbose(t *testing.T) {
	code, _, errOut := runLMTP("-v", "-to", "alice@example.net")
	if code != 0 {
		t.Fatalf("exit status %d, stderr:\n%s", code, errOut)
	}
	for _, want := range []string{"S: 220 lmtp.demo.example LMTP", "C: LHLO client.example\n", "C: RCPT TO:<alice@example.net>", "S: 250 2.0.0 delivered to INBOX", "C: QUIT"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("transcript lacks %q:\n%s", want, errOut)
		}
	}
}

// With -socket the program talks to that server; the exit status tells
// whether every recipient got the message.
func TestSocket(t *testing.T) {
	defer test.CheckRoutines(t)()
	srv := smtptest.NewServer(smtptest.Config{
		LMTP: true,
		RcptFunc: func(addr string) smtptest.Reply {
			if addr == "ghost@example.net" {
				return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no such user"}
			}
			return smtptest.Reply{}
		},
		LMTPFunc: func(rcpt string, _ *smtptest.Message) smtptest.Reply {
			if rcpt == "quota@example.net" {
				return smtptest.Reply{Code: 552, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 2, Detail: 2}, Text: "over quota"}
			}
			return smtptest.Reply{}
		},
	})
	defer srv.Close()
	socket := filepath.Join(t.TempDir(), "lmtp")
	if _, err := srv.Listen("unix", socket); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:     "refused at RCPT and after the data",
			args:     []string{"-socket", socket, "-to", "a@example.net,ghost@example.net,quota@example.net"},
			wantCode: 1,
			wantStdout: "--- delivery through " + socket + "\n" +
				"a@example.net      delivered  250 2.1.5 <a@example.net> delivered\n" +
				"ghost@example.net  refused    550 5.1.1 no such user\n" +
				"quota@example.net  refused    552 5.2.2 over quota\n",
		},
		{
			name:     "all delivered",
			args:     []string{"-socket", socket, "-to", "a@example.net,b@example.net"},
			wantCode: 0,
			wantStdout: "--- delivery through " + socket + "\n" + "a@example.net  delivered  250 2.1.5 <a@example.net> delivered\n" +
				"b@example.net  delivered  250 2.1.5 <b@example.net> delivered\n",
		},
		{
			name:     "nobody",
			args:     []string{"-socket", socket, "-to", "quota@example.net"},
			wantCode: 2,
			wantStdout: "--- delivery through " + socket + "\n" +
				"quota@example.net  refused  552 5.2.2 over quota\n",
			wantStderr: "lmtp: " + socket + ": all recipients refused: <quota@example.net> 552 5.2.2 over quota\n",
		},
		{
			name:       "relative path",
			args:       []string{"-socket", "var/run/lmtp"},
			wantCode:   2,
			wantStderr: "lmtp: var/run/lmtp: cannot connect: unix socket path is not absolute\n",
		},
		{
			name:       "no server there",
			args:       []string{"-socket", socket + ".none"},
			wantCode:   2,
			wantStderr: "lmtp: " + socket + ".none: cannot connect: no such file or directory\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runLMTP(tt.args...)
			type result struct {
				Code           int
				Stdout, Stderr string
			}
			if diff := cmp.Diff(result{tt.wantCode, tt.wantStdout, tt.wantStderr}, result{code, out, errOut}); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
