package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
)

// CRAMMD5 returns the CRAM-MD5 mechanism (RFC 2195): the server sends a
// challenge and the client answers username SP hex(HMAC-MD5(secret,
// challenge)). The secret is not sent, so it is allowed over cleartext, but
// an eavesdropper can still attack it offline: prefer SCRAM.
//
// Next fails with ErrMalformedChallenge on an empty challenge and with
// ErrUnexpectedChallenge on a second one.
func CRAMMD5(username, secret string) Mechanism {
	return &cramMD5{username: username, secret: secret}
}

type cramMD5 struct {
	username, secret string
	answered         bool
}

func (*cramMD5) Name() string { return "CRAM-MD5" }

func (c *cramMD5) Start(ServerInfo) ([]byte, error) {
	c.answered = false
	return nil, nil
}

func (c *cramMD5) Next(challenge []byte) ([]byte, error) {
	if c.answered {
		return nil, ErrUnexpectedChallenge
	}
	if len(challenge) == 0 {
		return nil, ErrMalformedChallenge
	}
	c.answered = true
	mac := hmac.New(md5.New, []byte(c.secret))
	mac.Write(challenge)
	resp := make([]byte, 0, len(c.username)+1+2*md5.Size)
	resp = append(resp, c.username...)
	resp = append(resp, ' ')
	return hex.AppendEncode(resp, mac.Sum(nil)), nil
}
