package auth_test

import (
	"testing"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/internal/saslserver"
)

// BenchmarkSCRAMSHA256 is one whole client+server SCRAM-SHA-256 exchange at
// 4096 iterations: the PBKDF2 rounds (on both sides) dominate.
func BenchmarkSCRAMSHA256(b *testing.B) {
	info := secureInfo()
	m := auth.SCRAMSHA256(testUser, testPass)
	for b.Loop() {
		srv, err := saslserver.New("SCRAM-SHA-256", lookup, nil)
		if err != nil {
			b.Fatal(err)
		}
		if cerr, serr := converse(m, info, srv, true); cerr != nil || serr != nil {
			b.Fatal(cerr, serr)
		}
	}
}

func BenchmarkChoose(b *testing.B) {
	info := secureInfo()
	cands := auth.ForPassword(testUser, testPass)
	for b.Loop() {
		if _, err := auth.Choose(cands, info); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlain(b *testing.B) {
	info := secureInfo()
	m := auth.Plain("", testUser, testPass)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := auth.Begin(m, info); err != nil {
			b.Fatal(err)
		}
	}
}
