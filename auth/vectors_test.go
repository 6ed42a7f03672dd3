package auth_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
)

// vector is a client-side transcript: the initial response, then for each
// challenge the response the client must send.
type vector struct {
	name     string
	mech     auth.Mechanism
	info     auth.ServerInfo
	ir       *string // nil: no initial response
	exchange [][2]string
}

func str(s string) *string { return &s }

func vectors(t *testing.T) []vector {
	return []vector{
		{
			name: "PLAIN RFC 4616 section 4 tim",
			mech: auth.Plain("", "tim", "tanstaaftanstaaf"),
			info: auth.ServerInfo{TLS: true},
			ir:   str("\x00tim\x00tanstaaftanstaaf"),
		},
		{
			name: "PLAIN RFC 4616 section 4 Ursel as Kurt",
			mech: auth.Plain("Ursel", "Kurt", "xipj3plmq"),
			info: auth.ServerInfo{TLS: true},
			ir:   str("Ursel\x00Kurt\x00xipj3plmq"),
		},
		{
			name:     "LOGIN answers by position whatever the prompt",
			mech:     auth.Login("tim", "tanstaaftanstaaf"),
			info:     auth.ServerInfo{Loopback: true},
			ir:       str("tim"),
			exchange: [][2]string{{"password please", "tanstaaftanstaaf"}},
		},
		{
			name:     "CRAM-MD5 RFC 2195 section 2",
			mech:     auth.CRAMMD5("tim", "tanstaaftanstaaf"),
			exchange: [][2]string{{"<1896.697170952@postoffice.reston.mci.net>", "tim b913a602c7eda7a495b4e6e7334d3890"}},
		},
		{
			name: "SCRAM-SHA-1 RFC 5802 section 5",
			mech: withNonce(t, auth.SCRAMSHA1("user", "pencil"), "fyko+d2lbbFgONRv9qkxdawL"),
			ir:   str("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"),
			exchange: [][2]string{
				{"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
					"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="},
				{"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", ""},
			},
		},
		{
			name: "SCRAM-SHA-256 RFC 7677 section 3",
			mech: withNonce(t, auth.SCRAMSHA256("user", "pencil"), "rOprNGfwEbeRWgbNEkqO"),
			ir:   str("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
			exchange: [][2]string{
				{"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
					"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="},
				{"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", ""},
			},
		},
		{
			name: "SCRAM-SHA-256 user name escaping",
			mech: withNonce(t, auth.SCRAMSHA256("a,b=c", "pencil"), "rOprNGfwEbeRWgbNEkqO"),
			ir:   str("n,,n=a=2Cb=3Dc,r=rOprNGfwEbeRWgbNEkqO"),
		},
		{
			name: "SCRAM-SHA-256 flag y when TLS 1.3 but PLUS not offered",
			mech: withNonce(t, auth.SCRAMSHA256("user", "pencil"), "rOprNGfwEbeRWgbNEkqO"),
			info: auth.ServerInfo{TLS: true, TLSExporter: []byte("x"), Mechanisms: []string{"SCRAM-SHA-256"}},
			ir:   str("y,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
		},
		{
			name: "SCRAM-SHA-256 flag n when PLUS offered",
			mech: withNonce(t, auth.SCRAMSHA256("user", "pencil"), "rOprNGfwEbeRWgbNEkqO"),
			info: auth.ServerInfo{TLS: true, TLSExporter: []byte("x"), Mechanisms: []string{"scram-sha-256-plus", "SCRAM-SHA-256"}},
			ir:   str("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
		},
		{
			name: "SCRAM-SHA-256-PLUS GS2 header",
			mech: withNonce(t, auth.SCRAMSHA256Plus("user", "pencil"), "rOprNGfwEbeRWgbNEkqO"),
			info: auth.ServerInfo{TLS: true, TLSExporter: []byte("EXPORTER")},
			ir:   str("p=tls-exporter,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
			exchange: [][2]string{
				// c= is base64("p=tls-exporter,," + "EXPORTER"); the proof is
				// not an RFC vector (there is none for -PLUS); computed independently
				// with Python hashlib.pbkdf2_hmac/hmac.
				{"r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
					"c=cD10bHMtZXhwb3J0ZXIsLEVYUE9SVEVS,r=rOprNGfwEbeRWgbNEkqOsrv,p=KY6d7kfjBbLlVanS25Ps7otbigDYPRNYLHrBQvIRWxw="},
			},
		},
		{
			name: "OAUTHBEARER RFC 7628 section 4.1",
			mech: auth.OAuthBearer("user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
			info: auth.ServerInfo{TLS: true, Name: "server.example.com", Port: 143},
			ir:   str("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"),
		},
		{
			name: "OAUTHBEARER RFC 7628 section 4.3 failure answered with ^A",
			mech: auth.OAuthBearer("user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
			info: auth.ServerInfo{TLS: true},
			ir:   str("n,a=user@example.com,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"),
			exchange: [][2]string{
				{`{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}`, "\x01"},
			},
		},
		{
			name: "XOAUTH2 Google format and error challenge answered empty",
			mech: auth.XOAUTH2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
			info: auth.ServerInfo{TLS: true},
			ir:   str("user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"),
			exchange: [][2]string{
				{`{"status":"401","schemes":"bearer mac","scope":"https://mail.google.com/"}`, ""},
			},
		},
	}
}

func TestVectors(t *testing.T) {
	for _, v := range vectors(t) {
		t.Run(v.name, func(t *testing.T) {
			ex, ir, err := auth.Begin(v.mech, v.info)
			if err != nil {
				t.Fatal(err)
			}
			if v.ir == nil {
				if ir != nil {
					t.Fatalf("initial response %q, want none", ir)
				}
			} else if diff := cmp.Diff(*v.ir, string(ir)); diff != "" || ir == nil {
				t.Fatalf("initial response (-want +got):\n%s", diff)
			}
			for i, step := range v.exchange {
				resp, err := ex.Challenge([]byte(step[0]))
				if err != nil {
					t.Fatalf("challenge %d: %v", i, err)
				}
				if diff := cmp.Diff(step[1], string(resp)); diff != "" || resp == nil {
					t.Fatalf("challenge %d: response (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}
