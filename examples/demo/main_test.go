package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/session/smtptest"
)

// TestMain lets TestMainProcess run main itself in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("DEMO_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

const defaultPassword = "correct horse battery staple"

// runDemo runs the program with POSTWIRE_PASSWORD set to pw.
func runDemo(t *testing.T, pw string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, func(k string) string {
		if k == "POSTWIRE_PASSWORD" {
			return pw
		}
		return ""
	})
	return code, out.String(), errOut.String()
}

// inOrder reports the first of want that does not appear in s after the
// previous one, or "".
func inOrder(s string, want []string) string {
	for _, w := range want {
		i := strings.Index(s, w)
		if i < 0 {
			return w
		}
		s = s[i+len(w):]
	}
	return ""
}

func TestDemo(t *testing.T) {
	defer test.CheckRoutines(t)()
	// stored is the end of the output: the server's reply and the message.
	stored := func(tls bool) []string {
		return []string{
			"--- accepted: 250 2.0.0 OK: message queued\n",
			fmt.Sprintf("--- message stored by the server (from <alice@example.com> to [bob@example.net], TLS %v, user \"demo\"):\n", tls),
			"From: <alice@example.com>\r\n",
			"To: <bob@example.net>\r\n",
			"Subject: Hello from postwire\r\n",
			"Date: ",
			"\r\n\r\nThis is postwire's demo message.\r\n",
		}
	}
	tests := []struct {
		name     string
		args     []string
		password string // POSTWIRE_PASSWORD
		want     []string
	}{
		{
			name: "default: STARTTLS then SCRAM",
			want: append([]string{
				"--- conversation with 127.0.0.1:",
				"S: 220 mx.demo.example ESMTP",
				"C: EHLO client.example\n",
				"S: 250-STARTTLS\n",
				"C: STARTTLS\n",
				"S: 220 2.0.0 ready to start TLS\n",
				"   [TLS handshake]\n",
				"C: EHLO client.example\n",
				"SCRAM-SHA-256-PLUS", // offered over TLS 1.3 only
				"C: AUTH SCRAM-SHA-256-PLUS [redacted]\n",
				"S: 334 [redacted]\n",
				"C: [redacted]\n",
				"S: 235 2.7.0 authentication successful\n",
				"C: MAIL FROM:<alice@example.com>",
				"C: RCPT TO:<bob@example.net>",
				"S: 250 2.0.0 OK: message queued\n",
				"C: QUIT\n",
				"S: 221 ",
			}, stored(true)...),
		},
		{
			name: "implicit TLS",
			args: []string{"-tls", "implicit"},
			want: append([]string{
				"S: 220 mx.demo.example ESMTP",
				"C: AUTH SCRAM-SHA-256-PLUS [redacted]\n",
			}, stored(true)...),
		},
		{
			name: "cleartext on loopback",
			args: []string{"-tls", "none"},
			want: append([]string{
				"S: 250-STARTTLS\n",
				"C: AUTH SCRAM-SHA-256 [redacted]\n", // no -PLUS without TLS
			}, stored(false)...),
		},
		{
			name:     "own user, recipients and password",
			args:     []string{"-tls", "opportunistic", "-user", "frank", "-from", "frank@example.org", "-to", "grace@example.com"},
			password: "frank's own password",
			want: []string{
				"C: STARTTLS\n",
				"C: AUTH SCRAM-SHA-256-PLUS [redacted]\n",
				"C: MAIL FROM:<frank@example.org>",
				"C: RCPT TO:<grace@example.com>",
				"--- accepted: 250 2.0.0 OK: message queued\n",
				`(from <frank@example.org> to [grace@example.com], TLS true, user "frank")`,
				"From: <frank@example.org>\r\n",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runDemo(t, tt.password, tt.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit status %d, stderr %q; stdout:\n%s", code, errOut, out)
			}
			if missing := inOrder(out, tt.want); missing != "" {
				t.Errorf("output lacks %q (in order):\n%s", missing, out)
			}
			for _, secret := range []string{defaultPassword, "frank's own password"} {
				if strings.Contains(out, secret) {
					t.Errorf("the password %q appears in the output", secret)
				}
			}
			if n := strings.Count(out, "--- message stored by the server"); n != 1 {
				t.Errorf("%d stored messages printed, want 1", n)
			}
		})
	}
}

// With -addr the demo talks to that server only; its failures are one line
// on stderr naming the server.
func TestDemoErrors(t *testing.T) {
	serverTLS, _, err := smtptest.TLSConfigs()
	if err != nil {
		t.Fatal(err)
	}
	plain := smtptest.NewServer(smtptest.Config{})
	defer plain.Close()
	plainAddr, err := plain.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	untrusted := smtptest.NewServer(smtptest.Config{TLS: serverTLS})
	defer untrusted.Close()
	untrustedAddr, err := untrusted.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		password   string
		wantStderr string
	}{
		{"unknown TLS mode", []string{"-tls", "maybe"}, "",
			"demo: unknown -tls mode \"maybe\" (want starttls, opportunistic, implicit or none)\n"},
		{"STARTTLS not offered", []string{"-addr", plainAddr.String()}, "",
			"demo: " + plainAddr.String() + ": the server does not offer STARTTLS\n"},
		{"certificate not trusted", []string{"-addr", untrustedAddr.String()}, "",
			"demo: " + untrustedAddr.String() + ": TLS handshake with 127.0.0.1 failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\n"},
		{"user without password", []string{"-addr", plainAddr.String(), "-user", "me"}, "",
			"demo: -user needs the password in the POSTWIRE_PASSWORD environment variable\n"},
		{"no AUTH offered", []string{"-addr", plainAddr.String(), "-tls", "none", "-user", "me"}, "pw",
			"demo: " + plainAddr.String() + ": the server does not offer AUTH\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runDemo(t, tt.password, tt.args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if diff := cmp.Diff(tt.wantStderr, errOut); diff != "" {
				t.Errorf("stderr mismatch (-want +got):\n%s", diff)
			}
			if strings.Contains(out, "--- accepted") {
				t.Errorf("stdout claims success:\n%s", out)
			}
		})
	}
	if n := len(plain.Messages()) + len(untrusted.Messages()); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
}

// TestMainProcess runs main as `go run ./examples/demo` would: no flags,
// nothing in the environment.
func TestMainProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "DEMO_TEST_MAIN=1", "POSTWIRE_PASSWORD=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("exit status %d, stderr:\n%s", exit.ExitCode(), errOut.String())
		}
		t.Fatal(err)
	}
	if missing := inOrder(out.String(), []string{"C: STARTTLS", "C: AUTH SCRAM", "--- message stored by the server", "Subject: Hello from postwire"}); missing != "" {
		t.Errorf("output lacks %q:\n%s", missing, out.String())
	}

	bad := exec.Command(os.Args[0], "-tls", "maybe")
	bad.Env = append(os.Environ(), "DEMO_TEST_MAIN=1")
	errOut.Reset()
	bad.Stderr = &errOut
	err := bad.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("with a bad flag value: %v, want exit status 1", err)
	}
	if got := strings.Count(errOut.String(), "\n"); got != 1 {
		t.Errorf("stderr has %d lines, want 1:\n%s", got, errOut.String())
	}
}
