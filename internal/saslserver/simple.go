package saslserver

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"io"
	"strconv"
)

// plainServer is PLAIN (RFC 4616): message = [authzid] NUL authcid NUL passwd.
// The authorization identity must be empty or equal to the authentication
// identity (this server has no proxy authorisation).
type plainServer struct{ base }

func (s *plainServer) step(resp []byte) ([]byte, bool, error) {
	s.n++
	if s.n == 1 && resp == nil {
		return []byte{}, false, nil // no initial response: empty challenge
	}
	if resp == nil {
		return nil, false, malformed("PLAIN: no response")
	}
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 {
		return nil, false, malformed("PLAIN: want authzid NUL authcid NUL passwd")
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if user == "" {
		return nil, false, malformed("PLAIN: empty authentication identity")
	}
	if authz != "" && authz != user {
		return nil, false, ErrAuthFailed
	}
	return nil, true, s.checkPassword(user, pass)
}

// loginServer is the LOGIN mechanism (draft-murchison-sasl-login): the
// server prompts "Username:" then "Password:". An initial response, if any,
// is the user name.
type loginServer struct {
	base
	name string
}

func (s *loginServer) step(resp []byte) ([]byte, bool, error) {
	s.n++
	switch {
	case s.n == 1 && resp == nil:
		return []byte("Username:"), false, nil
	case s.n == 1:
		s.n = 2 // the initial response was the user name
		s.name = string(resp)
		return []byte("Password:"), false, nil
	case s.n == 2:
		s.name = string(resp)
		return []byte("Password:"), false, nil
	default:
		if s.name == "" {
			return nil, false, malformed("LOGIN: empty user name")
		}
		return nil, true, s.checkPassword(s.name, string(resp))
	}
}

// cramServer is CRAM-MD5 (RFC 2195): challenge "<random.digits@host>", and
// the response is "user" SP lowercase-hex(HMAC-MD5(password, challenge)).
type cramServer struct {
	base
	challenge []byte
}

func (s *cramServer) step(resp []byte) ([]byte, bool, error) {
	s.n++
	if s.n == 1 {
		if resp != nil {
			return nil, false, malformed("CRAM-MD5 takes no initial response")
		}
		c, err := s.makeChallenge()
		if err != nil {
			return nil, false, err
		}
		s.challenge = c
		return c, false, nil
	}
	sp := bytes.LastIndexByte(resp, ' ')
	if sp <= 0 {
		return nil, false, malformed("CRAM-MD5: want user SP digest")
	}
	user, digest := string(resp[:sp]), resp[sp+1:]
	if len(digest) != 2*md5.Size {
		return nil, false, malformed("CRAM-MD5: digest is not 32 hex digits")
	}
	want, ok := s.lookup(user)
	if !ok {
		return nil, false, ErrAuthFailed
	}
	mac := hmac.New(md5.New, []byte(want))
	mac.Write(s.challenge)
	exp := hex.AppendEncode(nil, mac.Sum(nil))
	if subtle.ConstantTimeCompare(exp, bytes.ToLower(digest)) != 1 {
		return nil, false, ErrAuthFailed
	}
	s.authed = user
	return nil, true, nil
}

func (s *cramServer) makeChallenge() ([]byte, error) {
	if s.opts.Nonce != "" {
		return []byte(s.opts.Nonce), nil
	}
	var r [16]byte
	if _, err := io.ReadFull(s.opts.Rand, r[:]); err != nil {
		return nil, err
	}
	c := []byte{'<'}
	c = strconv.AppendUint(c, binary.BigEndian.Uint64(r[:8]), 10)
	c = append(c, '.')
	c = strconv.AppendUint(c, binary.BigEndian.Uint64(r[8:]), 10)
	c = append(c, '@')
	c = append(c, s.opts.Hostname...)
	c = append(c, '>')
	return c, nil
}
