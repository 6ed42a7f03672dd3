package smtptest_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/pion/transport/v3/test"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/session/smtptest"
)

// TestAuthMechanismsEndToEnd runs every mechanism of package auth against
// the server over STARTTLS (TLS 1.3, so SCRAM-SHA-256-PLUS has its
// tls-exporter binding), with the right and a wrong secret.
func TestAuthMechanismsEndToEnd(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	serverTLS, clientTLS, err := smtptest.TLSConfigs()
	if err != nil {
		t.Fatal(err)
	}
	mechs := map[string]func(user, secret string) auth.Mechanism{
		"PLAIN":              func(u, p string) auth.Mechanism { return auth.Plain("", u, p) },
		"LOGIN":              auth.Login,
		"CRAM-MD5":           auth.CRAMMD5,
		"XOAUTH2":            auth.XOAUTH2,
		"OAUTHBEARER":        auth.OAuthBearer,
		"SCRAM-SHA-1":        auth.SCRAMSHA1,
		"SCRAM-SHA-256":      auth.SCRAMSHA256,
		"SCRAM-SHA-256-PLUS": auth.SCRAMSHA256Plus,
	}
	s := startServer(t, smtptest.Config{TLS: serverTLS, Users: map[string]string{"alice": "s3cret"}})
	for name, mk := range mechs {
		for _, secret := range []string{"s3cret", "wrong"} {
			t.Run(name+"/"+secret, func(t *testing.T) {
				c := dial(t, s, "tcp")
				c.reply()
				c.cmd("EHLO c")
				c.cmd("STARTTLS")
				cs := c.upgrade(clientTLS)
				ehlo := c.cmd("EHLO c")
				exporter, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
				if err != nil {
					t.Fatal(err)
				}
				info := auth.ServerInfo{Name: "localhost", Port: 25, TLS: true, TLSExporter: exporter}
				for _, l := range strings.Split(ehlo, "\r\n") {
					if rest, ok := strings.CutPrefix(l[min(4, len(l)):], "AUTH "); ok {
						info.Mechanisms = strings.Fields(rest)
					}
				}
				ex, ir, err := auth.Begin(mk("alice", secret), info)
				if err != nil {
					t.Fatalf("Begin: %v", err)
				}
				line := "AUTH " + name
				if ir != nil {
					line += " " + base64.StdEncoding.EncodeToString(ir)
					if len(ir) == 0 {
						line += "="
					}
				}
				reply := c.cmd(line)
				for strings.HasPrefix(reply, "334 ") {
					challenge, err := base64.StdEncoding.DecodeString(strings.TrimSpace(reply[4:]))
					if err != nil {
						t.Fatalf("bad challenge %q", reply)
					}
					resp, err := ex.Challenge(challenge)
					if err != nil {
						c.cmd("*")
						break
					}
					reply = c.cmd(base64.StdEncoding.EncodeToString(resp))
				}
				want := "235 2.7.0"
				if secret == "wrong" {
					want = "535 5.7.8"
				}
				if got := code(reply); got != want {
					t.Fatalf("final reply %q, want %s", reply, want)
				}
				if secret == "s3cret" {
					if err := ex.Done(); err != nil {
						t.Errorf("Done: %v", err)
					}
				}
			})
		}
	}
}
