package auth_test

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/internal/saslserver"
)

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

// withNonce returns m whose SCRAM client nonce is exactly nonce (which must
// be the base64 of a whole number of bytes).
func withNonce(t testing.TB, m auth.Mechanism, nonce string) auth.Mechanism {
	t.Helper()
	raw := unb64(t, nonce)
	return auth.WithRand(auth.WithNonceLen(m, len(raw)), bytes.NewReader(raw))
}

// secureInfo is a TLS connection that offers every mechanism.
func secureInfo() auth.ServerInfo {
	return auth.ServerInfo{
		Name: "mx.example.org", Port: 587, TLS: true,
		Mechanisms:  saslserver.Mechanisms(),
		TLSExporter: bytes.Repeat([]byte{0xcb}, 32),
	}
}

// converse drives m against srv the way a session does. With sendIR false
// the initial response is withheld (AUTH without it) and the server's first
// challenge must get it out of the mechanism. It returns the client's error
// (Begin, Challenge or Done) and the server's.
func converse(m auth.Mechanism, info auth.ServerInfo, srv saslserver.Server, sendIR bool) (clientErr, serverErr error) {
	ex, ir, err := auth.Begin(m, info)
	if err != nil {
		return err, nil
	}
	resp := ir
	if !sendIR {
		resp = nil
	}
	// Without it on the AUTH line, the initial response answers the
	// first challenge (RFC 4954 §4, RFC 4422 §5.1), as the session does.
	pendingIR := !sendIR && ir != nil
	for {
		c, done, err := srv.Next(resp)
		if err != nil {
			return nil, err // the session would get 535 or 501
		}
		if done {
			return ex.Done(), nil // 235
		}
		if pendingIR {
			resp, pendingIR = ir, false
			continue
		}
		if resp, err = ex.Challenge(c); err != nil {
			return err, nil // the session would send "*"
		}
	}
}
