package auth

import "context"

// XOAUTH2 returns Google's XOAUTH2 mechanism: the initial response is
// "user=" username ^A "auth=Bearer " token ^A ^A (^A is 0x01). Gmail and
// Microsoft 365 accept it.
//
// When the server refuses the token it sends a JSON error as a 334
// challenge; as Google requires, Next answers it with an empty response and
// the server then sends the final 5xx, which the session reports. An empty
// challenge (the session sent no initial response) is answered with the
// message, once; anything further is ErrUnexpectedChallenge.
//
// A bearer token is a password: Start fails with ErrInsecure over cleartext
// to a non-loopback peer unless ServerInfo.AllowInsecure, and with
// ErrInvalidCredential if username or token holds ^A or is not valid UTF-8.
func XOAUTH2(username, token string) Mechanism {
	return &xoauth2{username: username, bearer: bearer{fixed: token}}
}

// XOAUTH2Func is XOAUTH2 with a token fetched by token at the start of
// every exchange, with the context of the session call (see TokenFunc):
// the same Mechanism can log in on every new connection with a fresh
// access token. The token function is not called when Start refuses to run
// (ErrInsecure); its error is returned, wrapped, from Start.
func XOAUTH2Func(username string, token TokenFunc) Mechanism {
	return &xoauth2{username: username, bearer: bearer{fetch: token}}
}

type xoauth2 struct {
	username    string
	bearer      bearer
	token       string // the token of the current exchange
	sentMessage bool   // answered an empty challenge with the message
	sentError   bool   // answered an error challenge
}

func (*xoauth2) Name() string { return "XOAUTH2" }

func (x *xoauth2) Check(info ServerInfo) error {
	if !info.secure() {
		return ErrInsecure
	}
	if !validText(x.username+x.bearer.checkable(), "\x01") {
		return ErrInvalidCredential
	}
	return nil
}

func (x *xoauth2) Start(info ServerInfo) ([]byte, error) {
	return x.StartContext(context.Background(), info)
}

func (x *xoauth2) StartContext(ctx context.Context, info ServerInfo) ([]byte, error) {
	if err := x.Check(info); err != nil {
		return nil, err
	}
	tok, err := x.bearer.token(ctx, x.Name())
	if err != nil {
		return nil, err
	}
	x.token, x.sentMessage, x.sentError = tok, false, false
	return x.message(), nil
}

func (x *xoauth2) message() []byte {
	return []byte("user=" + x.username + "\x01auth=Bearer " + x.token + "\x01\x01")
}

func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	switch {
	case x.sentError:
		return nil, ErrUnexpectedChallenge
	case len(challenge) == 0 && !x.sentMessage:
		x.sentMessage = true
		return x.message(), nil
	case len(challenge) == 0:
		return nil, ErrUnexpectedChallenge
	default: // the JSON error: acknowledge it, the server then fails
		x.sentError = true
		return []byte{}, nil
	}
}
