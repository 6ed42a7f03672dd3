package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/internal/saslserver"
)

type ctxKey struct{}

// tokens is a TokenFunc that returns "tok-1", "tok-2", ... (or err), and
// records the context value each call saw.
type tokens struct {
	calls int
	seen  []any
	err   error
	bad   bool // return a token holding ^A
}

func (f *tokens) fetch(ctx context.Context) (string, error) {
	f.calls++
	f.seen = append(f.seen, ctx.Value(ctxKey{}))
	switch {
	case f.err != nil:
		return "", f.err
	case f.bad:
		return "tok\x01", nil
	}
	return fmt.Sprintf("tok-%d", f.calls), nil
}

// tokenMechs are the constructors that take a token function.
var tokenMechs = []struct {
	name string
	mech func(user string, f auth.TokenFunc) auth.Mechanism
}{
	{"XOAUTH2", auth.XOAUTH2Func},
	{"OAUTHBEARER", auth.OAuthBearerFunc},
}

func TestTokenFuncPerExchange(t *testing.T) {
	for _, tm := range tokenMechs {
		t.Run(tm.name, func(t *testing.T) {
			f := &tokens{}
			m := tm.mech("me@example.com", f.fetch)
			info := secureInfo()
			if err := m.(auth.Checker).Check(info); err != nil || f.calls != 0 {
				t.Fatalf("Check = %v after %d token calls; want nil and none (Choose must not fetch)", err, f.calls)
			}
			var irs []string
			for i, v := range []string{"first", "second"} {
				ctx := context.WithValue(context.Background(), ctxKey{}, v)
				_, ir, err := auth.BeginContext(ctx, m, info)
				if err != nil {
					t.Fatalf("BeginContext %d: %v", i, err)
				}
				irs = append(irs, string(ir))
			}
			if diff := cmp.Diff([]any{"first", "second"}, f.seen); diff != "" {
				t.Errorf("contexts the token function saw (-want +got):\n%s", diff)
			}
			for i, ir := range irs {
				if want := fmt.Sprintf("auth=Bearer tok-%d\x01", i+1); !strings.Contains(ir, want) {
					t.Errorf("initial response %d = %q, want it to hold %q", i+1, ir, want)
				}
			}
			// Begin (no context) still works: Start fetches with Background.
			if _, _, err := auth.Begin(m, info); err != nil || f.calls != 3 || f.seen[2] != nil {
				t.Errorf("Begin = %v, calls %d, ctx value %v; want a third call without the value", err, f.calls, f.seen[2])
			}
		})
	}
}

func TestTokenFuncRefusals(t *testing.T) {
	boom := errors.New("token endpoint down")
	insecure := auth.ServerInfo{Name: "mx.example.org", Port: 25, Mechanisms: []string{"XOAUTH2", "OAUTHBEARER"}}
	tests := []struct {
		name      string
		f         tokens
		info      auth.ServerInfo
		want      error
		wantCalls int
	}{
		{"the token function fails", tokens{err: boom}, secureInfo(), boom, 1},
		{"the token holds ^A", tokens{bad: true}, secureInfo(), auth.ErrInvalidCredential, 1},
		{"cleartext: no token fetched", tokens{}, insecure, auth.ErrInsecure, 0},
	}
	for _, tm := range tokenMechs {
		for _, tt := range tests {
			t.Run(tm.name+"/"+tt.name, func(t *testing.T) {
				f := tt.f
				ex, ir, err := auth.BeginContext(context.Background(), tm.mech("me", f.fetch), tt.info)
				if !errors.Is(err, tt.want) || ex != nil || ir != nil {
					t.Errorf("BeginContext = %v, %q, %v; want %v", ex, ir, err, tt.want)
				}
				if f.calls != tt.wantCalls {
					t.Errorf("token function called %d times, want %d", f.calls, tt.wantCalls)
				}
			})
		}
	}
}

// TestTokenFuncAgainstServer runs both mechanisms against the SASL server
// that smtptest uses: the fetched token is what it checks.
func TestTokenFuncAgainstServer(t *testing.T) {
	lookup := func(user string) (string, bool) { return "tok-1", user == "me" }
	for _, tm := range tokenMechs {
		t.Run(tm.name, func(t *testing.T) {
			f := &tokens{}
			srv, err := saslserver.New(tm.name, lookup, nil)
			if err != nil {
				t.Fatal(err)
			}
			if cerr, serr := converse(tm.mech("me", f.fetch), secureInfo(), srv, true); cerr != nil || serr != nil {
				t.Errorf("exchange: client %v, server %v", cerr, serr)
			}
		})
	}
}
