package session

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/transport"
)

// Default RFC 5321 section 4.5.3.2 time-outs.
const (
	DefaultGreetingTimeout  = 5 * time.Minute  // initial 220 message
	DefaultMailTimeout      = 5 * time.Minute  // MAIL command
	DefaultRcptTimeout      = 5 * time.Minute  // RCPT command
	DefaultDataInitTimeout  = 2 * time.Minute  // DATA initiation (the 354)
	DefaultDataBlockTimeout = 3 * time.Minute  // each write of message data; BDAT chunks
	DefaultDataTermTimeout  = 10 * time.Minute // reply to the end of data
	DefaultCommandTimeout   = 5 * time.Minute  // every other command
)

// DefaultChunkSize is the BDAT chunk size used when Options.ChunkSize is 0.
const DefaultChunkSize = 64 << 10

// DefaultOptimisticLimit is Options.OptimisticLimit when 0: one default
// chunk. At 64 KiB the most a refused message can waste is about what a
// 50 Mbit/s link carries in one 10 ms round trip, the time the wait
// would cost; most mail is smaller and goes in one round trip.
const DefaultOptimisticLimit = 64 << 10

// DefaultBatchWindow is Options.BatchWindow when 0: 1/16 of a round trip
// per message. Behind latency throughput grows with the window
// (BenchmarkBatchWindow, 5 ms each way: about 97 msgs/s at 1, 1,540 at
// 16, 6,000 at 64), so the default is set by what a flight may hold
// unwritten and unanswered: 16 messages of up to OptimisticLimit bytes,
// 1 MiB. Raise it for long links and small messages.
const DefaultBatchWindow = 16

// DefaultMaxHeaderBytes bounds the header block SendMessage reads when
// Options.MaxHeaderBytes is 0.
const DefaultMaxHeaderBytes = 1 << 20

// Timeouts holds per-command time-outs: how long to wait for the server's
// reply (for DataBlock: for each write of message data). A zero field
// takes the RFC 5321 section 4.5.3.2 default; a negative one means no
// time-out (the context still applies). When one fires the call fails with
// an error matching ErrTimeout and os.ErrDeadlineExceeded, and the
// connection is closed.
type Timeouts struct {
	Greeting  time.Duration // initial 220 (default 5 min)
	Mail      time.Duration // MAIL (default 5 min)
	Rcpt      time.Duration // RCPT (default 5 min)
	DataInit  time.Duration // DATA's 354 (default 2 min)
	DataBlock time.Duration // each write, and each non-last BDAT reply (default 3 min)
	DataTerm  time.Duration // the reply(ies) after the end of data (default 10 min)
	Other     time.Duration // every other command (default 5 min)
}

// TLSPolicy says whether a Client upgrades a cleartext connection with
// STARTTLS on its own (it never does on a DialTLS connection).
type TLSPolicy uint8

// The policies.
const (
	// TLSManual (the zero value): STARTTLS only when StartTLS is called,
	// as with smtplib.
	TLSManual TLSPolicy = iota
	// TLSOpportunistic: STARTTLS right after the first greeting when the
	// server offers it; the session stays in cleartext when it is not
	// offered or the server refuses it (e.g. 454). A failed handshake
	// still fails the call: the connection cannot go back to cleartext.
	TLSOpportunistic
	// TLSRequired: STARTTLS right after the first greeting; when the
	// server does not offer it (*NotSupportedError), refuses it or the
	// handshake fails, the connection is closed before anything else is
	// sent and the call fails with that error.
	TLSRequired
)

// Options configures a Client. A nil *Options and the zero value mean:
// EHLO with the local host's name, certificates verified against the
// system roots, RFC 5321 time-outs, no logging, PLAIN/LOGIN refused over
// cleartext to a non-loopback peer, SMTP (not LMTP), PIPELINING and
// CHUNKING used when offered.
type Options struct {
	// LocalName is the name sent in EHLO/HELO/LHLO (smtplib's
	// local_hostname). "" means the fully qualified name of this host
	// (os.Hostname, resolved when it has no dot) when it is a valid domain
	// (protocol.ValidHelloName), else the connection's
	// local IP address as an address literal ("[192.0.2.1]"), else
	// "localhost".
	LocalName string

	// TLSConfig is used by DialTLS and, when StartTLS gets nil, by
	// StartTLS. It is cloned; ServerName defaults to the host dialled (or
	// given to NewClient). Unlike smtplib, certificates are verified by
	// default: set InsecureSkipVerify yourself to opt out.
	TLSConfig *tls.Config

	// Dialer opens the connection (e.g. a SOCKS proxy); nil means a
	// net.Dialer honouring LocalAddr and ConnectTimeout.
	Dialer transport.ContextDialer
	// LocalAddr is the source address (smtplib's source_address).
	LocalAddr net.Addr
	// ConnectTimeout bounds the connect (and the TLS handshake of DialTLS)
	// beyond the context; 0 means no extra bound.
	ConnectTimeout time.Duration

	// Logger, when non-nil, receives one Debug record per command line
	// sent and per reply line received, with attributes "direction"
	// ("send" or "recv"; "note" for events such as the TLS handshake) and
	// "line". AUTH payloads in both directions are
	// replaced by "[redacted]"; message bodies are summarised by size.
	Logger *slog.Logger

	// TLSPolicy makes the client use STARTTLS by itself after the first
	// greeting (with TLSConfig); the zero value leaves it to the caller.
	TLSPolicy TLSPolicy

	// Timeouts overrides the per-command time-outs.
	Timeouts Timeouts

	// AllowInsecureAuth lets PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER send
	// credentials over an unencrypted connection to a non-loopback peer.
	AllowInsecureAuth bool

	// LMTP speaks LMTP (RFC 2033): LHLO instead of EHLO, no HELO fallback,
	// one reply per accepted recipient after the data. DialLMTP sets it.
	LMTP bool

	// MaxLineLength and MaxReplyLines bound each reply line (CRLF
	// included) and the lines of one reply; 0 means the protocol defaults
	// (8192 and 1000). A server exceeding them gets a *protocol.PeerError.
	MaxLineLength int
	MaxReplyLines int

	// DisablePipelining and DisableChunking stop the client from using
	// PIPELINING and CHUNKING even when the server offers them.
	DisablePipelining bool
	DisableChunking   bool
	// ChunkSize is the BDAT chunk size; 0 means DefaultChunkSize.
	ChunkSize int
	// OptimisticLimit: with PIPELINING and CHUNKING, up to this many bytes
	// of a message (after line-ending normalisation) go out in the same
	// flight as its MAIL and RCPTs, before their replies: a message that
	// fits is sent in one round trip ("BDAT n LAST" with the envelope).
	// Before more is sent the client waits for the envelope replies, so
	// that a large body is not streamed to a server that refused every
	// recipient (RFC 3030 lets the server answer such a BDAT with 554;
	// the result is then a *RecipientsRefusedError, never a delivery).
	// 0 means DefaultOptimisticLimit; negative: always wait.
	OptimisticLimit int
	// BatchWindow is how many messages SendBatch sends in one flight with
	// PIPELINING and CHUNKING (each message's MAIL, RCPTs and BDAT follow
	// the previous one's without waiting), before it waits for their
	// replies; 0 means DefaultBatchWindow.
	BatchWindow int
	// MaxHeaderBytes bounds the header block SendMessage reads before it
	// starts sending; 0 means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
}

func (o *Options) timeout(d, def time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d == 0:
		return def
	}
	return d
}

// replyTimeout is the time-out for the reply to cmd (0: none).
func (o *Options) replyTimeout(cmd protocol.Command, greeting bool) time.Duration {
	t := &o.Timeouts
	if greeting {
		return o.timeout(t.Greeting, DefaultGreetingTimeout)
	}
	switch cmd.Verb {
	case protocol.VerbMail:
		return o.timeout(t.Mail, DefaultMailTimeout)
	case protocol.VerbRcpt:
		return o.timeout(t.Rcpt, DefaultRcptTimeout)
	case protocol.VerbData:
		return o.timeout(t.DataInit, DefaultDataInitTimeout)
	case protocol.VerbEndData:
		return o.timeout(t.DataTerm, DefaultDataTermTimeout)
	case protocol.VerbBdat:
		for _, p := range cmd.Params {
			if strings.EqualFold(p.Key, "LAST") {
				return o.timeout(t.DataTerm, DefaultDataTermTimeout)
			}
		}
		return o.timeout(t.DataBlock, DefaultDataBlockTimeout)
	}
	return o.timeout(t.Other, DefaultCommandTimeout)
}

func (o *Options) writeTimeout() time.Duration {
	return o.timeout(o.Timeouts.DataBlock, DefaultDataBlockTimeout)
}

func (o *Options) chunkSize() int {
	if o.ChunkSize <= 0 {
		return DefaultChunkSize
	}
	return o.ChunkSize
}

func (o *Options) optimisticLimit() int64 {
	switch {
	case o.OptimisticLimit < 0:
		return -1
	case o.OptimisticLimit == 0:
		return DefaultOptimisticLimit
	}
	return int64(o.OptimisticLimit)
}

func (o *Options) batchWindow() int {
	if o.BatchWindow <= 0 {
		return DefaultBatchWindow
	}
	return o.BatchWindow
}

func (o *Options) maxHeader() int {
	if o.MaxHeaderBytes <= 0 {
		return DefaultMaxHeaderBytes
	}
	return o.MaxHeaderBytes
}

func (o *Options) transportOptions() transport.Options {
	return transport.Options{Timeout: o.ConnectTimeout, LocalAddr: o.LocalAddr, Dialer: o.Dialer}
}

// hostFQDN is the fully qualified name of this host, or "" (cached).
var hostFQDN = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return ""
	}
	if strings.Contains(h, ".") {
		return h
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, h)
	if err == nil {
		for _, a := range addrs {
			names, err := net.DefaultResolver.LookupAddr(ctx, a)
			if err != nil {
				continue
			}
			for _, n := range names {
				n = strings.TrimSuffix(n, ".")
				if strings.Contains(n, ".") && !strings.HasPrefix(n, "localhost") {
					return n
				}
			}
		}
	}
	return ""
})

// localName picks the EHLO name as smtplib does: the FQDN, else the
// local address literal, else "localhost".
func localName(o *Options, conn net.Conn) string {
	if o.LocalName != "" {
		return o.LocalName
	}
	if n := hostFQDN(); n != "" && protocol.ValidHelloName(n) { // a host name with '_' would be refused
		return n
	}
	if a, ok := conn.LocalAddr().(*net.TCPAddr); ok && a != nil && a.IP != nil {
		if ip4 := a.IP.To4(); ip4 != nil {
			return "[" + ip4.String() + "]"
		}
		return "[IPv6:" + a.IP.String() + "]"
	}
	return "localhost"
}
