package session_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

type tokenCtxKey struct{}

// TestOAuthTokenRefreshed: a token function is called once per Auth, with
// the call's context, so the same Mechanism presents a refreshed token on
// the next connection. The server accepts only the fresh token ("tok-2"):
// the first connection's expired one is refused.
func TestOAuthTokenRefreshed(t *testing.T) {
	for _, tm := range []struct {
		name string
		mech func(string, auth.TokenFunc) auth.Mechanism
	}{{"XOAUTH2", auth.XOAUTH2Func}, {"OAUTHBEARER", auth.OAuthBearerFunc}} {
		t.Run(tm.name, func(t *testing.T) {
			srvCfg, cliCfg := tlsConfigs(t)
			s := newServer(t, smtptest.Config{TLS: srvCfg, Users: map[string]string{user: "tok-2"}, AuthMechanisms: []string{tm.name}})
			var seen []any
			m := tm.mech(user, func(ctx context.Context) (string, error) {
				seen = append(seen, ctx.Value(tokenCtxKey{}))
				return fmt.Sprintf("tok-%d", len(seen)), nil
			})
			o := opts()
			o.TLSConfig = cliCfg
			var errs []error
			for i := range 2 {
				c := connect(t, transports[0], s, o)
				ctx := context.WithValue(ctxTimeout(t), tokenCtxKey{}, i+1)
				if _, err := c.StartTLS(ctx, nil); err != nil {
					t.Fatalf("StartTLS: %v", err)
				}
				_, err := c.Auth(ctx, m)
				errs = append(errs, err)
				if len(seen) != i+1 {
					t.Fatalf("after Auth on connection %d the token function ran %d times", i+1, len(seen))
				}
				c.Quit(ctx)
			}
			if diff := cmp.Diff([]any{1, 2}, seen); diff != "" {
				t.Errorf("the contexts the token function saw (-want +got):\n%s", diff)
			}
			var ae *session.AuthError
			var re *session.ReplyError
			if !errors.As(errs[0], &ae) || !errors.As(errs[0], &re) || re.Code != 535 {
				t.Errorf("first connection (token tok-1): %v; want an *AuthError with the 535", errs[0])
			}
			if errs[1] != nil {
				t.Errorf("second connection (token tok-2): %v", errs[1])
			}
			conns := s.Conns()
			for i, want := range []string{"tok-1", "tok-2"} {
				if got := bearerSent(t, conns[i].Received); got != want {
					t.Errorf("connection %d sent token %q, want %q", i+1, got, want)
				}
			}
		})
	}
}

// bearerSent decodes the token of the AUTH initial response in a
// connection's transcript (after STARTTLS, so the transcript is decrypted).
func bearerSent(t *testing.T, received []byte) string {
	t.Helper()
	for _, line := range strings.Split(string(received), "\r\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "AUTH" {
			continue
		}
		ir, err := base64.StdEncoding.DecodeString(f[2])
		if err != nil {
			t.Fatalf("AUTH initial response %q: %v", f[2], err)
		}
		_, tok, _ := strings.Cut(string(ir), "auth=Bearer ")
		tok, _, _ = strings.Cut(tok, "\x01")
		return tok
	}
	t.Fatalf("no AUTH with an initial response in %q", received)
	return ""
}

// TestOAuthTokenError: the token function's error is an *AuthError naming
// the mechanism, nothing is sent, and the connection stays usable.
func TestOAuthTokenError(t *testing.T) {
	boom := errors.New("token endpoint down")
	s := newServer(t, smtptest.Config{Users: map[string]string{user: "tok"}})
	o := opts()
	o.AllowInsecureAuth = true
	c := connect(t, transports[0], s, o)
	ctx := ctxTimeout(t)
	calls := 0
	_, err := c.Auth(ctx, auth.XOAUTH2Func(user, func(context.Context) (string, error) { calls++; return "", boom }))
	var ae *session.AuthError
	if !errors.As(err, &ae) || ae.Mechanism != "XOAUTH2" || !errors.Is(err, boom) {
		t.Fatalf("Auth = %v; want an *AuthError for XOAUTH2 wrapping the token error", err)
	}
	if calls != 1 {
		t.Errorf("token function called %d times, want 1", calls)
	}
	if strings.Contains(string(s.Received()), "AUTH") {
		t.Errorf("AUTH was sent although there was no token:\n%s", s.Received())
	}
	if _, err := c.Noop(ctx); err != nil {
		t.Errorf("Noop after the token error: %v", err)
	}
	if _, err := c.Auth(ctx, auth.XOAUTH2Func(user, func(context.Context) (string, error) { return "tok", nil })); err != nil {
		t.Errorf("Auth with a working token function: %v", err)
	}
}
