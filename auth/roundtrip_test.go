package auth_test

import (
	"bytes"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/internal/saslserver"
)

const (
	testUser  = "user@example.org"
	testPass  = "correct horse, battery = staple"
	testToken = "ya29.token-for-user"
)

func lookup(u string) (string, bool) {
	switch u {
	case testUser:
		return testPass, true
	case "token:" + testUser:
		return testToken, true
	}
	return "", false
}

// tokenLookup serves bearer tokens for the OAuth mechanisms.
func tokenLookup(u string) (string, bool) { return lookup("token:" + u) }

type roundTrip struct {
	name   string
	good   auth.Mechanism // right credentials
	bad    auth.Mechanism // wrong secret
	lookup saslserver.Lookup
}

func roundTrips() []roundTrip {
	return []roundTrip{
		{"PLAIN", auth.Plain("", testUser, testPass), auth.Plain("", testUser, "x"), lookup},
		{"PLAIN", auth.Plain(testUser, testUser, testPass), auth.Plain("someone", testUser, testPass), lookup},
		{"LOGIN", auth.Login(testUser, testPass), auth.Login(testUser, "x"), lookup},
		{"CRAM-MD5", auth.CRAMMD5(testUser, testPass), auth.CRAMMD5(testUser, "x"), lookup},
		{"XOAUTH2", auth.XOAUTH2(testUser, testToken), auth.XOAUTH2(testUser, "x"), tokenLookup},
		{"OAUTHBEARER", auth.OAuthBearer(testUser, testToken), auth.OAuthBearer(testUser, "x"), tokenLookup},
		{"SCRAM-SHA-1", auth.SCRAMSHA1(testUser, testPass), auth.SCRAMSHA1(testUser, "x"), lookup},
		{"SCRAM-SHA-256", auth.SCRAMSHA256(testUser, testPass), auth.SCRAMSHA256(testUser, "x"), lookup},
		{"SCRAM-SHA-256-PLUS", auth.SCRAMSHA256Plus(testUser, testPass), auth.SCRAMSHA256Plus(testUser, "x"), lookup},
	}
}

func TestRoundTrip(t *testing.T) {
	info := secureInfo()
	for _, rt := range roundTrips() {
		for _, sendIR := range []bool{true, false} {
			name := rt.name
			if !sendIR {
				name += " without initial response"
			}
			t.Run(name, func(t *testing.T) {
				if got := rt.good.Name(); got != rt.name {
					t.Fatalf("Name() = %q, want %q", got, rt.name)
				}
				srv, err := saslserver.New(rt.name, rt.lookup, info.TLSExporter)
				if err != nil {
					t.Fatal(err)
				}
				cerr, serr := converse(rt.good, info, srv, sendIR)
				if cerr != nil || serr != nil {
					t.Fatalf("good credentials: client err %v, server err %v", cerr, serr)
				}
				if got := srv.User(); got != testUser {
					t.Errorf("server User() = %q, want %q", got, testUser)
				}
				// The same mechanism value runs again after Start resets it.
				srv, _ = saslserver.New(rt.name, rt.lookup, info.TLSExporter)
				if cerr, serr := converse(rt.good, info, srv, sendIR); cerr != nil || serr != nil {
					t.Fatalf("second run: client err %v, server err %v", cerr, serr)
				}

				srv, _ = saslserver.New(rt.name, rt.lookup, info.TLSExporter)
				cerr, serr = converse(rt.bad, info, srv, sendIR)
				if cerr != nil || !errors.Is(serr, saslserver.ErrAuthFailed) {
					t.Fatalf("bad credentials: client err %v, server err %v; want server ErrAuthFailed", cerr, serr)
				}
			})
		}
	}
}

// TestChannelBindingMismatch: a man in the middle terminating TLS sees a
// different exporter value than the client; the server must refuse.
func TestChannelBindingMismatch(t *testing.T) {
	info := secureInfo()
	srv, err := saslserver.New("SCRAM-SHA-256-PLUS", lookup, bytes.Repeat([]byte{0xaa}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cerr, serr := converse(auth.SCRAMSHA256Plus(testUser, testPass), info, srv, true)
	if cerr != nil || !errors.Is(serr, saslserver.ErrAuthFailed) {
		t.Fatalf("client err %v, server err %v; want server ErrAuthFailed", cerr, serr)
	}
}

// TestDowngradeDetected: the client has an exporter, the (stripped) EHLO did
// not list -PLUS, so it sends "y"; a server that does offer -PLUS refuses.
func TestDowngradeDetected(t *testing.T) {
	info := secureInfo()
	info.Mechanisms = []string{"SCRAM-SHA-256"}
	srv, err := saslserver.NewWithOptions("SCRAM-SHA-256", lookup,
		saslserver.Options{TLSExporter: info.TLSExporter, OffersPlus: true})
	if err != nil {
		t.Fatal(err)
	}
	cerr, serr := converse(auth.SCRAMSHA256(testUser, testPass), info, srv, true)
	if cerr != nil || !errors.Is(serr, saslserver.ErrAuthFailed) {
		t.Fatalf("client err %v, server err %v; want server ErrAuthFailed", cerr, serr)
	}
}

// TestSCRAMProperty: any user name and password (valid UTF-8 without NUL,
// user name non-empty) authenticate with SCRAM against the server, and a
// different password does not.
func TestSCRAMProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		user := rapid.StringMatching(`[^\x00]{1,20}`).Draw(t, "user")
		pass := rapid.StringMatching(`[^\x00]*`).Draw(t, "pass")
		other := rapid.StringMatching(`[^\x00]*`).Filter(func(s string) bool { return s != pass }).Draw(t, "other")
		mech := rapid.SampledFrom([]string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}).Draw(t, "mech")
		mk := map[string]func(string, string) auth.Mechanism{
			"SCRAM-SHA-1": auth.SCRAMSHA1, "SCRAM-SHA-256": auth.SCRAMSHA256, "SCRAM-SHA-256-PLUS": auth.SCRAMSHA256Plus,
		}[mech]
		lk := func(u string) (string, bool) { return pass, u == user }
		info := secureInfo()
		for _, tc := range []struct {
			pw   string
			want error
		}{{pass, nil}, {other, saslserver.ErrAuthFailed}} {
			srv, err := saslserver.NewWithOptions(mech, lk, saslserver.Options{TLSExporter: info.TLSExporter, Iterations: 2})
			if err != nil {
				t.Fatal(err)
			}
			cerr, serr := converse(mk(user, tc.pw), info, srv, true)
			if cerr != nil || !errors.Is(serr, tc.want) || (serr == nil) != (tc.want == nil) {
				t.Fatalf("password %q: client err %v, server err %v, want server %v", tc.pw, cerr, serr, tc.want)
			}
			if tc.want == nil && srv.User() != user {
				t.Fatalf("User() = %q, want %q", srv.User(), user)
			}
		}
	})
}
