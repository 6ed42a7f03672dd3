package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/examples/internal/cli"
	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session/smtptest"
)

const (
	user     = "carol"
	password = "s3cret-Pa55word"
	msg      = "From: Carol <carol@example.com>\r\n" +
		"To: dave@example.net\r\n" +
		"Cc: nobody@example.net\r\n" +
		"Bcc: erin@example.org\r\n" +
		"Subject: test\r\n" +
		"\r\n" +
		"Hello.\r\n" +
		".leading dot\r\n"
)

// TestMain lets the tests run main itself in a child process (see runMain).
func TestMain(m *testing.M) {
	if os.Getenv("SENDMAIL_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// fixture is an in-process server on loopback TCP (or a Unix socket) and a
// PEM file holding its certificate.
type fixture struct {
	srv    *smtptest.Server
	addr   string
	cafile string
}

// start starts a server with cfg; with tlsOn it offers STARTTLS with a new
// certificate. Every server has the user carol and refuses nobody@example.net.
func start(t *testing.T, cfg smtptest.Config, tlsOn bool, network string) fixture {
	t.Helper()
	cert, _, err := smtptest.NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if tlsOn {
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	cfg.Users = map[string]string{user: password}
	if cfg.RcptFunc == nil {
		cfg.RcptFunc = func(addr string) smtptest.Reply {
			if addr == "nobody@example.net" {
				return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no such user"}
			}
			return smtptest.Reply{}
		}
	}
	srv := smtptest.NewServer(cfg)
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	laddr := "127.0.0.1:0"
	if network == "unix" {
		laddr = filepath.Join(dir, "lmtp.sock")
	}
	a, err := srv.Listen(network, laddr)
	if err != nil {
		t.Fatal(err)
	}
	cafile := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	if err := os.WriteFile(cafile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return fixture{srv: srv, addr: a.String(), cafile: cafile}
}

type outcome struct {
	Code           int
	Stdout, Stderr string
}

// runSendmail runs the program with a fake process around it. pw is
// POSTWIRE_PASSWORD; asking for a password on the terminal fails the test.
func runSendmail(t *testing.T, args []string, stdin, pw string) outcome {
	t.Helper()
	return runSendmailFrom(t, args, strings.NewReader(stdin), pw)
}

// runSendmailFrom is runSendmail with standard input read from stdin.
func runSendmailFrom(t *testing.T, args []string, stdin io.Reader, pw string) outcome {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, stdio{
		in: stdin, out: &out, err: &errOut,
		getenv: func(k string) string {
			if k == "POSTWIRE_PASSWORD" {
				return pw
			}
			return ""
		},
		askPassword: func(context.Context, string) (string, error) {
			t.Error("the program asked for a password on the terminal")
			return "", errNoTerminal
		},
	})
	return outcome{code, out.String(), errOut.String()}
}

func TestSend(t *testing.T) {
	defer test.CheckRoutines(t)()
	ok := "250 2.0.0 OK: message queued"
	tests := []struct {
		name     string
		tlsOn    bool
		cfg      smtptest.Config
		args     func(f fixture) []string
		pw       string
		want     func(f fixture) outcome
		wantTo   []string // recipients of the stored message; nil: nothing stored
		wantAuth string
	}{
		{
			name:  "starttls and auth, recipients from flags",
			tlsOn: true,
			args: func(f fixture) []string {
				return []string{"-server", f.addr, "-cafile", f.cafile, "-tls", "starttls", "-user", user,
					"-from", "carol@example.com", "-to", "dave@example.net, erin@example.org"}
			},
			pw: password,
			want: func(f fixture) outcome {
				return outcome{Code: cli.ExitOK, Stdout: "dave@example.net: accepted: " + ok + "\nerin@example.org: accepted: " + ok + "\n"}
			},
			wantTo:   []string{"dave@example.net", "erin@example.org"},
			wantAuth: user,
		},
		{
			name:  "recipients from the headers, one refused",
			tlsOn: true,
			args: func(f fixture) []string {
				return []string{"-server", f.addr, "-cafile", f.cafile, "-user", user}
			},
			pw: password,
			want: func(f fixture) outcome {
				return outcome{Code: cli.ExitUnavailable,
					Stdout: "dave@example.net: accepted: " + ok + "\n" +
						"nobody@example.net: refused: 550 5.1.1 no such user\n" +
						"erin@example.org: accepted: " + ok + "\n",
					Stderr: "sendmail: " + f.addr + ": 1 of 3 recipients refused\n"}
			},
			wantTo:   []string{"dave@example.net", "erin@example.org"},
			wantAuth: user,
		},
		{
			name:  "bad password",
			tlsOn: true,
			args: func(f fixture) []string {
				return []string{"-server", f.addr, "-cafile", f.cafile, "-user", user}
			},
			pw: "wrong",
			want: func(f fixture) outcome {
				return outcome{Code: cli.ExitNoPerm, Stderr: "sendmail: " + f.addr + ": authentication failed: 535 5.7.8 authentication credentials invalid\n"}
			},
		},
		{
			name:  "every recipient refused",
			tlsOn: true,
			args: func(f fixture) []string {
				return []string{"-server", f.addr, "-cafile", f.cafile, "-from", "carol@example.com", "-to", "nobody@example.net"}
			},
			want: func(f fixture) outcome {
				return outcome{Code: cli.ExitUnavailable,
					Stdout: "nobody@example.net: refused: 550 5.1.1 no such user\n",
					Stderr: "sendmail: " + f.addr + ": all recipients refused: <nobody@example.net> 550 5.1.1 no such user\n"}
			},
		},
		{
			name:  "certificate not trusted",
			tlsOn: true,
			args: func(f fixture) []string {
				return []string{"-server", f.addr, "-tls", "starttls", "-from", "carol@example.com", "-to", "dave@example.net"}
			},
			want: func(f fixture) outcome {
				return outcome{Code: cli.ExitUnavailable, Stderr: "sendmail: " + f.addr + ": TLS handshake with 127.0.0.1 failed: " +
					"tls: failed to verify certificate: x509: certificate signed by unknown authority\n"}
			},
		},
		{
			name: "starttls required but not offered",
			args: func(f fixture) []string {
				return []string{"-server", f.addr, "-tls", "starttls", "-from", "carol@example.com", "-to", "dave@example.net"}
			},
			want: func(f fixture) outcome {
				return outcome{Code: cli.ExitUnavailable, Stderr: "sendmail: " + f.addr + ": the server does not offer STARTTLS\n"}
			},
		},
		{
			name: "auto on loopback goes on in cleartext",
			args: func(f fixture) []string {
				return []string{"-server", f.addr, "-user", user, "-from", "carol@example.com", "-to", "dave@example.net"}
			},
			pw: password,
			want: func(f fixture) outcome {
				return outcome{Code: cli.ExitOK, Stdout: "dave@example.net: accepted: " + ok + "\n"}
			},
			wantTo:   []string{"dave@example.net"},
			wantAuth: user,
		},
		{
			name: "message refused",
			cfg: smtptest.Config{DataFunc: func(*smtptest.Message) smtptest.Reply {
				return smtptest.Reply{Code: 554, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 7, Detail: 1}, Text: "spam"}
			}},
			args: func(f fixture) []string {
				return []string{"-server", f.addr, "-from", "carol@example.com", "-to", "dave@example.net"}
			},
			want: func(f fixture) outcome {
				return outcome{Code: cli.ExitDataErr,
					Stdout: "dave@example.net: not delivered: message refused: 554 5.7.1 spam\n",
					Stderr: "sendmail: " + f.addr + ": message refused: 554 5.7.1 spam\n"}
			},
		},
		{
			name: "connection lost after the data",
			cfg: smtptest.Config{Hook: func(ev smtptest.HookEvent) smtptest.Action {
				return smtptest.Action{Disconnect: ev.Kind == smtptest.HookDataEnd}
			}},
			args: func(f fixture) []string {
				return []string{"-server", f.addr, "-from", "carol@example.com", "-to", "dave@example.net"}
			},
			want: func(f fixture) outcome {
				unknown := "delivery status unknown, the message may have been delivered: the server closed the connection unexpectedly"
				return outcome{Code: cli.ExitTempFail,
					Stdout: "dave@example.net: " + unknown + "\n",
					Stderr: "sendmail: " + f.addr + ": " + unknown + "\n"}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, tt.cfg, tt.tlsOn, "tcp")
			got := runSendmail(t, tt.args(f), msg, tt.pw)
			if diff := cmp.Diff(tt.want(f), got); diff != "" {
				t.Errorf("outcome mismatch (-want +got):\n%s", diff)
			}
			if strings.Contains(got.Stdout+got.Stderr, password) {
				t.Errorf("the password appears in the output")
			}
			f.srv.Close()
			var gotTo [][]string
			for _, m := range f.srv.Messages() {
				gotTo = append(gotTo, m.To)
				if m.AuthUser != tt.wantAuth {
					t.Errorf("stored message authenticated as %q, want %q", m.AuthUser, tt.wantAuth)
				}
				if m.TLS != tt.tlsOn {
					t.Errorf("stored message TLS = %v, want %v", m.TLS, tt.tlsOn)
				}
				// With -to the message goes as it is; from the headers
				// (smtplib's send_message), without its Bcc line.
				withBcc := slices.Contains(tt.args(f), "-to")
				if got := bytes.Contains(m.Data, []byte("\r\nBcc: erin@example.org\r\n")); got != withBcc {
					t.Errorf("Bcc line transmitted: %v, want %v:\n%s", got, withBcc, m.Data)
				}
			}
			var wantTo [][]string
			if tt.wantTo != nil {
				wantTo = [][]string{tt.wantTo}
			}
			if diff := cmp.Diff(wantTo, gotTo); diff != "" {
				t.Errorf("stored recipients mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// The message goes through byte for byte (dot-stuffing undone by the
// server), and the verbose transcript shows the conversation without the
// password.
func TestVerboseTranscript(t *testing.T) {
	f := start(t, smtptest.Config{DisableChunking: true}, true, "tcp")
	got := runSendmail(t, []string{"-v", "-server", f.addr, "-cafile", f.cafile, "-user", user,
		"-from", "carol@example.com", "-to", "dave@example.net"}, msg, password)
	if got.Code != 0 {
		t.Fatalf("exit status %d, stderr:\n%s", got.Code, got.Stderr)
	}
	for _, want := range []string{
		"S: 220 ",
		"C: STARTTLS\n",
		"   [TLS handshake]\n",
		"C: AUTH SCRAM-SHA-256",
		"C: MAIL FROM:<carol@example.com>",
		"C: RCPT TO:<dave@example.net>",
		"C: DATA\n",
		"S: 250 2.0.0 OK: message queued\n",
		"C: QUIT\n",
	} {
		if !strings.Contains(got.Stderr, want) {
			t.Errorf("transcript lacks %q:\n%s", want, got.Stderr)
		}
	}
	if strings.Contains(got.Stderr, password) {
		t.Errorf("the password appears in the transcript")
	}
	msgs := f.srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored, want 1", len(msgs))
	}
	if diff := cmp.Diff(msg, string(msgs[0].Data)); diff != "" {
		t.Errorf("stored message mismatch (-want +got):\n%s", diff)
	}
}

func TestLMTP(t *testing.T) {
	f := start(t, smtptest.Config{LMTP: true, LMTPFunc: func(rcpt string, _ *smtptest.Message) smtptest.Reply {
		if rcpt == "full@example.net" {
			return smtptest.Reply{Code: 452, Enhanced: protocol.EnhancedCode{Class: 4, Subject: 2, Detail: 2}, Text: "mailbox full"}
		}
		return smtptest.Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 0, Detail: 0}, Text: "delivered"}
	}}, false, "unix")
	got := runSendmail(t, []string{"-lmtp", f.addr, "-from", "carol@example.com", "-to", "dave@example.net,full@example.net"}, msg, "")
	want := outcome{Code: cli.ExitTempFail, // the one refusal is temporary
		Stdout: "dave@example.net: accepted: 250 2.0.0 delivered\n" +
			"full@example.net: refused: 452 4.2.2 mailbox full\n",
		Stderr: "sendmail: " + f.addr + ": 1 of 2 recipients refused\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}
}

// Bad flags are refused before anything is dialled, with EX_USAGE.
func TestUsage(t *testing.T) {
	tests := []struct {
		args       []string
		wantStderr string
	}{
		{nil, "sendmail: -server or -lmtp is required\n"},
		{[]string{"-server", "a:25", "-lmtp", "/b"}, "sendmail: -server and -lmtp exclude each other\n"},
		{[]string{"-server", "a:25", "-from", "x@example.com"}, "sendmail: -from needs -to: without -to, sender and recipients both come from the message's headers\n"},
		{[]string{"-server", "a:25", "-to", "x@example.com"}, "sendmail: -to needs -from\n"},
		{[]string{"-server", "a:25", "-tls", "maybe"}, "sendmail: unknown -tls mode \"maybe\" (want auto, starttls, opportunistic, implicit or none)\n"},
		{[]string{"-lmtp", "/run/lmtp", "-tls", "implicit"}, "sendmail: -tls implicit does not apply to -lmtp\n"},
		{[]string{"-server", "a:25", "x@example.com"}, "sendmail: unexpected arguments (recipients go in -to)\n"},
		{[]string{"-lmtp", "relative/lmtp", "-from", "a@example.com", "-to", "b@example.com"},
			"sendmail: relative/lmtp: cannot connect: unix socket path is not absolute\n"},
		{[]string{"-server", "bad host:25", "-from", "a@example.com", "-to", "b@example.com"},
			"sendmail: bad host:25: invalid address \"bad host:25\": invalid host\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := runSendmail(t, tt.args, msg, "")
			want := outcome{Code: cli.ExitUsage, Stderr: tt.wantStderr}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("outcome mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// Without POSTWIRE_PASSWORD the password is asked for; a failing prompt
// stops the program before it connects.
func TestPasswordPrompt(t *testing.T) {
	f := start(t, smtptest.Config{}, false, "tcp")
	args := []string{"-server", f.addr, "-user", user, "-from", "carol@example.com", "-to", "dave@example.net"}
	for _, tt := range []struct {
		name   string
		answer string
		err    error
		want   outcome
	}{
		{name: "answered", answer: password,
			want: outcome{Code: cli.ExitOK, Stdout: "dave@example.net: accepted: 250 2.0.0 OK: message queued\n"}},
		{name: "no terminal", err: errNoTerminal,
			want: outcome{Code: cli.ExitNoPerm, Stderr: "sendmail: no terminal to ask for the password on: set POSTWIRE_PASSWORD\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var prompts []string
			var out, errOut bytes.Buffer
			code := run(context.Background(), args, stdio{
				in: strings.NewReader(msg), out: &out, err: &errOut,
				getenv: func(string) string { return "" },
				askPassword: func(_ context.Context, prompt string) (string, error) {
					prompts = append(prompts, prompt)
					return tt.answer, tt.err
				},
			})
			if diff := cmp.Diff(tt.want, outcome{code, out.String(), errOut.String()}); diff != "" {
				t.Errorf("outcome mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"Password for carol: "}, prompts); diff != "" {
				t.Errorf("prompts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddrList(t *testing.T) {
	var l addrList
	for _, s := range []string{"a@example.com, b@example.com", "c@example.com", " , "} {
		if err := l.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(addrList{"a@example.com", "b@example.com", "c@example.com"}, l, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("addrList mismatch (-want +got):\n%s", diff)
	}
	if got, want := l.String(), "a@example.com,b@example.com,c@example.com"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// runMain runs main in a child process (this test binary, see TestMain),
// so that the exit status and the real standard streams are covered.
func runMain(t *testing.T, stdin string, env []string, args ...string) outcome {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), append(env, "SENDMAIL_TEST_MAIN=1")...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return outcome{code, out.String(), errOut.String()}
}

func TestMainProcess(t *testing.T) {
	f := start(t, smtptest.Config{}, true, "tcp")
	got := runMain(t, msg, []string{"POSTWIRE_PASSWORD=" + password},
		"-server", f.addr, "-cafile", f.cafile, "-user", user)
	want := outcome{Code: cli.ExitUnavailable,
		Stdout: "dave@example.net: accepted: 250 2.0.0 OK: message queued\n" +
			"nobody@example.net: refused: 550 5.1.1 no such user\n" +
			"erin@example.org: accepted: 250 2.0.0 OK: message queued\n",
		Stderr: "sendmail: " + f.addr + ": 1 of 3 recipients refused\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}

	got = runMain(t, msg, []string{"POSTWIRE_PASSWORD=wrong"}, "-server", f.addr, "-cafile", f.cafile, "-user", user)
	want = outcome{Code: cli.ExitNoPerm, Stderr: "sendmail: " + f.addr + ": authentication failed: 535 5.7.8 authentication credentials invalid\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}
}
