package saslserver_test

import (
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/internal/saslserver"
)

var clients = map[string]func(user, secret string) auth.Mechanism{
	"PLAIN":              func(u, s string) auth.Mechanism { return auth.Plain("", u, s) },
	"LOGIN":              auth.Login,
	"CRAM-MD5":           auth.CRAMMD5,
	"XOAUTH2":            auth.XOAUTH2,
	"OAUTHBEARER":        auth.OAuthBearer,
	"SCRAM-SHA-1":        auth.SCRAMSHA1,
	"SCRAM-SHA-256":      auth.SCRAMSHA256,
	"SCRAM-SHA-256-PLUS": auth.SCRAMSHA256Plus,
}

// TestCredentialsProperty: for every mechanism, a client with the stored
// secret authenticates as that user and a client with another secret is
// refused with ErrAuthFailed, whatever the (encodable) user name and secret.
func TestCredentialsProperty(t *testing.T) {
	exporter := []byte("0123456789abcdef0123456789abcdef")
	info := auth.ServerInfo{TLS: true, Mechanisms: saslserver.Mechanisms(), TLSExporter: exporter}
	rapid.Check(t, func(t *rapid.T) {
		mech := rapid.SampledFrom(saslserver.Mechanisms()).Draw(t, "mech")
		user := rapid.StringMatching(`[^\x00\x01]{1,16}`).Draw(t, "user")
		secret := rapid.StringMatching(`[^\x00\x01]{0,16}`).Draw(t, "secret")
		wrong := rapid.StringMatching(`[^\x00\x01]{0,16}`).Filter(func(s string) bool { return s != secret }).Draw(t, "wrong")
		lookup := func(u string) (string, bool) { return secret, u == user }
		for _, try := range []struct {
			secret string
			want   error
		}{{secret, nil}, {wrong, saslserver.ErrAuthFailed}} {
			srv, err := saslserver.NewWithOptions(mech, lookup, saslserver.Options{TLSExporter: exporter, Iterations: 2})
			if err != nil {
				t.Fatal(err)
			}
			err = drive(clients[mech](user, try.secret), info, srv)
			if !errors.Is(err, try.want) || (err == nil) != (try.want == nil) {
				t.Fatalf("%s secret %q: err %v, want %v", mech, try.secret, err, try.want)
			}
			if want := map[bool]string{true: user, false: ""}[try.want == nil]; srv.User() != want {
				t.Fatalf("User() = %q, want %q", srv.User(), want)
			}
		}
	})
}

// drive runs one exchange and returns the first error from either side.
func drive(m auth.Mechanism, info auth.ServerInfo, srv saslserver.Server) error {
	ex, resp, err := auth.Begin(m, info)
	if err != nil {
		return err
	}
	for {
		c, done, err := srv.Next(resp)
		if err != nil {
			return err
		}
		if done {
			return ex.Done()
		}
		if resp, err = ex.Challenge(c); err != nil {
			return err
		}
	}
}
