// Package bench compares postwire's session client with its peers, net/smtp
// and github.com/emersion/go-smtp, measured in the same run against the same
// in-process server (session/smtptest over loopback TCP).
//
// It is a separate module so that the peers stay out of postwire's own
// go.mod. Everything lives in the _test.go files:
//
//   - BenchmarkSend: one message per iteration (MAIL, RCPTs, body) on an
//     established connection, 1 and 10 recipients.
//   - BenchmarkSendRTT: the same with a simulated round-trip time
//     (transport.LatencyConn), where pipelining pays off.
//   - BenchmarkSendBatch: postwire's SendBatch against sequential SendMail.
//   - BenchmarkBody: 1 MiB through codec.Stuffer, net/textproto's DotWriter
//     and a plain copy.
//
// Every Send benchmark reports "roundtrips/msg", counted by
// transport.LatencyConn: a deterministic figure next to the timings.
// TestClientsDeliver checks that every client's message reaches the server
// byte for byte, so the benchmarks compare equal work.
//
// Run it with `make bench` from the repository root; cmd/ratios turns the
// output into ratios.
package bench
