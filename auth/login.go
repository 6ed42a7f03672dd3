package auth

// Login returns the LOGIN mechanism (draft-murchison-sasl-login). As
// smtplib does, the user name is the initial response and every prompt
// is answered by its position, whatever its text says (servers differ in
// wording and case, and many send "334 Username:" or "334 Password:",
// which is not base64): the first prompt gets the password, a second one
// is ErrUnexpectedChallenge. A session that cannot send the initial
// response on the AUTH line (RFC 4954 §4: the line would be too long)
// sends it as the answer to the server's first, empty challenge, so the
// count stays right. LOGIN implements IgnoresChallenges.
//
// Start fails with ErrInsecure over cleartext to a non-loopback peer unless
// ServerInfo.AllowInsecure.
func Login(username, password string) Mechanism {
	return &login{username: username, password: password}
}

type login struct {
	username, password string
	step               int
}

func (*login) Name() string { return "LOGIN" }

// IgnoresChallenges: LOGIN's prompts are answered by count.
func (*login) IgnoresChallenges() bool { return true }

func (l *login) Check(info ServerInfo) error {
	if !info.secure() {
		return ErrInsecure
	}
	return nil
}

func (l *login) Start(info ServerInfo) ([]byte, error) {
	if err := l.Check(info); err != nil {
		return nil, err
	}
	l.step = 1 // the user name, as the initial response
	return []byte(l.username), nil
}

func (l *login) Next(challenge []byte) ([]byte, error) {
	l.step++
	if l.step == 2 {
		return []byte(l.password), nil
	}
	return nil, ErrUnexpectedChallenge
}
