package auth

// Login returns the LOGIN mechanism (draft-murchison-sasl-login): the server
// prompts twice ("Username:", "Password:") and the client answers by
// position, whatever the prompt text says (servers differ in wording and
// case). Like smtplib, it sends no initial response: the first challenge gets
// the user name, the second the password, a third is ErrUnexpectedChallenge.
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
	l.step = 0
	return nil, nil
}

func (l *login) Next(challenge []byte) ([]byte, error) {
	l.step++
	switch l.step {
	case 1:
		return []byte(l.username), nil
	case 2:
		return []byte(l.password), nil
	default:
		return nil, ErrUnexpectedChallenge
	}
}
