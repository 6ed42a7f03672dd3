// Package postwire is the root of an SMTP, ESMTP and LMTP client library.
//
// The library is split into packages with one job each (see README.md, and
// ARCHITECTURE.md for the import rules, the protocol core's ledger and how a
// reply travels from the connection to the call waiting for it):
//
//   - protocol: the sans-I/O state machine. Bytes in, events out, commands
//     queued as state transitions. No sockets, goroutines or clocks.
//   - codec: pure byte transforms: dot-stuffing, xtext, address checks, and
//     the envelope taken from a header block.
//   - auth: SASL mechanisms as small sans-I/O state machines.
//   - transport: how bytes travel: TCP, implicit TLS, STARTTLS, Unix
//     sockets, in-memory pipes.
//   - session: the blocking, context-aware client that users call, with
//     everything Python's smtplib offers; session/smtptest is an in-process
//     server for tests.
//
// This package itself holds no code; its tests check the import rules
// between the packages.
package postwire
