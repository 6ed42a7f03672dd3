package saslserver

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

type hashFunc func() hash.Hash

var (
	sha1Hash   hashFunc = sha1.New
	sha256Hash hashFunc = sha256.New
)

// gs2Header is a parsed GS2 header (RFC 5801), shared by SCRAM and OAUTHBEARER.
type gs2Header struct {
	cbFlag  byte   // 'n', 'y' or 'p'
	cbName  string // for 'p'
	authzid string // unescaped
	raw     []byte // the header as sent, with both commas
}

// parseGS2 splits msg into its GS2 header and the rest.
func parseGS2(msg []byte) (gs2Header, []byte, error) {
	var h gs2Header
	first := bytes.IndexByte(msg, ',')
	if first < 0 {
		return h, nil, malformed("no GS2 header")
	}
	flag := string(msg[:first])
	switch {
	case flag == "n" || flag == "y":
		h.cbFlag = flag[0]
	case strings.HasPrefix(flag, "p=") && len(flag) > 2:
		h.cbFlag, h.cbName = 'p', flag[2:]
	default:
		return h, nil, malformed("bad channel-binding flag %q", flag)
	}
	second := bytes.IndexByte(msg[first+1:], ',')
	if second < 0 {
		return h, nil, malformed("unterminated GS2 header")
	}
	second += first + 1
	if az := msg[first+1 : second]; len(az) > 0 {
		name, ok := bytes.CutPrefix(az, []byte("a="))
		if !ok {
			return h, nil, malformed("bad GS2 authzid")
		}
		u, err := unescapeSASLName(string(name))
		if err != nil {
			return h, nil, err
		}
		h.authzid = u
	}
	h.raw = msg[:second+1]
	return h, msg[second+1:], nil
}

// unescapeSASLName reverses RFC 5802's saslname escaping (=2C and =3D).
func unescapeSASLName(s string) (string, error) {
	if !utf8.ValidString(s) || s == "" || strings.ContainsAny(s, ",\x00") {
		return "", malformed("bad saslname")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", malformed("bad '=' escape in saslname")
		}
		i += 2
	}
	return b.String(), nil
}

// scramServer is SCRAM (RFC 5802, RFC 7677), optionally with tls-exporter
// channel binding (RFC 9266). After a correct client proof it sends the
// server-final message "v=..." as a challenge, and expects an empty response.
type scramServer struct {
	base
	h    hashFunc
	plus bool

	gs2         gs2Header
	name        string // authentication identity
	known       bool   // the user exists
	password    string
	clientFirst []byte // client-first-message-bare
	serverFirst []byte
	nonce       string // full nonce
	salt        []byte
	sentFinal   bool
}

func newSCRAMServer(b base, h hashFunc, plus bool) *scramServer {
	return &scramServer{base: b, h: h, plus: plus}
}

func (s *scramServer) step(resp []byte) ([]byte, bool, error) {
	s.n++
	switch {
	case s.n == 1 && resp == nil:
		return []byte{}, false, nil
	case s.serverFirst == nil:
		return s.first(resp)
	case !s.sentFinal:
		return s.final(resp)
	default:
		if len(resp) != 0 {
			return nil, false, malformed("SCRAM: non-empty response to server-final")
		}
		s.authed = s.name
		return nil, true, nil
	}
}

// first handles client-first-message and returns server-first-message.
func (s *scramServer) first(resp []byte) ([]byte, bool, error) {
	gs2, bare, err := parseGS2(resp)
	if err != nil {
		return nil, false, err
	}
	switch {
	case s.plus && (gs2.cbFlag != 'p' || gs2.cbName != "tls-exporter"):
		return nil, false, malformed("SCRAM-PLUS: want p=tls-exporter")
	case !s.plus && gs2.cbFlag == 'p':
		return nil, false, malformed("SCRAM: channel binding requested with a non-PLUS mechanism")
	case !s.plus && gs2.cbFlag == 'y' && s.opts.OffersPlus:
		return nil, false, ErrAuthFailed // downgrade: we do offer channel binding
	}
	s.gs2 = gs2
	attrs, err := splitAttrs(bare)
	if err != nil {
		return nil, false, err
	}
	if len(attrs) < 2 || attrs[0].k != 'n' || attrs[1].k != 'r' {
		return nil, false, malformed("SCRAM: client-first wants n=,r=")
	}
	if s.name, err = unescapeSASLName(attrs[0].v); err != nil {
		return nil, false, err
	}
	if gs2.authzid != "" && gs2.authzid != s.name {
		return nil, false, ErrAuthFailed
	}
	cnonce := attrs[1].v
	if cnonce == "" || !printable(cnonce) {
		return nil, false, malformed("SCRAM: bad client nonce")
	}
	s.password, s.known = s.lookup(s.name)
	snonce := s.opts.Nonce
	if snonce == "" {
		var r [18]byte
		if _, err := io.ReadFull(s.opts.Rand, r[:]); err != nil {
			return nil, false, err
		}
		snonce = base64.StdEncoding.EncodeToString(r[:])
	}
	s.salt = s.opts.Salt
	if len(s.salt) == 0 {
		s.salt = make([]byte, 16)
		if _, err := io.ReadFull(s.opts.Rand, s.salt); err != nil {
			return nil, false, err
		}
	}
	s.clientFirst = bare
	s.nonce = cnonce + snonce
	s.serverFirst = []byte("r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.salt) +
		",i=" + strconv.Itoa(s.opts.Iterations))
	return s.serverFirst, false, nil
}

// final handles client-final-message and returns server-final-message.
func (s *scramServer) final(resp []byte) ([]byte, bool, error) {
	s.sentFinal = true
	pIdx := bytes.LastIndex(resp, []byte(",p="))
	if pIdx < 0 {
		return nil, false, malformed("SCRAM: client-final without proof")
	}
	withoutProof := resp[:pIdx]
	attrs, err := splitAttrs(withoutProof)
	if err != nil {
		return nil, false, err
	}
	if len(attrs) < 2 || attrs[0].k != 'c' || attrs[1].k != 'r' {
		return nil, false, malformed("SCRAM: client-final wants c=,r=,...,p=")
	}
	cbind, err := base64.StdEncoding.DecodeString(attrs[0].v)
	if err != nil {
		return nil, false, malformed("SCRAM: bad base64 in c=")
	}
	want := append([]byte(nil), s.gs2.raw...)
	if s.gs2.cbFlag == 'p' {
		want = append(want, s.opts.TLSExporter...)
	}
	if !bytes.Equal(cbind, want) {
		return nil, false, ErrAuthFailed // channel binding mismatch
	}
	if attrs[1].v != s.nonce {
		return nil, false, malformed("SCRAM: nonce mismatch")
	}
	proof, err := base64.StdEncoding.DecodeString(string(resp[pIdx+3:]))
	if err != nil {
		return nil, false, malformed("SCRAM: bad base64 in p=")
	}
	size := s.h().Size()
	salted, err := pbkdf2.Key(s.h, s.password, s.salt, s.opts.Iterations, size)
	if err != nil {
		return nil, false, err
	}
	authMsg := make([]byte, 0, len(s.clientFirst)+len(s.serverFirst)+len(withoutProof)+2)
	authMsg = append(authMsg, s.clientFirst...)
	authMsg = append(authMsg, ',')
	authMsg = append(authMsg, s.serverFirst...)
	authMsg = append(authMsg, ',')
	authMsg = append(authMsg, withoutProof...)

	clientKey := s.mac(salted, []byte("Client Key"))
	storedKey := s.digest(clientKey)
	clientSig := s.mac(storedKey, authMsg)
	if len(proof) != size {
		return nil, false, ErrAuthFailed
	}
	got := make([]byte, size)
	for i := range got {
		got[i] = proof[i] ^ clientSig[i]
	}
	if subtle.ConstantTimeCompare(s.digest(got), storedKey) != 1 || !s.known {
		return nil, false, ErrAuthFailed
	}
	serverSig := s.mac(s.mac(salted, []byte("Server Key")), authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), false, nil
}

func (s *scramServer) mac(key, msg []byte) []byte {
	m := hmac.New(s.h, key)
	m.Write(msg)
	return m.Sum(nil)
}

func (s *scramServer) digest(b []byte) []byte {
	h := s.h()
	h.Write(b)
	return h.Sum(nil)
}

type attr struct {
	k byte
	v string
}

// splitAttrs parses "k=v,k=v,...". A mandatory extension "m=" is refused.
func splitAttrs(b []byte) ([]attr, error) {
	var out []attr
	for _, f := range strings.Split(string(b), ",") {
		if len(f) < 2 || f[1] != '=' || !('a' <= f[0] && f[0] <= 'z' || 'A' <= f[0] && f[0] <= 'Z') {
			return nil, malformed("SCRAM: bad attribute %q", f)
		}
		if f[0] == 'm' {
			return nil, malformed("SCRAM: unsupported mandatory extension")
		}
		out = append(out, attr{f[0], f[2:]})
	}
	return out, nil
}

// printable reports whether s is RFC 5802 "printable": %x21-2B / %x2D-7E.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}
