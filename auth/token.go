package auth

import (
	"context"
	"fmt"
)

// TokenFunc returns a bearer token (an OAuth 2.0 access token) for one
// AUTH exchange. It is called with the context of the session call that
// authenticates, once per exchange, so it can return a cached token or
// refresh an expired one; an error ends the exchange before anything is
// sent. It must be safe to call again for every new connection.
type TokenFunc func(ctx context.Context) (string, error)

// ContextStarter is implemented by mechanisms whose start step needs the
// context of the call: XOAUTH2Func and OAuthBearerFunc fetch their token
// there. BeginContext calls StartContext instead of Start; Start itself
// then runs with context.Background().
type ContextStarter interface {
	StartContext(ctx context.Context, info ServerInfo) (ir []byte, err error)
}

// BeginContext is Begin with the context of the call, passed to m's
// StartContext when m implements ContextStarter.
func BeginContext(ctx context.Context, m Mechanism, info ServerInfo) (*Exchange, []byte, error) {
	cs, ok := m.(ContextStarter)
	if !ok {
		return Begin(m, info)
	}
	ir, err := cs.StartContext(ctx, info)
	if err != nil {
		return nil, nil, err
	}
	return &Exchange{m: m}, ir, nil
}

// bearer is the token of XOAUTH2 and OAUTHBEARER: fixed, or fetched by a
// TokenFunc at the start of every exchange.
type bearer struct {
	fixed string
	fetch TokenFunc // nil: fixed
}

// checkable is the part of the token Check can validate without fetching
// it ("" for a TokenFunc: its token is checked once fetched).
func (b bearer) checkable() string {
	if b.fetch != nil {
		return ""
	}
	return b.fixed
}

// token returns the token for one exchange. A fetched token holding ^A or
// invalid UTF-8 is ErrInvalidCredential, as a fixed one is in Check.
func (b bearer) token(ctx context.Context, mech string) (string, error) {
	if b.fetch == nil {
		return b.fixed, nil
	}
	tok, err := b.fetch(ctx)
	if err != nil {
		return "", fmt.Errorf("auth: %s token: %w", mech, err)
	}
	if !validText(tok, "\x01") {
		return "", fmt.Errorf("auth: %s token: %w", mech, ErrInvalidCredential)
	}
	return tok, nil
}
