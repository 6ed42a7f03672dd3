package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
)

const (
	rfcNonce   = "rOprNGfwEbeRWgbNEkqO"
	rfcFirst   = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfcFinal   = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
	rfcSHA1Sig = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="
)

func rfcSCRAM(t *testing.T) auth.Mechanism {
	return withNonce(t, auth.SCRAMSHA256("user", "pencil"), rfcNonce)
}

func TestSCRAMServerFirstMalformed(t *testing.T) {
	tests := []struct {
		name, first string
		want        error
	}{
		{"missing r=", "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", auth.ErrMalformedChallenge},
		{"nonce not prefixed by client nonce", "r=XOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", auth.ErrMalformedChallenge},
		{"nonce without server part", "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", auth.ErrMalformedChallenge},
		{"nonce not printable", "r=rOprNGfwEbeRWgbNEkqO\x7f,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", auth.ErrMalformedChallenge},
		{"bad base64 salt", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0S!Y7soEsUEjb6gQ==,i=4096", auth.ErrMalformedChallenge},
		{"empty salt", "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096", auth.ErrMalformedChallenge},
		{"line break in salt", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0S\nNY7soEsUEjb6gQ==,i=4096", auth.ErrMalformedChallenge},
		{"iteration count 0", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", auth.ErrMalformedChallenge},
		{"iteration count negative", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1", auth.ErrMalformedChallenge},
		{"iteration count with sign", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096", auth.ErrMalformedChallenge},
		{"iteration count absurd", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000001", auth.ErrMalformedChallenge},
		{"iteration count overflows", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999999", auth.ErrMalformedChallenge},
		{"iteration count not a number", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=lots", auth.ErrMalformedChallenge},
		{"missing i=", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==", auth.ErrMalformedChallenge},
		{"mandatory extension", "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", auth.ErrMalformedChallenge},
		{"not attributes", "hello", auth.ErrMalformedChallenge},
		{"invalid UTF-8", "r=rOprNGfwEbeRWgbNEkqO\xff,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", auth.ErrMalformedChallenge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, _, err := auth.Begin(rfcSCRAM(t), auth.ServerInfo{})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ex.Challenge([]byte(tc.first))
			if !errors.Is(err, tc.want) || resp != nil {
				t.Fatalf("Challenge(%q) = %q, %v; want nil, %v", tc.first, resp, err, tc.want)
			}
			if err := ex.Done(); !errors.Is(err, auth.ErrServerSignature) {
				t.Errorf("Done after failure = %v, want ErrServerSignature", err)
			}
		})
	}
}

func TestSCRAMServerError(t *testing.T) {
	// e= in server-first.
	ex, _, _ := auth.Begin(rfcSCRAM(t), auth.ServerInfo{})
	_, err := ex.Challenge([]byte("e=unknown-user"))
	var se *auth.SCRAMError
	if !errors.As(err, &se) || se.Value != "unknown-user" {
		t.Fatalf("server-first e=: err = %v, want *SCRAMError unknown-user", err)
	}
	// e= in server-final.
	ex, _, _ = auth.Begin(rfcSCRAM(t), auth.ServerInfo{})
	if _, err := ex.Challenge([]byte(rfcFirst)); err != nil {
		t.Fatal(err)
	}
	_, err = ex.Challenge([]byte("e=invalid-proof"))
	if !errors.As(err, &se) || se.Value != "invalid-proof" {
		t.Fatalf("server-final e=: err = %v, want *SCRAMError invalid-proof", err)
	}
	if got, want := err.Error(), "auth: SCRAM server error: invalid-proof"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if err := ex.Done(); !errors.Is(err, auth.ErrServerSignature) {
		t.Errorf("Done = %v, want ErrServerSignature", err)
	}
}

func TestSCRAMServerSignature(t *testing.T) {
	tests := []struct {
		name   string
		finals []string // server-final, or none
		want   error    // from the last Challenge
		done   error    // from Done
	}{
		{"valid", []string{rfcFinal}, nil, nil},
		{"valid with extension", []string{rfcFinal + ",x=ext"}, nil, nil},
		{"wrong signature", []string{rfcSHA1Sig}, auth.ErrServerSignature, auth.ErrServerSignature},
		{"flipped signature", []string{strings.Replace(rfcFinal, "6rri", "6rrj", 1)}, auth.ErrServerSignature, auth.ErrServerSignature},
		{"bad base64", []string{"v=!!!"}, auth.ErrServerSignature, auth.ErrServerSignature},
		{"line break inside the signature", []string{rfcFinal[:10] + "\n" + rfcFinal[10:]}, auth.ErrServerSignature, auth.ErrServerSignature},
		{"no v=", []string{"x=1"}, auth.ErrServerSignature, auth.ErrServerSignature},
		{"235 without server-final", nil, nil, auth.ErrServerSignature},
		{"challenge after server-final", []string{rfcFinal, rfcFinal}, auth.ErrUnexpectedChallenge, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, _, _ := auth.Begin(rfcSCRAM(t), auth.ServerInfo{})
			if _, err := ex.Challenge([]byte(rfcFirst)); err != nil {
				t.Fatal(err)
			}
			var err error
			var resp []byte
			for _, f := range tc.finals {
				resp, err = ex.Challenge([]byte(f))
			}
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("server-final: err = %v, want %v", err, tc.want)
			}
			if err == nil && len(tc.finals) > 0 && (resp == nil || len(resp) != 0) {
				t.Errorf("response to server-final = %q, want empty", resp)
			}
			if err := ex.Done(); !errors.Is(err, tc.done) || (err == nil) != (tc.done == nil) {
				t.Errorf("Done = %v, want %v", err, tc.done)
			}
		})
	}
}

func TestSCRAMStartErrors(t *testing.T) {
	tests := []struct {
		name string
		mech auth.Mechanism
		info auth.ServerInfo
		want error
	}{
		{"PLUS without exporter", auth.SCRAMSHA256Plus("u", "p"), auth.ServerInfo{TLS: true}, auth.ErrNoChannelBinding},
		{"empty user", auth.SCRAMSHA256("", "p"), auth.ServerInfo{}, auth.ErrInvalidCredential},
		{"invalid UTF-8 user", auth.SCRAMSHA1("\xffuser", "p"), auth.ServerInfo{}, auth.ErrInvalidCredential},
		{"NUL in user", auth.SCRAMSHA1("us\x00er", "p"), auth.ServerInfo{}, auth.ErrInvalidCredential},
		{"NUL in password", auth.SCRAMSHA256("user", "pw\x00"), auth.ServerInfo{}, auth.ErrInvalidCredential},
		{"nonce source fails", auth.WithRand(auth.SCRAMSHA256("u", "p"), strings.NewReader("short")), auth.ServerInfo{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, ir, err := auth.Begin(tc.mech, tc.info)
			if err == nil || ex != nil || ir != nil {
				t.Fatalf("Begin = %v, %q, %v; want an error", ex, ir, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestInsecure: PLAIN, LOGIN and the bearer-token mechanisms refuse cleartext
// to a remote peer; TLS, loopback or AllowInsecure lift the refusal.
func TestInsecure(t *testing.T) {
	mechs := []auth.Mechanism{
		auth.Plain("", "u", "p"), auth.Login("u", "p"),
		auth.XOAUTH2("u", "t"), auth.OAuthBearer("u", "t"),
	}
	infos := []struct {
		name string
		info auth.ServerInfo
		want error
	}{
		{"cleartext remote", auth.ServerInfo{Name: "localhost"}, auth.ErrInsecure}, // the name does not matter
		{"TLS", auth.ServerInfo{TLS: true}, nil},
		{"loopback", auth.ServerInfo{Loopback: true}, nil},
		{"opt-in", auth.ServerInfo{AllowInsecure: true}, nil},
	}
	for _, m := range mechs {
		for _, in := range infos {
			t.Run(m.Name()+" "+in.name, func(t *testing.T) {
				_, err := m.Start(in.info)
				if !errors.Is(err, in.want) || (err == nil) != (in.want == nil) {
					t.Fatalf("Start = %v, want %v", err, in.want)
				}
			})
		}
	}
	// Mechanisms that do not send the secret run over cleartext.
	for _, m := range []auth.Mechanism{auth.CRAMMD5("u", "p"), auth.SCRAMSHA1("u", "p"), auth.SCRAMSHA256("u", "p")} {
		if _, err := m.Start(auth.ServerInfo{}); err != nil {
			t.Errorf("%s over cleartext: %v", m.Name(), err)
		}
	}
}

func TestInvalidCredentials(t *testing.T) {
	info := auth.ServerInfo{TLS: true}
	for _, m := range []auth.Mechanism{
		auth.Plain("", "u\x00", "p"), auth.Plain("", "u", "p\x00w"),
		auth.XOAUTH2("u\x01", "t"), auth.XOAUTH2("u", "t\x01"), auth.OAuthBearer("u", "t\x01"),
	} {
		if _, err := m.Start(info); !errors.Is(err, auth.ErrInvalidCredential) {
			t.Errorf("%s: Start = %v, want ErrInvalidCredential", m.Name(), err)
		}
	}
}

// TestUnexpectedChallenges: each mechanism's steps beyond its script.
func TestUnexpectedChallenges(t *testing.T) {
	info := auth.ServerInfo{TLS: true}
	tests := []struct {
		name       string
		mech       auth.Mechanism
		challenges []string
		want       []error // per challenge
	}{
		{"PLAIN non-empty challenge", auth.Plain("", "u", "p"), []string{"hello"}, []error{auth.ErrUnexpectedChallenge}},
		{"PLAIN two empty challenges", auth.Plain("", "u", "p"), []string{"", ""}, []error{nil, auth.ErrUnexpectedChallenge}},
		{"LOGIN second prompt (the user name went as the initial response)", auth.Login("u", "p"), []string{"Password:", "Again:"}, []error{nil, auth.ErrUnexpectedChallenge}},
		{"CRAM-MD5 empty challenge", auth.CRAMMD5("u", "p"), []string{""}, []error{auth.ErrMalformedChallenge}},
		{"CRAM-MD5 second challenge", auth.CRAMMD5("u", "p"), []string{"<1@x>", "<2@x>"}, []error{nil, auth.ErrUnexpectedChallenge}},
		{"XOAUTH2 after error", auth.XOAUTH2("u", "t"), []string{"{}", "{}"}, []error{nil, auth.ErrUnexpectedChallenge}},
		{"XOAUTH2 two empty", auth.XOAUTH2("u", "t"), []string{"", ""}, []error{nil, auth.ErrUnexpectedChallenge}},
		{"OAUTHBEARER after error", auth.OAuthBearer("u", "t"), []string{"{}", "{}"}, []error{nil, auth.ErrUnexpectedChallenge}},
		{"SCRAM after failure", auth.SCRAMSHA1("u", "p"), []string{"junk", rfcFirst}, []error{auth.ErrMalformedChallenge, auth.ErrUnexpectedChallenge}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.mech.Start(info); err != nil {
				t.Fatal(err)
			}
			var got []error
			for _, c := range tc.challenges {
				_, err := tc.mech.Next([]byte(c))
				got = append(got, err)
			}
			if diff := cmp.Diff(tc.want, got, cmpErrors); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// cmpErrors compares errors with errors.Is.
var cmpErrors = cmp.Comparer(func(a, b error) bool {
	return errors.Is(a, b) || errors.Is(b, a)
})
