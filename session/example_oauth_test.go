package session_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// OAuth access tokens expire. With auth.XOAUTH2Func (or
// auth.OAuthBearerFunc) the token is fetched by a function, with the
// context of the Auth call, every time the mechanism starts: one Mechanism
// value serves every connection, each with a current token.
func ExampleClient_Auth_oauthTokenFunc() {
	ctx := context.Background()
	serverTLS, clientTLS, err := smtptest.TLSConfigs("smtp.example")
	if err != nil {
		fmt.Println(err)
		return
	}
	// The server takes only the current token: "token-1" has expired.
	srv := smtptest.NewServer(smtptest.Config{TLS: serverTLS, Users: map[string]string{"me@example.com": "token-2"}})
	defer srv.Close()

	refreshes := 0
	token := func(ctx context.Context) (string, error) {
		// A real one would return a cached token, or refresh it with
		// golang.org/x/oauth2's TokenSource using ctx.
		refreshes++
		return fmt.Sprintf("token-%d", refreshes), nil
	}
	m := auth.XOAUTH2Func("me@example.com", token)

	for range 2 {
		c, err := session.NewClient(ctx, srv.Pipe(), "smtp.example", &session.Options{LocalName: "client.example", TLSConfig: clientTLS})
		if err != nil {
			fmt.Println(err)
			return
		}
		if _, err := c.StartTLS(ctx, nil); err != nil {
			fmt.Println(err)
			return
		}
		_, err = c.Auth(ctx, m)
		var re *session.ReplyError
		if errors.As(err, &re) {
			fmt.Println("refused:", re.Code, re.Enhanced)
		} else {
			fmt.Println("authenticated:", err == nil, c.Authenticated())
		}
		c.Quit(ctx)
	}
	fmt.Println("token fetched", refreshes, "times")
	// Output:
	// refused: 535 5.7.8
	// authenticated: true true
	// token fetched 2 times
}
