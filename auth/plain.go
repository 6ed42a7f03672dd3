package auth

import "strings"

// Plain returns the PLAIN mechanism (RFC 4616): one message,
// identity NUL username NUL password, sent as the initial response.
// identity is the authorization identity, usually "" (act as username).
//
// Start fails with ErrInsecure over cleartext to a non-loopback peer unless
// ServerInfo.AllowInsecure, and with ErrInvalidCredential if a field holds
// a NUL byte. If the server sends an empty challenge (the session chose not
// to send the initial response), Next answers it with the same message once;
// any other challenge is ErrUnexpectedChallenge.
func Plain(identity, username, password string) Mechanism {
	return &plain{identity: identity, username: username, password: password}
}

type plain struct {
	identity, username, password string
	answered                     bool
}

func (*plain) Name() string { return "PLAIN" }

func (p *plain) Check(info ServerInfo) error {
	if !info.secure() {
		return ErrInsecure
	}
	if strings.ContainsRune(p.identity+p.username+p.password, 0) {
		return ErrInvalidCredential
	}
	return nil
}

func (p *plain) Start(info ServerInfo) ([]byte, error) {
	if err := p.Check(info); err != nil {
		return nil, err
	}
	p.answered = false
	return p.message(), nil
}

func (p *plain) message() []byte {
	b := make([]byte, 0, len(p.identity)+len(p.username)+len(p.password)+2)
	b = append(b, p.identity...)
	b = append(b, 0)
	b = append(b, p.username...)
	b = append(b, 0)
	return append(b, p.password...)
}

func (p *plain) Next(challenge []byte) ([]byte, error) {
	if len(challenge) != 0 || p.answered {
		return nil, ErrUnexpectedChallenge
	}
	p.answered = true
	return p.message(), nil
}
