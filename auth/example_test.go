package auth_test

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/postwire/postwire/auth"
)

// ExampleChoose picks the strongest password mechanism the server offers on
// a TLS 1.2 connection (no tls-exporter, so no -PLUS).
func ExampleChoose() {
	info := auth.ServerInfo{
		Name:       "smtp.example.org",
		Port:       587,
		TLS:        true,
		Mechanisms: []string{"PLAIN", "LOGIN", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS"},
	}
	m, err := auth.Choose(auth.ForPassword("alice", "s3cret"), info)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Name())

	// The same server over cleartext: PLAIN and LOGIN are refused, and
	// SCRAM-SHA-1 is still safe to use.
	info.TLS = false
	info.Mechanisms = []string{"PLAIN", "LOGIN"}
	_, err = auth.Choose(auth.ForPassword("alice", "s3cret"), info)
	fmt.Println(errors.Is(err, auth.ErrNoCommonMechanism), errors.Is(err, auth.ErrInsecure))
	// Output:
	// SCRAM-SHA-1
	// true true
}

// ExamplePlain shows the AUTH PLAIN initial response as the session sends it.
func ExamplePlain() {
	ex, ir, err := auth.Begin(auth.Plain("", "tim", "tanstaaftanstaaf"), auth.ServerInfo{TLS: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("AUTH PLAIN " + base64.StdEncoding.EncodeToString(ir))
	// ... the server answers 235 ...
	fmt.Println(ex.Done())
	// Output:
	// AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm
	// <nil>
}

// anonymous is a custom mechanism: ANONYMOUS (RFC 4505) sends trace
// information, usually an email address, as its only message.
type anonymous struct{ trace string }

func (anonymous) Name() string { return "ANONYMOUS" }

func (a anonymous) Start(auth.ServerInfo) ([]byte, error) { return []byte(a.trace), nil }

func (anonymous) Next([]byte) ([]byte, error) { return nil, auth.ErrUnexpectedChallenge }

// Example_customMechanism plugs a mechanism the package does not have: any
// type implementing Mechanism works with Choose and Exchange.
func Example_customMechanism() {
	info := auth.ServerInfo{TLS: true, Mechanisms: []string{"ANONYMOUS", "PLAIN"}}
	m, err := auth.Choose([]auth.Mechanism{anonymous{trace: "sirhc"}}, info)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, ir, err := auth.Begin(m, info)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("AUTH %s %s\n", m.Name(), base64.StdEncoding.EncodeToString(ir))
	// Output:
	// AUTH ANONYMOUS c2lyaGM=
}
