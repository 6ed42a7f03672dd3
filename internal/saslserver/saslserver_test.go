package saslserver_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/internal/saslserver"
)

func users(m map[string]string) saslserver.Lookup {
	return func(u string) (string, bool) {
		p, ok := m[u]
		return p, ok
	}
}

var testUsers = users(map[string]string{
	"tim":              "tanstaaftanstaaf",
	"user":             "pencil",
	"Kurt":             "xipj3plmq",
	"a,b=c":            "pw",
	"user@example.com": "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
})

// step is one client response and what the server must answer.
type step struct {
	resp      []byte // nil: no initial response
	challenge string
	done      bool
	err       error
}

type transcript struct {
	name  string
	mech  string
	opts  saslserver.Options
	steps []step
	user  string // User() after the last step
}

func b(s string) []byte { return []byte(s) }

var transcripts = []transcript{
	{
		name: "PLAIN RFC 4616 with initial response", mech: "PLAIN",
		steps: []step{{resp: b("\x00tim\x00tanstaaftanstaaf"), done: true}},
		user:  "tim",
	},
	{
		name: "PLAIN without initial response", mech: "plain",
		steps: []step{{resp: nil, challenge: ""}, {resp: b("tim\x00tim\x00tanstaaftanstaaf"), done: true}},
		user:  "tim",
	},
	{
		name: "PLAIN RFC 4616 proxy authzid refused", mech: "PLAIN",
		steps: []step{{resp: b("Ursel\x00Kurt\x00xipj3plmq"), err: saslserver.ErrAuthFailed}},
	},
	{
		name: "PLAIN wrong password", mech: "PLAIN",
		steps: []step{{resp: b("\x00tim\x00tanstaaf"), err: saslserver.ErrAuthFailed}},
	},
	{
		name: "PLAIN unknown user", mech: "PLAIN",
		steps: []step{{resp: b("\x00nobody\x00x"), err: saslserver.ErrAuthFailed}},
	},
	{
		name: "PLAIN malformed", mech: "PLAIN",
		steps: []step{{resp: b("tim tanstaaftanstaaf"), err: saslserver.ErrMalformed}},
	},
	{
		name: "LOGIN", mech: "LOGIN",
		steps: []step{
			{resp: nil, challenge: "Username:"},
			{resp: b("tim"), challenge: "Password:"},
			{resp: b("tanstaaftanstaaf"), done: true},
		},
		user: "tim",
	},
	{
		name: "LOGIN with initial response", mech: "LOGIN",
		steps: []step{
			{resp: b("tim"), challenge: "Password:"},
			{resp: b("tanstaaftanstaaf"), done: true},
		},
		user: "tim",
	},
	{
		name: "LOGIN wrong password", mech: "LOGIN",
		steps: []step{
			{resp: nil, challenge: "Username:"},
			{resp: b("tim"), challenge: "Password:"},
			{resp: b("x"), err: saslserver.ErrAuthFailed},
		},
	},
	{
		name: "CRAM-MD5 RFC 2195", mech: "CRAM-MD5",
		opts: saslserver.Options{Nonce: "<1896.697170952@postoffice.reston.mci.net>"},
		steps: []step{
			{resp: nil, challenge: "<1896.697170952@postoffice.reston.mci.net>"},
			{resp: b("tim b913a602c7eda7a495b4e6e7334d3890"), done: true},
		},
		user: "tim",
	},
	{
		name: "CRAM-MD5 wrong digest", mech: "CRAM-MD5",
		opts: saslserver.Options{Nonce: "<1896.697170952@postoffice.reston.mci.net>"},
		steps: []step{
			{resp: nil, challenge: "<1896.697170952@postoffice.reston.mci.net>"},
			{resp: b("tim b913a602c7eda7a495b4e6e7334d3891"), err: saslserver.ErrAuthFailed},
		},
	},
	{
		name: "CRAM-MD5 initial response refused", mech: "CRAM-MD5",
		steps: []step{{resp: b("tim"), err: saslserver.ErrMalformed}},
	},
	{
		name: "CRAM-MD5 challenge from Rand and Hostname", mech: "CRAM-MD5",
		opts: saslserver.Options{Rand: bytes.NewReader(make([]byte, 16)), Hostname: "mx.example"},
		steps: []step{
			{resp: nil, challenge: "<0.0@mx.example>"},
			{resp: b("tim nothex"), err: saslserver.ErrMalformed},
		},
	},
	{
		name: "SCRAM-SHA-1 RFC 5802 section 5", mech: "SCRAM-SHA-1",
		opts: saslserver.Options{Nonce: "3rfcNHYJY1ZVvWVs7j", Salt: unb64("QSXCR+Q6sek8bf92")},
		steps: []step{
			{resp: b("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"),
				challenge: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"},
			{resp: b("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="),
				challenge: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="},
			{resp: b(""), done: true},
		},
		user: "user",
	},
	{
		name: "SCRAM-SHA-256 RFC 7677 section 3", mech: "SCRAM-SHA-256",
		opts: saslserver.Options{Nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", Salt: unb64("W22ZaJ0SNY7soEsUEjb6gQ==")},
		steps: []step{
			{resp: nil, challenge: ""},
			{resp: b("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
				challenge: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"},
			{resp: b("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
				challenge: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
			{resp: b(""), done: true},
		},
		user: "user",
	},
	{
		name: "SCRAM-SHA-256 wrong proof", mech: "SCRAM-SHA-256",
		opts: saslserver.Options{Nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", Salt: unb64("W22ZaJ0SNY7soEsUEjb6gQ==")},
		steps: []step{
			{resp: b("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
				challenge: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"},
			{resp: b("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
				err: saslserver.ErrAuthFailed},
		},
	},
	{
		name: "SCRAM-SHA-256 nonce mismatch", mech: "SCRAM-SHA-256",
		opts: saslserver.Options{Nonce: "XYZ", Salt: []byte("salt"), Iterations: 1},
		steps: []step{
			{resp: b("n,,n=user,r=abc"), challenge: "r=abcXYZ,s=c2FsdA==,i=1"},
			{resp: b("c=biws,r=abcXY,p=AAAA"), err: saslserver.ErrMalformed},
		},
	},
	{
		name: "SCRAM-SHA-256 channel binding flag y accepted by default", mech: "SCRAM-SHA-256",
		opts:  saslserver.Options{Nonce: "XYZ", Salt: []byte("salt"), Iterations: 1, TLSExporter: []byte("x")},
		steps: []step{{resp: b("y,,n=user,r=abc"), challenge: "r=abcXYZ,s=c2FsdA==,i=1"}},
	},
	{
		name: "SCRAM-SHA-256 flag y refused as downgrade when PLUS offered", mech: "SCRAM-SHA-256",
		opts:  saslserver.Options{TLSExporter: []byte("x"), OffersPlus: true},
		steps: []step{{resp: b("y,,n=user,r=abc"), err: saslserver.ErrAuthFailed}},
	},
	{
		name: "SCRAM-SHA-256 p= refused", mech: "SCRAM-SHA-256",
		steps: []step{{resp: b("p=tls-exporter,,n=user,r=abc"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM-SHA-256-PLUS needs p=tls-exporter", mech: "SCRAM-SHA-256-PLUS",
		opts:  saslserver.Options{TLSExporter: []byte("x")},
		steps: []step{{resp: b("n,,n=user,r=abc"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM mandatory extension", mech: "SCRAM-SHA-1",
		steps: []step{{resp: b("n,,m=x,n=user,r=abc"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM bad saslname escape", mech: "SCRAM-SHA-1",
		steps: []step{{resp: b("n,,n=a=2Xb,r=abc"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM authzid differs from user", mech: "SCRAM-SHA-1",
		steps: []step{{resp: b("n,a=tim,n=user,r=abc"), err: saslserver.ErrAuthFailed}},
	},
	{
		name: "SCRAM bad channel-binding flag", mech: "SCRAM-SHA-1",
		steps: []step{{resp: b("x,,n=user,r=abc"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM no GS2 header", mech: "SCRAM-SHA-1",
		steps: []step{{resp: b("n"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM unterminated GS2 header", mech: "SCRAM-SHA-1",
		steps: []step{{resp: b("n,a=user"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM authzid without a=", mech: "SCRAM-SHA-1",
		steps: []step{{resp: b("n,user,n=user,r=abc"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM empty saslname", mech: "SCRAM-SHA-1",
		steps: []step{{resp: b("n,,n=,r=abc"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM attribute order", mech: "SCRAM-SHA-1",
		steps: []step{{resp: b("n,,r=abc,n=user"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM client nonce not printable", mech: "SCRAM-SHA-1",
		steps: []step{{resp: b("n,,n=user,r=a\x7fb"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM escaped authzid equal to user", mech: "SCRAM-SHA-1",
		opts:  saslserver.Options{Nonce: "XYZ", Salt: []byte("salt"), Iterations: 1},
		steps: []step{{resp: b("n,a=a=2Cb=3Dc,n=a=2Cb=3Dc,r=abc"), challenge: "r=abcXYZ,s=c2FsdA==,i=1"}},
	},
	{
		name: "SCRAM client-final without proof", mech: "SCRAM-SHA-1",
		opts:  saslserver.Options{Nonce: "XYZ", Salt: []byte("salt"), Iterations: 1},
		steps: []step{{resp: b("n,,n=user,r=abc"), challenge: "r=abcXYZ,s=c2FsdA==,i=1"}, {resp: b("c=biws,r=abcXYZ"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM client-final bad c= base64", mech: "SCRAM-SHA-1",
		opts:  saslserver.Options{Nonce: "XYZ", Salt: []byte("salt"), Iterations: 1},
		steps: []step{{resp: b("n,,n=user,r=abc"), challenge: "r=abcXYZ,s=c2FsdA==,i=1"}, {resp: b("c=b!ws,r=abcXYZ,p=AAAA"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM client-final c= does not match GS2 header", mech: "SCRAM-SHA-1",
		opts:  saslserver.Options{Nonce: "XYZ", Salt: []byte("salt"), Iterations: 1},
		steps: []step{{resp: b("n,,n=user,r=abc"), challenge: "r=abcXYZ,s=c2FsdA==,i=1"}, {resp: b("c=eSws,r=abcXYZ,p=AAAA"), err: saslserver.ErrAuthFailed}},
	},
	{
		name: "SCRAM client-final bad p= base64", mech: "SCRAM-SHA-1",
		opts:  saslserver.Options{Nonce: "XYZ", Salt: []byte("salt"), Iterations: 1},
		steps: []step{{resp: b("n,,n=user,r=abc"), challenge: "r=abcXYZ,s=c2FsdA==,i=1"}, {resp: b("c=biws,r=abcXYZ,p=!!"), err: saslserver.ErrMalformed}},
	},
	{
		name: "SCRAM client-final short proof", mech: "SCRAM-SHA-1",
		opts:  saslserver.Options{Nonce: "XYZ", Salt: []byte("salt"), Iterations: 1},
		steps: []step{{resp: b("n,,n=user,r=abc"), challenge: "r=abcXYZ,s=c2FsdA==,i=1"}, {resp: b("c=biws,r=abcXYZ,p=AAAA"), err: saslserver.ErrAuthFailed}},
	},
	{
		name: "SCRAM client-final wrong attributes", mech: "SCRAM-SHA-1",
		opts:  saslserver.Options{Nonce: "XYZ", Salt: []byte("salt"), Iterations: 1},
		steps: []step{{resp: b("n,,n=user,r=abc"), challenge: "r=abcXYZ,s=c2FsdA==,i=1"}, {resp: b("r=abcXYZ,c=biws,p=AAAA"), err: saslserver.ErrMalformed}},
	},
	{
		name: "OAUTHBEARER channel binding refused", mech: "OAUTHBEARER",
		steps: []step{{resp: b("p=tls-exporter,a=u,\x01auth=Bearer t\x01\x01"), err: saslserver.ErrMalformed}},
	},
	{
		name: "OAUTHBEARER without auth=", mech: "OAUTHBEARER",
		steps: []step{{resp: b("n,a=u,\x01host=h\x01\x01"), err: saslserver.ErrMalformed}},
	},
	{
		name: "OAUTHBEARER without authzid fails like a bad token", mech: "OAUTHBEARER",
		steps: []step{{resp: b("n,,\x01auth=Bearer t\x01\x01"), challenge: saslserver.OAuthBearerErrorChallenge}, {resp: b("x"), err: saslserver.ErrMalformed}},
	},
	{
		name: "XOAUTH2 without user", mech: "XOAUTH2",
		steps: []step{{resp: b("auth=Bearer t\x01\x01"), err: saslserver.ErrMalformed}},
	},
	{
		name: "XOAUTH2 field without =", mech: "XOAUTH2",
		steps: []step{{resp: b("user\x01\x01"), err: saslserver.ErrMalformed}},
	},
	{
		name: "PLAIN empty user", mech: "PLAIN",
		steps: []step{{resp: b("\x00\x00pw"), err: saslserver.ErrMalformed}},
	},
	{
		name: "LOGIN empty user", mech: "LOGIN",
		steps: []step{{resp: b(""), challenge: "Password:"}, {resp: b("pw"), err: saslserver.ErrMalformed}},
	},
	{
		name: "CRAM-MD5 no space", mech: "CRAM-MD5",
		opts:  saslserver.Options{Rand: bytes.NewReader(make([]byte, 16))},
		steps: []step{{resp: nil, challenge: "<0.0@localhost>"}, {resp: b("timb913a602c7eda7a495b4e6e7334d3890"), err: saslserver.ErrMalformed}},
	},
	{
		name: "CRAM-MD5 unknown user", mech: "CRAM-MD5",
		opts:  saslserver.Options{Rand: bytes.NewReader(make([]byte, 16))},
		steps: []step{{resp: nil, challenge: "<0.0@localhost>"}, {resp: b("bob b913a602c7eda7a495b4e6e7334d3890"), err: saslserver.ErrAuthFailed}},
	},
	{
		name: "XOAUTH2", mech: "XOAUTH2",
		steps: []step{{resp: b("user=user@example.com\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"), done: true}},
		user:  "user@example.com",
	},
	{
		name: "XOAUTH2 bad token gets the JSON error challenge", mech: "XOAUTH2",
		steps: []step{
			{resp: nil, challenge: ""},
			{resp: b("user=user@example.com\x01auth=Bearer nope\x01\x01"), challenge: saslserver.XOAuth2ErrorChallenge},
			{resp: b(""), err: saslserver.ErrAuthFailed},
		},
	},
	{
		name: "XOAUTH2 malformed", mech: "XOAUTH2",
		steps: []step{{resp: b("user=x\x01auth=Basic y\x01\x01"), err: saslserver.ErrMalformed}},
	},
	{
		name: "OAUTHBEARER RFC 7628 section 4.1", mech: "OAUTHBEARER",
		steps: []step{{resp: b("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"), done: true}},
		user:  "user@example.com",
	},
	{
		name: "OAUTHBEARER bad token", mech: "OAUTHBEARER",
		steps: []step{
			{resp: b("n,a=user@example.com,\x01auth=Bearer nope\x01\x01"), challenge: saslserver.OAuthBearerErrorChallenge},
			{resp: b("\x01"), err: saslserver.ErrAuthFailed},
		},
	},
	{
		name: "OAUTHBEARER malformed", mech: "OAUTHBEARER",
		steps: []step{{resp: b("n,a=user@example.com,auth=Bearer x"), err: saslserver.ErrMalformed}},
	},
}

func TestTranscripts(t *testing.T) {
	for _, tc := range transcripts {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := saslserver.NewWithOptions(tc.mech, testUsers, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				c, done, err := srv.Next(st.resp)
				if !errors.Is(err, st.err) || (err == nil) != (st.err == nil) {
					t.Fatalf("step %d: err = %v, want %v", i, err, st.err)
				}
				if diff := cmp.Diff(st.challenge, string(c)); diff != "" {
					t.Fatalf("step %d: challenge (-want +got):\n%s", i, diff)
				}
				if done != st.done {
					t.Fatalf("step %d: done = %v, want %v", i, done, st.done)
				}
				if i < len(tc.steps)-1 && srv.User() != "" {
					t.Fatalf("step %d: User() = %q before the end", i, srv.User())
				}
			}
			if got := srv.User(); got != tc.user {
				t.Errorf("User() = %q, want %q", got, tc.user)
			}
			last := tc.steps[len(tc.steps)-1]
			if last.done || last.err != nil {
				if _, _, err := srv.Next(nil); !errors.Is(err, saslserver.ErrFinished) {
					t.Errorf("Next after the end: err = %v, want ErrFinished", err)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, m := range saslserver.Mechanisms() {
		var exp []byte
		if strings.HasSuffix(m, "-PLUS") {
			exp = []byte("exporter")
		}
		if _, err := saslserver.New(strings.ToLower(m), testUsers, exp); err != nil {
			t.Errorf("New(%q): %v", m, err)
		}
	}
	if _, err := saslserver.New("GSSAPI", testUsers, nil); !errors.Is(err, saslserver.ErrUnknownMechanism) {
		t.Errorf("New(GSSAPI): err = %v, want ErrUnknownMechanism", err)
	}
	if _, err := saslserver.New("SCRAM-SHA-256-PLUS", testUsers, nil); !errors.Is(err, saslserver.ErrNoChannelBinding) {
		t.Errorf("New(PLUS, nil exporter): err = %v, want ErrNoChannelBinding", err)
	}
	srv, err := saslserver.New("PLAIN", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.Next(b("\x00tim\x00tanstaaftanstaaf")); !errors.Is(err, saslserver.ErrAuthFailed) {
		t.Errorf("nil Lookup: err = %v, want ErrAuthFailed", err)
	}
}

func TestMechanismsFresh(t *testing.T) {
	a := saslserver.Mechanisms()
	a[0] = "X"
	if saslserver.Mechanisms()[0] == "X" {
		t.Error("Mechanisms returns a shared slice")
	}
}
