package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSCRAMIterations is the largest SCRAM iteration count the client
// accepts. A hostile server could otherwise ask for billions of PBKDF2
// rounds and burn the client's CPU; real servers use 4096 to a few hundred
// thousand.
const MaxSCRAMIterations = 1_000_000

// SCRAMError is a SCRAM server-error: the "e=" attribute of a server message
// (RFC 5802 section 7), for example "invalid-proof" or
// "channel-bindings-dont-match".
type SCRAMError struct {
	Value string
}

// Error returns "auth: SCRAM server error: " and the server's value.
func (e *SCRAMError) Error() string { return "auth: SCRAM server error: " + e.Value }

// SCRAMSHA1 returns SCRAM-SHA-1 (RFC 5802). See SCRAMSHA256.
func SCRAMSHA1(username, password string) Mechanism {
	return newSCRAM("SCRAM-SHA-1", sha1.New, false, username, password)
}

// SCRAMSHA256 returns SCRAM-SHA-256 (RFC 7677, RFC 5802): the password never
// leaves the client, and the server must prove it knows it too.
//
// The initial response is the client-first message with a random nonce (see
// WithRand). Next answers server-first with the client proof, then checks the
// server signature in server-final ("v=") and answers with an empty
// response. Failures: ErrMalformedChallenge (missing r=, a nonce that does not
// extend ours, bad base64 salt, iteration count 0 or above
// MaxSCRAMIterations, a mandatory extension), *SCRAMError for a server "e=",
// ErrServerSignature for a wrong "v=", ErrUnexpectedChallenge for a challenge
// after server-final. Finish (called by Exchange.Done after 235) returns
// ErrServerSignature unless a correct server-final was seen.
//
// The GS2 header is "n,,", or "y,," when the connection has a tls-exporter
// value but the server did not advertise SCRAM-SHA-256-PLUS (RFC 5802
// section 6: lets a server that does support channel binding detect a
// downgrade). No authorization identity is sent.
//
// The user name must be valid UTF-8 without NUL and not empty, and the
// password must not contain NUL, otherwise Start fails with
// ErrInvalidCredential; ',' and '=' in the user name are escaped as "=2C" and
// "=3D". Full SASLprep (RFC 4013) is not applied to the user name or the
// password: both are used as given, which is the same for ASCII.
func SCRAMSHA256(username, password string) Mechanism {
	return newSCRAM("SCRAM-SHA-256", sha256.New, false, username, password)
}

// SCRAMSHA256Plus returns SCRAM-SHA-256-PLUS: SCRAM-SHA-256 with tls-exporter
// channel binding (RFC 9266). The GS2 header is "p=tls-exporter,," and the
// client-final "c=" carries base64(GS2 header + ServerInfo.TLSExporter), so a
// man in the middle who terminates TLS cannot relay the exchange. Start fails
// with ErrNoChannelBinding when ServerInfo.TLSExporter is empty (not TLS 1.3).
func SCRAMSHA256Plus(username, password string) Mechanism {
	return newSCRAM("SCRAM-SHA-256-PLUS", sha256.New, true, username, password)
}

const (
	scramIdle = iota
	scramSentFirst
	scramSentFinal
	scramVerified
	scramFailed
)

type scram struct {
	name     string
	h        func() hash.Hash
	plus     bool
	username string
	password string
	rand     io.Reader // nil: crypto/rand
	nonceLen int       // random bytes in the client nonce; 0: 18

	state       int
	resentFirst bool
	gs2         string
	clientFirst []byte // client-first-message (with GS2 header)
	bareStart   int    // where client-first-message-bare begins in clientFirst
	cbData      []byte
	clientNonce string
	serverSig   []byte
}

func newSCRAM(name string, h func() hash.Hash, plus bool, username, password string) *scram {
	return &scram{name: name, h: h, plus: plus, username: username, password: password}
}

func (s *scram) Name() string { return s.name }

func (s *scram) Check(info ServerInfo) error {
	if s.plus && len(info.TLSExporter) == 0 {
		return ErrNoChannelBinding
	}
	if s.username == "" || !validText(s.username, "\x00") {
		return fmt.Errorf("%w: SCRAM user name must be non-empty UTF-8 without NUL", ErrInvalidCredential)
	}
	if strings.ContainsRune(s.password, 0) {
		// SASLprep prohibits NUL, and HMAC pads keys with zeros, so "pw"
		// and "pw\x00" would be the same password.
		return fmt.Errorf("%w: SCRAM password contains NUL", ErrInvalidCredential)
	}
	return nil
}

func (s *scram) Start(info ServerInfo) ([]byte, error) {
	s.state = scramFailed
	if err := s.Check(info); err != nil {
		return nil, err
	}
	switch {
	case s.plus:
		s.gs2 = "p=tls-exporter,,"
		s.cbData = append([]byte(nil), info.TLSExporter...)
	case len(info.TLSExporter) > 0 && s.name == "SCRAM-SHA-256" && len(info.Mechanisms) > 0 &&
		!info.offers("SCRAM-SHA-256-PLUS"):
		s.gs2, s.cbData = "y,,", nil
	default:
		s.gs2, s.cbData = "n,,", nil
	}
	n := s.nonceLen
	if n == 0 {
		n = 18
	}
	r := s.rand
	if r == nil {
		r = defaultRand
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("auth: SCRAM nonce: %w", err)
	}
	s.clientNonce = base64.StdEncoding.EncodeToString(raw)
	b := append([]byte(nil), s.gs2...)
	s.bareStart = len(b)
	b = append(b, "n="...)
	b = appendSASLName(b, s.username)
	b = append(b, ",r="...)
	b = append(b, s.clientNonce...)
	s.clientFirst = b
	s.resentFirst = false
	s.serverSig = nil
	s.state = scramSentFirst
	return b, nil
}

func (s *scram) Next(challenge []byte) ([]byte, error) {
	switch s.state {
	case scramSentFirst:
		if len(challenge) == 0 && !s.resentFirst { // no initial response was sent
			s.resentFirst = true
			return s.clientFirst, nil
		}
		resp, err := s.serverFirst(challenge)
		if err != nil {
			s.state = scramFailed
			return nil, err
		}
		s.state = scramSentFinal
		return resp, nil
	case scramSentFinal:
		if err := s.serverFinal(challenge); err != nil {
			s.state = scramFailed
			return nil, err
		}
		s.state = scramVerified
		return []byte{}, nil
	default:
		return nil, ErrUnexpectedChallenge
	}
}

// Finish reports ErrServerSignature unless server-final was seen and valid.
func (s *scram) Finish() error {
	if s.state != scramVerified {
		return fmt.Errorf("%w: the server accepted without a valid server-final message", ErrServerSignature)
	}
	return nil
}

func malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedChallenge, fmt.Sprintf(format, args...))
}

// serverFirst parses server-first-message and returns client-final-message.
func (s *scram) serverFirst(msg []byte) ([]byte, error) {
	if v, ok := bytes.CutPrefix(msg, []byte("e=")); ok {
		return nil, &SCRAMError{Value: string(v)}
	}
	attrs, err := scramAttrs(msg)
	if err != nil {
		return nil, err
	}
	if len(attrs) < 3 || attrs[0].k != 'r' || attrs[1].k != 's' || attrs[2].k != 'i' {
		return nil, malformedf("SCRAM server-first wants r=,s=,i=")
	}
	nonce := attrs[0].v
	if !strings.HasPrefix(nonce, s.clientNonce) || len(nonce) == len(s.clientNonce) || !scramPrintable(nonce) {
		return nil, malformedf("SCRAM server nonce does not extend the client nonce")
	}
	salt, err := decodeStrict(attrs[1].v)
	if err != nil || len(salt) == 0 {
		return nil, malformedf("SCRAM salt is not base64")
	}
	iter, err := strconv.Atoi(attrs[2].v)
	if err != nil || attrs[2].v[0] < '0' || attrs[2].v[0] > '9' || iter < 1 || iter > MaxSCRAMIterations {
		return nil, malformedf("SCRAM iteration count %q out of range 1..%d", attrs[2].v, MaxSCRAMIterations)
	}
	size := s.h().Size()
	salted, err := pbkdf2.Key(s.h, s.password, salt, iter, size)
	if err != nil {
		return nil, fmt.Errorf("auth: SCRAM: %w", err)
	}

	final := []byte("c=")
	final = base64.StdEncoding.AppendEncode(final, append([]byte(s.gs2), s.cbData...))
	final = append(final, ",r="...)
	final = append(final, nonce...)

	bare := s.clientFirst[s.bareStart:]
	authMsg := make([]byte, 0, len(bare)+len(msg)+len(final)+2)
	authMsg = append(authMsg, bare...)
	authMsg = append(authMsg, ',')
	authMsg = append(authMsg, msg...)
	authMsg = append(authMsg, ',')
	authMsg = append(authMsg, final...)

	clientKey := s.mac(salted, []byte("Client Key"))
	storedKey := s.h()
	storedKey.Write(clientKey)
	clientSig := s.mac(storedKey.Sum(nil), authMsg)
	for i := range clientKey {
		clientKey[i] ^= clientSig[i] // clientKey becomes the proof
	}
	s.serverSig = s.mac(s.mac(salted, []byte("Server Key")), authMsg)

	final = append(final, ",p="...)
	return base64.StdEncoding.AppendEncode(final, clientKey), nil
}

// serverFinal checks server-final-message.
func (s *scram) serverFinal(msg []byte) error {
	first, _, _ := bytes.Cut(msg, []byte(","))
	if v, ok := bytes.CutPrefix(first, []byte("e=")); ok {
		return &SCRAMError{Value: string(v)}
	}
	v, ok := bytes.CutPrefix(first, []byte("v="))
	if !ok {
		return fmt.Errorf("%w: server-final without v=", ErrServerSignature)
	}
	sig, err := decodeStrict(string(v))
	if err != nil || !hmac.Equal(sig, s.serverSig) {
		return ErrServerSignature
	}
	return nil
}

func (s *scram) mac(key, msg []byte) []byte {
	m := hmac.New(s.h, key)
	m.Write(msg)
	return m.Sum(nil)
}

type scramAttr struct {
	k byte
	v string
}

// scramAttrs splits "k=v,k=v". A mandatory extension "m=" is refused.
func scramAttrs(msg []byte) ([]scramAttr, error) {
	if !utf8.Valid(msg) {
		return nil, malformedf("SCRAM message is not UTF-8")
	}
	var out []scramAttr
	for f := range strings.SplitSeq(string(msg), ",") {
		if len(f) < 2 || f[1] != '=' || !('a' <= f[0] && f[0] <= 'z' || 'A' <= f[0] && f[0] <= 'Z') {
			return nil, malformedf("SCRAM attribute %q", f)
		}
		if f[0] == 'm' {
			return nil, malformedf("SCRAM mandatory extension not supported")
		}
		out = append(out, scramAttr{f[0], f[2:]})
	}
	return out, nil
}

// scramPrintable reports whether s is RFC 5802 "printable": %x21-2B / %x2D-7E.
func scramPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// appendSASLName appends name with ',' and '=' escaped (RFC 5802 saslname).
func appendSASLName(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case ',':
			b = append(b, "=2C"...)
		case '=':
			b = append(b, "=3D"...)
		default:
			b = append(b, name[i])
		}
	}
	return b
}

// decodeStrict decodes standard, padded base64 with no slack: the encoding's
// Strict mode still skips CR and LF, which RFC 5802 never allows inside an
// attribute value.
func decodeStrict(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, base64.CorruptInputError(strings.IndexAny(s, "\r\n"))
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}
