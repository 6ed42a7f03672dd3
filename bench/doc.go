// Package bench compares postwire with its peers, measured in one run:
// the session client against net/smtp and github.com/emersion/go-smtp,
// and the dot-stuffers against net/textproto's DotWriter and memmove.
//
// It is a separate module so that the peers stay out of postwire's own
// go.mod. The package holds the harness; command cmd/bench (what
// `make bench` runs) starts the servers, runs the cases and prints the
// lines described in README.md:
//
//   - Clients: the four implementations, each a Mailer sending copies of
//     one Message on a greeted connection.
//   - TurnConn: counts round trips at the conn (a Read after a Write) and
//     can add a delay to each.
//   - Interleave: several short rounds per client, in rotating order;
//     Result takes the medians.
//   - CPUMeter, MailerCPU and InterleaveCPU: client CPU time per message
//     (getrusage), against Postfix's smtp-source in cmd/bench.
//   - Stuffings and MeasureStuffings: the dot-stuffing comparison.
//
// It uses only postwire's exported API, so it measures whatever the
// session package does inside. The tests check that every client delivers
// the same bytes with the round trips the figures are read against, and
// that the stuffers do equal work.
package bench
