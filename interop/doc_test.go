//go:build interop

// Package interop checks postwire's session package against real servers: aiosmtpd, Dovecot
// LMTP, Postfix's smtp-sink, and two full MTAs, Postfix (smtpd, queue and virtual delivery,
// SASL through Dovecot) and Exim, started on loopback and Unix sockets by
// scripts/interop/run.sh (`make interop`), which passes their addresses in POSTWIRE_INTEROP_*
// environment variables.
//
// Every message sent is read back from where the server stored it and compared, byte for
// byte, with what the message must be on arrival: the body as given with every line ending
// made CRLF (bare LF and bare CR included), a final CRLF added when missing, dots
// un-stuffed. What each server adds in front of a message is checked and stripped precisely
// (see stored_test.go, maildir_test.go and scripts/interop/README.md); nothing else is
// ignored. Postfix and Exim deliver after they reply, one file per recipient: the tests wait
// (bounded) for every copy, and check that none arrives twice.
//
// Without the environment (plain `go test -tags interop`) every test fails, saying to run
// `make interop`.
package interop
