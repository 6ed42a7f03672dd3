package saslserver

import (
	"bytes"
	"strings"
)

// Error challenges sent when a bearer token is refused. The client answers
// them (XOAUTH2 with an empty response, OAUTHBEARER with "\x01") and the
// exchange then fails with ErrAuthFailed.
const (
	XOAuth2ErrorChallenge     = `{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`
	OAuthBearerErrorChallenge = `{"status":"invalid_token","scope":"mail"}`
)

// xoauth2Server is Google's XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A.
// A refused token gets XOAuth2ErrorChallenge; whatever the client answers,
// the exchange then fails with ErrAuthFailed.
type xoauth2Server struct {
	base
	failed bool
}

func (s *xoauth2Server) step(resp []byte) ([]byte, bool, error) {
	s.n++
	if s.failed {
		return nil, false, ErrAuthFailed
	}
	if s.n == 1 && resp == nil {
		return []byte{}, false, nil
	}
	body, ok := bytes.CutSuffix(resp, []byte("\x01\x01"))
	if !ok {
		return nil, false, malformed("XOAUTH2: missing final ^A^A")
	}
	var user, token string
	var haveUser, haveAuth bool
	for _, kv := range strings.Split(string(body), "\x01") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, false, malformed("XOAUTH2: field without '='")
		}
		switch k {
		case "user":
			user, haveUser = v, true
		case "auth":
			token, haveAuth = strings.CutPrefix(v, "Bearer ")
			if !haveAuth {
				return nil, false, malformed("XOAUTH2: auth is not a Bearer token")
			}
		}
	}
	if !haveUser || !haveAuth {
		return nil, false, malformed("XOAUTH2: want user= and auth=")
	}
	if s.checkPassword(user, token) != nil {
		s.failed = true
		return []byte(XOAuth2ErrorChallenge), false, nil
	}
	return nil, true, nil
}

// oauthBearerServer is OAUTHBEARER (RFC 7628): gs2-header ^A *(key=value ^A) ^A,
// the user taken from the gs2 authzid "a=". A refused token gets
// OAuthBearerErrorChallenge, the client must answer "\x01", and the exchange
// then fails with ErrAuthFailed.
type oauthBearerServer struct {
	base
	failed bool
}

func (s *oauthBearerServer) step(resp []byte) ([]byte, bool, error) {
	s.n++
	if s.failed {
		if !bytes.Equal(resp, []byte{1}) {
			return nil, false, malformed("OAUTHBEARER: error challenge not answered with ^A")
		}
		return nil, false, ErrAuthFailed
	}
	if s.n == 1 && resp == nil {
		return []byte{}, false, nil
	}
	gs2, rest, err := parseGS2(resp)
	if err != nil {
		return nil, false, err
	}
	if gs2.cbFlag == 'p' {
		return nil, false, malformed("OAUTHBEARER: channel binding not supported")
	}
	kvs, ok := bytes.CutPrefix(rest, []byte{1})
	if ok {
		kvs, ok = bytes.CutSuffix(kvs, []byte{1, 1})
	}
	if !ok {
		return nil, false, malformed("OAUTHBEARER: want gs2-header ^A ... ^A^A")
	}
	var token string
	var haveAuth bool
	for _, kv := range strings.Split(string(kvs), "\x01") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, false, malformed("OAUTHBEARER: field without '='")
		}
		switch k {
		case "auth":
			token, haveAuth = strings.CutPrefix(v, "Bearer ")
			if !haveAuth {
				return nil, false, malformed("OAUTHBEARER: auth is not a Bearer token")
			}
		}
	}
	if !haveAuth {
		return nil, false, malformed("OAUTHBEARER: no auth=")
	}
	if gs2.authzid == "" || s.checkPassword(gs2.authzid, token) != nil {
		s.failed = true
		return []byte(OAuthBearerErrorChallenge), false, nil
	}
	return nil, true, nil
}
