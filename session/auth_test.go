package session_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

const (
	user     = "alice"
	password = "pw-Xy7!secret"
)

// secrets are strings that must never appear in a debug log.
func secrets() []string {
	return []string{
		password,
		base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password)),
		base64.StdEncoding.EncodeToString([]byte(password)),
		base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + password + "\x01\x01")),
	}
}

func TestAuthMechanisms(t *testing.T) {
	mechs := []auth.Mechanism{
		auth.Plain("", user, password),
		auth.Login(user, password),
		auth.CRAMMD5(user, password),
		auth.XOAUTH2(user, password),
		auth.OAuthBearer(user, password),
		auth.SCRAMSHA1(user, password),
		auth.SCRAMSHA256(user, password),
		auth.SCRAMSHA256Plus(user, password),
	}
	for _, m := range mechs {
		t.Run(m.Name(), func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr transportKind) {
				srvCfg, cliCfg := tlsConfigs(t)
				s := newServer(t, smtptest.Config{TLS: srvCfg, Users: map[string]string{user: password}, AuthMechanisms: []string{m.Name()}})
				var logs logBuffer
				o := opts()
				o.TLSConfig = cliCfg
				o.Logger = newLogger(&logs)
				c := connect(t, tr, s, o)
				ctx := ctxTimeout(t)
				if _, err := c.StartTLS(ctx, nil); err != nil {
					t.Fatalf("StartTLS: %v", err)
				}
				if _, err := c.Auth(ctx, m); err != nil {
					t.Fatalf("Auth: %v", err)
				}
				if !c.Authenticated() {
					t.Errorf("Authenticated() = false after success")
				}
				if _, err := c.SendMail(ctx, "a@x.test", []string{"b@y.test"}, strings.NewReader("hi\r\n"), nil); err != nil {
					t.Fatalf("SendMail: %v", err)
				}
				if msgs := s.Messages(); len(msgs) != 1 || msgs[0].AuthUser != user {
					t.Errorf("messages %+v: want one sent as %s", msgs, user)
				}
				out := logs.String()
				if !strings.Contains(out, "AUTH "+m.Name()) {
					t.Errorf("the log lacks the AUTH command:\n%s", out)
				}
				for _, sec := range secrets() {
					if strings.Contains(out, sec) {
						t.Errorf("the log holds the secret %q:\n%s", sec, out)
					}
				}
				if m.Name() != "PLAIN" && m.Name() != "XOAUTH2" && m.Name() != "OAUTHBEARER" && !strings.Contains(out, `line="334 [redacted]"`) {
					t.Errorf("the challenges are not redacted:\n%s", out)
				}
			})
		})
	}
}

func TestAuthWrongPassword(t *testing.T) {
	for _, m := range []auth.Mechanism{auth.Plain("", user, "wrong"), auth.SCRAMSHA256(user, "wrong"), auth.Login(user, "wrong")} {
		t.Run(m.Name(), func(t *testing.T) {
			s := newServer(t, smtptest.Config{Users: map[string]string{user: password}})
			o := opts()
			o.AllowInsecureAuth = true
			c := connect(t, transports[0], s, o)
			ctx := ctxTimeout(t)
			_, err := c.Auth(ctx, m)
			var ae *session.AuthError
			var re *session.ReplyError
			if !errors.As(err, &ae) || ae.Mechanism != m.Name() || !errors.As(err, &re) || re.Code != 535 {
				t.Fatalf("Auth = %v, want *AuthError for %s wrapping a 535 reply", err, m.Name())
			}
			if _, err := c.Noop(ctx); err != nil {
				t.Errorf("Noop after a failed AUTH: %v", err)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	refuseSCRAM := func(ev smtptest.HookEvent) smtptest.Action {
		if ev.Verb == "AUTH" && strings.Contains(ev.Line, "SCRAM-SHA-256") {
			return smtptest.Action{Raw: "504 5.5.4 mechanism not available\r\n"}
		}
		return smtptest.Action{}
	}
	tests := []struct {
		name      string
		cfg       smtptest.Config
		pipe      bool   // over a pipe with a non-loopback address, else loopback TCP
		insecure  bool   // Options.AllowInsecureAuth
		pass      string // "" means the right password
		wantTried []string
		check     func(error) bool
	}{
		{"strongest first", smtptest.Config{AuthMechanisms: []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"}}, false, false, "",
			[]string{"SCRAM-SHA-256"}, nil},
		{"next after a refusal", smtptest.Config{AuthMechanisms: []string{"PLAIN", "SCRAM-SHA-256"}, Hook: refuseSCRAM}, false, false, "",
			[]string{"SCRAM-SHA-256", "PLAIN"}, nil},
		{"535: one try only", smtptest.Config{AuthMechanisms: []string{"CRAM-MD5", "LOGIN"}}, false, false, "bad",
			[]string{"CRAM-MD5"}, func(err error) bool {
				var ae *session.AuthError
				var re *session.ReplyError
				return errors.As(err, &ae) && ae.Mechanism == "CRAM-MD5" && !ae.MechanismRefused() && errors.As(err, &re) && re.Code == 535
			}},
		{"PLAIN refused over cleartext to a remote peer", smtptest.Config{AuthMechanisms: []string{"PLAIN", "LOGIN"}}, true, false, "",
			nil, func(err error) bool {
				var ae *session.AuthError
				return errors.As(err, &ae) && errors.Is(err, auth.ErrInsecure) && errors.Is(err, auth.ErrNoCommonMechanism)
			}},
		{"PLAIN allowed when the caller opts in", smtptest.Config{AuthMechanisms: []string{"PLAIN"}}, true, true, "",
			[]string{"PLAIN"}, nil},
		{"PLAIN allowed on loopback", smtptest.Config{AuthMechanisms: []string{"PLAIN"}}, false, false, "",
			[]string{"PLAIN"}, nil},
		{"CRAM-MD5 allowed over cleartext", smtptest.Config{AuthMechanisms: []string{"PLAIN", "CRAM-MD5"}}, true, false, "",
			[]string{"CRAM-MD5"}, nil},
		{"no AUTH offered", smtptest.Config{}, false, false, "", nil, func(err error) bool {
			var ns *session.NotSupportedError
			return errors.As(err, &ns) && ns.Extension == "AUTH"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.AuthMechanisms != nil {
				cfg.Users = map[string]string{user: password}
			}
			s := newServer(t, cfg)
			o := opts()
			o.AllowInsecureAuth = tt.insecure
			var logs logBuffer
			o.Logger = newLogger(&logs)
			var c *session.Client
			if tt.pipe {
				var err error
				c, err = session.NewClient(ctxTimeout(t), remoteConn{s.Pipe()}, serverName, o)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			} else {
				c = connect(t, transports[1], s, o)
			}
			pass := password
			if tt.pass != "" {
				pass = tt.pass
			}
			_, err := c.Login(ctxTimeout(t), user, pass)
			if tt.check == nil && err != nil {
				t.Fatalf("Login: %v", err)
			}
			if tt.check != nil && !tt.check(err) {
				t.Fatalf("Login error = %v (%T), not as expected", err, err)
			}
			var tried []string
			for _, line := range strings.Split(string(s.Received()), "\r\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "AUTH" {
					tried = append(tried, f[1])
				}
			}
			if strings.Join(tried, ",") != strings.Join(tt.wantTried, ",") {
				t.Errorf("mechanisms tried %v, want %v", tried, tt.wantTried)
			}
			if tt.wantTried == nil && bytes.Contains(s.Received(), []byte(user)) {
				t.Errorf("credentials went on the wire:\n%s", s.Received())
			}
			for _, sec := range secrets() {
				if strings.Contains(logs.String(), sec) {
					t.Errorf("the log holds the secret %q", sec)
				}
			}
		})
	}
}
