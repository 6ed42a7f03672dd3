//go:build interop

// Package interop checks postwire's session package against real servers: aiosmtpd, Dovecot
// LMTP and Postfix's smtp-sink, started on loopback and Unix sockets by
// scripts/interop/run.sh (`make interop`), which passes their addresses in POSTWIRE_INTEROP_*
// environment variables.
//
// Every message sent is read back from where the server stored it and compared, byte for
// byte, with what the message must be on arrival: the body as given with every line ending
// made CRLF (bare LF and bare CR included), a final CRLF added when missing, dots
// un-stuffed. What each server adds in front of a message is checked and stripped precisely
// (see stored_test.go and scripts/interop/README.md); nothing else is ignored.
//
// Without the environment (plain `go test -tags interop`) every test fails, saying to run
// `make interop`.
package interop
