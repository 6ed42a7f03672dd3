package auth

import (
	"errors"
	"slices"
	"strings"
)

// rank orders the built-in mechanisms, strongest first. Names not listed
// (custom mechanisms) rank after all of them.
var rank = map[string]int{
	"SCRAM-SHA-256-PLUS": 0,
	"SCRAM-SHA-256":      1,
	"SCRAM-SHA-1":        2,
	"CRAM-MD5":           3,
	"OAUTHBEARER":        4,
	"XOAUTH2":            5,
	"PLAIN":              6,
	"LOGIN":              7,
}

func rankOf(name string) int {
	if r, ok := rank[strings.ToUpper(name)]; ok {
		return r
	}
	return len(rank)
}

// SkippedMechanism is a candidate Choose left out, and why.
type SkippedMechanism struct {
	Name string
	Err  error // ErrInsecure, ErrNoChannelBinding, ..., or ErrNotOffered
}

// ErrNotOffered is the reason in a SkippedMechanism for a candidate the
// server did not advertise.
var ErrNotOffered = errors.New("auth: mechanism not offered by the server")

// ChooseError is returned by Choose when no candidate can be used. It wraps
// ErrNoCommonMechanism and every skip reason, so errors.Is(err, ErrInsecure)
// tells that a password mechanism was refused because the connection is in
// cleartext.
type ChooseError struct {
	Offered []string           // ServerInfo.Mechanisms
	Skipped []SkippedMechanism // every candidate, in the order tried
}

// Error lists what the server offered and why each candidate was skipped.
func (e *ChooseError) Error() string {
	var b strings.Builder
	b.WriteString(ErrNoCommonMechanism.Error())
	b.WriteString(" (server offers [")
	b.WriteString(strings.Join(e.Offered, " "))
	b.WriteString("]")
	for _, s := range e.Skipped {
		b.WriteString("; ")
		b.WriteString(s.Name)
		b.WriteString(": ")
		b.WriteString(s.Err.Error())
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap returns ErrNoCommonMechanism and the distinct skip reasons.
func (e *ChooseError) Unwrap() []error {
	errs := []error{ErrNoCommonMechanism}
	for _, s := range e.Skipped {
		if !slices.Contains(errs, s.Err) {
			errs = append(errs, s.Err)
		}
	}
	return errs
}

// Choose returns the strongest candidate that the server advertised in
// info.Mechanisms (compared case-insensitively) and that can run with info.
//
// The order, strongest first: SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1,
// CRAM-MD5, OAUTHBEARER, XOAUTH2, PLAIN, LOGIN, then any other (custom)
// mechanism in the order given. Candidates with the same name keep their
// order. A candidate implementing Checker is skipped when Check fails: PLAIN,
// LOGIN, XOAUTH2 and OAUTHBEARER over cleartext to a non-loopback peer
// (ErrInsecure), SCRAM-SHA-256-PLUS without TLSExporter
// (ErrNoChannelBinding). Choose does not call Start.
//
// When nothing is left it returns a *ChooseError wrapping
// ErrNoCommonMechanism and the reasons.
func Choose(candidates []Mechanism, info ServerInfo) (Mechanism, error) {
	sorted := slices.DeleteFunc(slices.Clone(candidates), func(m Mechanism) bool { return m == nil })
	slices.SortStableFunc(sorted, func(a, b Mechanism) int { return rankOf(a.Name()) - rankOf(b.Name()) })
	cerr := &ChooseError{Offered: slices.Clone(info.Mechanisms)}
	for _, m := range sorted {
		if !info.offers(m.Name()) {
			cerr.Skipped = append(cerr.Skipped, SkippedMechanism{Name: m.Name(), Err: ErrNotOffered})
			continue
		}
		if c, ok := m.(Checker); ok {
			if err := c.Check(info); err != nil {
				cerr.Skipped = append(cerr.Skipped, SkippedMechanism{Name: m.Name(), Err: err})
				continue
			}
		}
		return m, nil
	}
	return nil, cerr
}

// ForPassword returns the password mechanisms in Choose's order:
// SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN (no
// authorization identity) and LOGIN, all for username and password. Pass the
// result to Choose; this is what smtplib's login() tries.
func ForPassword(username, password string) []Mechanism {
	return []Mechanism{
		SCRAMSHA256Plus(username, password),
		SCRAMSHA256(username, password),
		SCRAMSHA1(username, password),
		CRAMMD5(username, password),
		Plain("", username, password),
		Login(username, password),
	}
}
