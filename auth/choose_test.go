package auth_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
)

// custom is a mechanism Choose knows nothing about.
type custom struct{ name string }

func (c custom) Name() string                        { return c.name }
func (custom) Start(auth.ServerInfo) ([]byte, error) { return []byte{}, nil }
func (custom) Next([]byte) ([]byte, error)           { return nil, auth.ErrUnexpectedChallenge }

func TestChoose(t *testing.T) {
	exporter := make([]byte, 32)
	all := []string{"LOGIN", "PLAIN", "XOAUTH2", "OAUTHBEARER", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}
	password := auth.ForPassword("u", "p")
	withOAuth := append(auth.ForPassword("u", "p"), auth.XOAUTH2("u", "t"), auth.OAuthBearer("u", "t"))
	tests := []struct {
		name       string
		candidates []auth.Mechanism
		info       auth.ServerInfo
		want       string   // chosen name, "" for an error
		skipped    []string // "NAME: reason" when want is ""
		is         []error
	}{
		{"TLS 1.3 everything offered", password, auth.ServerInfo{TLS: true, TLSExporter: exporter, Mechanisms: all}, "SCRAM-SHA-256-PLUS", nil, nil},
		{"TLS 1.2 no exporter", password, auth.ServerInfo{TLS: true, Mechanisms: all}, "SCRAM-SHA-256", nil, nil},
		{"case-insensitive", password, auth.ServerInfo{TLS: true, Mechanisms: []string{"plain", "Scram-Sha-1"}}, "SCRAM-SHA-1", nil, nil},
		{"CRAM-MD5 over cleartext", password, auth.ServerInfo{Mechanisms: []string{"PLAIN", "LOGIN", "CRAM-MD5"}}, "CRAM-MD5", nil, nil},
		{"PLAIN over TLS", password, auth.ServerInfo{TLS: true, Mechanisms: []string{"LOGIN", "PLAIN"}}, "PLAIN", nil, nil},
		{"LOGIN only", password, auth.ServerInfo{TLS: true, Mechanisms: []string{"LOGIN"}}, "LOGIN", nil, nil},
		{"PLAIN on loopback", password, auth.ServerInfo{Loopback: true, Mechanisms: []string{"PLAIN"}}, "PLAIN", nil, nil},
		{"OAUTHBEARER before XOAUTH2 before PLAIN", withOAuth, auth.ServerInfo{TLS: true, Mechanisms: []string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}}, "OAUTHBEARER", nil, nil},
		{"candidate order does not matter", []auth.Mechanism{auth.Login("u", "p"), auth.Plain("", "u", "p"), auth.SCRAMSHA1("u", "p")},
			auth.ServerInfo{TLS: true, Mechanisms: all}, "SCRAM-SHA-1", nil, nil},
		{"custom after built-ins", []auth.Mechanism{custom{"X-TOKEN"}, auth.Login("u", "p")},
			auth.ServerInfo{TLS: true, Mechanisms: []string{"X-TOKEN", "LOGIN"}}, "LOGIN", nil, nil},
		{"custom alone", []auth.Mechanism{nil, custom{"X-TOKEN"}},
			auth.ServerInfo{Mechanisms: []string{"x-token"}}, "X-TOKEN", nil, nil},
		{"PLAIN LOGIN over cleartext refused", password, auth.ServerInfo{Mechanisms: []string{"PLAIN", "LOGIN"}}, "",
			[]string{
				"SCRAM-SHA-256-PLUS: auth: mechanism not offered by the server",
				"SCRAM-SHA-256: auth: mechanism not offered by the server",
				"SCRAM-SHA-1: auth: mechanism not offered by the server",
				"CRAM-MD5: auth: mechanism not offered by the server",
				"PLAIN: " + auth.ErrInsecure.Error(),
				"LOGIN: " + auth.ErrInsecure.Error(),
			}, []error{auth.ErrNoCommonMechanism, auth.ErrInsecure}},
		{"only PLUS offered, no exporter", password, auth.ServerInfo{TLS: true, Mechanisms: []string{"SCRAM-SHA-256-PLUS"}}, "",
			[]string{
				"SCRAM-SHA-256-PLUS: " + auth.ErrNoChannelBinding.Error(),
				"SCRAM-SHA-256: auth: mechanism not offered by the server",
				"SCRAM-SHA-1: auth: mechanism not offered by the server",
				"CRAM-MD5: auth: mechanism not offered by the server",
				"PLAIN: auth: mechanism not offered by the server",
				"LOGIN: auth: mechanism not offered by the server",
			}, []error{auth.ErrNoCommonMechanism, auth.ErrNoChannelBinding}},
		{"no AUTH advertised", password, auth.ServerInfo{TLS: true}, "", nil, []error{auth.ErrNoCommonMechanism, auth.ErrNotOffered}},
		{"no candidates", nil, auth.ServerInfo{TLS: true, Mechanisms: all}, "", []string{}, []error{auth.ErrNoCommonMechanism}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := auth.Choose(tc.candidates, tc.info)
			if tc.want != "" {
				if err != nil {
					t.Fatalf("Choose: %v", err)
				}
				if diff := cmp.Diff(tc.want, m.Name()); diff != "" {
					t.Fatalf("chosen (-want +got):\n%s", diff)
				}
				return
			}
			if m != nil {
				t.Fatalf("Choose = %s, want an error", m.Name())
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			var ce *auth.ChooseError
			if !errors.As(err, &ce) {
				t.Fatalf("err %T is not *ChooseError", err)
			}
			if tc.skipped == nil {
				return
			}
			got := []string{}
			for _, s := range ce.Skipped {
				got = append(got, s.Name+": "+s.Err.Error())
			}
			if diff := cmp.Diff(tc.skipped, got); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChooseErrorMessage(t *testing.T) {
	_, err := auth.Choose([]auth.Mechanism{auth.Plain("", "u", "p")}, auth.ServerInfo{Mechanisms: []string{"PLAIN", "GSSAPI"}})
	want := "auth: no common mechanism (server offers [PLAIN GSSAPI]; PLAIN: " + auth.ErrInsecure.Error() + ")"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

func TestForPassword(t *testing.T) {
	var got []string
	for _, m := range auth.ForPassword("u", "p") {
		got = append(got, m.Name())
	}
	want := []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ForPassword names (-want +got):\n%s", diff)
	}
}
