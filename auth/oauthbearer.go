package auth

import (
	"context"
	"strconv"
)

// OAuthBearer returns the OAUTHBEARER mechanism (RFC 7628). The initial
// response is the GS2 header "n,a=" username "," then ^A-separated
// key=value pairs: host= and port= from ServerInfo (left out when Name is
// empty or Port is 0) and auth=Bearer token, ending with ^A^A:
//
//	n,a=user@example.com,^Ahost=server.example.com^Aport=587^Aauth=Bearer <token>^A^A
//
// When the server refuses the token it sends a JSON error as a challenge;
// Next answers it with "\x01" as RFC 7628 section 3.2.3 requires, and the
// server then sends the final 5xx. An empty challenge (the session sent no
// initial response) is answered with the message, once; anything further is
// ErrUnexpectedChallenge.
//
// A bearer token is a password: Start fails with ErrInsecure over cleartext
// to a non-loopback peer unless ServerInfo.AllowInsecure, and with
// ErrInvalidCredential if a value holds ^A or is not valid UTF-8.
func OAuthBearer(username, token string) Mechanism {
	return &oauthBearer{username: username, bearer: bearer{fixed: token}}
}

// OAuthBearerFunc is OAuthBearer with a token fetched by token at the
// start of every exchange, with the context of the session call (see
// TokenFunc and XOAUTH2Func).
func OAuthBearerFunc(username string, token TokenFunc) Mechanism {
	return &oauthBearer{username: username, bearer: bearer{fetch: token}}
}

type oauthBearer struct {
	username    string
	bearer      bearer
	msg         []byte
	sentMessage bool
	sentError   bool
}

func (*oauthBearer) Name() string { return "OAUTHBEARER" }

func (o *oauthBearer) Check(info ServerInfo) error {
	if !info.secure() {
		return ErrInsecure
	}
	if !validText(o.username+o.bearer.checkable()+info.Name, "\x01") {
		return ErrInvalidCredential
	}
	return nil
}

func (o *oauthBearer) Start(info ServerInfo) ([]byte, error) {
	return o.StartContext(context.Background(), info)
}

func (o *oauthBearer) StartContext(ctx context.Context, info ServerInfo) ([]byte, error) {
	if err := o.Check(info); err != nil {
		return nil, err
	}
	o.msg = nil
	token, err := o.bearer.token(ctx, o.Name())
	if err != nil {
		return nil, err
	}
	o.sentMessage, o.sentError = false, false
	b := []byte("n,")
	if o.username != "" {
		b = append(b, "a="...)
		b = appendSASLName(b, o.username)
	}
	b = append(b, ",\x01"...)
	if info.Name != "" {
		b = append(b, "host="...)
		b = append(b, info.Name...)
		b = append(b, 1)
	}
	if info.Port > 0 {
		b = append(b, "port="...)
		b = strconv.AppendInt(b, int64(info.Port), 10)
		b = append(b, 1)
	}
	b = append(b, "auth=Bearer "...)
	b = append(b, token...)
	b = append(b, 1, 1)
	o.msg = b
	return b, nil
}

func (o *oauthBearer) Next(challenge []byte) ([]byte, error) {
	switch {
	case o.sentError:
		return nil, ErrUnexpectedChallenge
	case len(challenge) == 0 && !o.sentMessage && o.msg != nil:
		o.sentMessage = true
		return o.msg, nil
	case len(challenge) == 0:
		return nil, ErrUnexpectedChallenge
	default: // the JSON error: acknowledge it, the server then fails
		o.sentError = true
		return []byte{1}, nil
	}
}
