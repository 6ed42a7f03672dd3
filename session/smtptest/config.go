package smtptest

import (
	"crypto/tls"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/postwire/postwire/protocol"
)

// ErrServerClosed is returned by ServeConn when Close ended the
// conversation, and by Listen after Close.
var ErrServerClosed = errors.New("smtptest: server closed")

// Defaults for the bounds in Config.
const (
	DefaultHostname        = "smtptest.local"
	DefaultMaxLineLength   = 4096
	DefaultMaxMessageBytes = 64 << 20
	DefaultMaxRecipients   = 1000
	DefaultMaxRecorded     = 64 << 20
)

// Config describes how a Server behaves. The zero Config is an ESMTP server
// offering PIPELINING, 8BITMIME, SMTPUTF8, CHUNKING, DSN and
// ENHANCEDSTATUSCODES, accepting every sender and recipient, with no TLS
// and no AUTH.
type Config struct {
	// Hostname is used in the greeting and the EHLO reply;
	// "" means DefaultHostname.
	Hostname string
	// LMTP makes the server speak LMTP (RFC 2033): LHLO replaces EHLO and
	// HELO, and the end of the data gets one reply per accepted recipient.
	LMTP bool
	// Greeting, if non-empty, is written verbatim instead of the normal
	// greeting (include the CRLF; several lines are allowed). A greeting
	// whose first three bytes are not "220" makes the server wait for QUIT
	// and answer every other command with 503 5.5.1.
	Greeting string

	// DisableEHLO refuses EHLO (500 5.5.2, as an RFC 821 server would) so
	// that clients fall back to HELO.
	DisableEHLO bool
	// DisablePipelining omits PIPELINING (commands are still processed in order).
	DisablePipelining bool
	// DisableChunking omits CHUNKING and refuses BDAT.
	DisableChunking bool
	// Disable8BITMIME omits 8BITMIME and refuses BODY=8BITMIME.
	Disable8BITMIME bool
	// DisableSMTPUTF8 omits SMTPUTF8 and refuses the SMTPUTF8 parameter.
	DisableSMTPUTF8 bool
	// DisableDSN omits DSN and refuses RET, ENVID, NOTIFY and ORCPT.
	DisableDSN bool
	// DisableEnhancedCodes omits ENHANCEDSTATUSCODES and strips the
	// enhanced codes from the server's own replies.
	DisableEnhancedCodes bool

	// MaxSize, when positive, is advertised as "SIZE n" and enforced: a MAIL
	// SIZE parameter above it, or a body longer than it, gets 552 5.3.4.
	MaxSize int64
	// ExtraExtensions are appended verbatim to the EHLO/LHLO reply, one
	// line each (e.g. "REQUIRETLS", "AUTH=LOGIN PLAIN"). Lines holding CR
	// or LF are dropped. Their keywords are accepted as MAIL and RCPT
	// parameters. If one of them is an "AUTH" or "AUTH=" line, the server
	// advertises no AUTH line of its own (AUTH still works when Users is
	// set), so a test can offer exactly the AUTH lines it wants.
	ExtraExtensions []string

	// TLS, when non-nil, makes the server offer STARTTLS with this
	// server-side configuration (see TLSConfigs).
	TLS *tls.Config
	// ImplicitTLS (with TLS set) starts every connection with the TLS
	// handshake, before the greeting, as an SMTPS server (port 465) does;
	// STARTTLS is then not offered.
	ImplicitTLS bool
	// RequireTLS refuses MAIL and AUTH with 530 5.7.0 before STARTTLS.
	RequireTLS bool

	// Users, when non-nil, makes the server offer AUTH; it maps a user
	// name to its password (to its token for XOAUTH2 and OAUTHBEARER).
	Users map[string]string
	// AuthMechanisms lists the mechanisms advertised and accepted; nil
	// means every mechanism the server implements. "-PLUS" mechanisms are
	// only advertised on a TLS 1.3 connection (tls-exporter binding).
	AuthMechanisms []string
	// AuthOnlyAfterTLS hides AUTH before STARTTLS and refuses it there
	// with 530 5.7.0. By default AUTH is offered on cleartext connections
	// too, so that clients' own refusal to authenticate can be tested.
	AuthOnlyAfterTLS bool

	// Hook, when non-nil, is called for every event of every connection
	// (possibly concurrently) and may override the server's behaviour;
	// see Action. It must not block for long (Close waits for it) and must
	// not call Close. RcptFunc, DataFunc and LMTPFunc follow the same rules;
	// all of them may call Messages, Received and Conns.
	Hook func(ev HookEvent) Action
	// RcptFunc decides each RCPT (whose syntax and parameters were
	// accepted); nil, or a Reply with Code 0, accepts with 250 2.1.5. Only
	// recipients answered with 2xx join the transaction.
	RcptFunc func(addr string) Reply
	// DataFunc gives the final reply after the data in SMTP mode (it is
	// not called in LMTP mode); nil, or Code 0, means 250 2.0.0. Only
	// messages answered with 2xx are recorded. A message over MaxSize or
	// MaxMessageBytes gets 552 5.3.4 without a call.
	DataFunc func(msg *Message) Reply
	// LMTPFunc gives each accepted recipient's reply after the data in
	// LMTP mode, in RCPT order (duplicates included); nil, or Code 0, means
	// 250 2.1.5. The message is recorded, with all its accepted
	// recipients, when at least one of these replies is 2xx.
	LMTPFunc func(rcpt string, msg *Message) Reply

	// MaxLineLength caps a command line, CRLF included; a longer line gets
	// 500 5.5.2 and is discarded. 0 means DefaultMaxLineLength.
	MaxLineLength int
	// MaxMessageBytes caps the stored body; a longer body is read to its
	// end, discarded and refused with 552 5.3.4. 0 means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// MaxRecipients caps the recipients of one transaction; more get
	// 452 4.5.3. 0 means DefaultMaxRecipients.
	MaxRecipients int
	// MaxRecorded caps what Received (and each ConnRecord) keeps, per
	// server and per connection; later bytes are not recorded. 0 means
	// DefaultMaxRecorded.
	MaxRecorded int64
	// MaxMessages, when positive, caps what Messages keeps: each message
	// accepted beyond it drops the oldest one, so a long-running server's
	// memory stays bounded. 0 keeps every message (see also Server.Reset).
	MaxMessages int
	// Discard keeps no message data (Message.Data is nil; Size is set)
	// and records no received or sent bytes: for benchmarks.
	Discard bool
}

func (c *Config) hostname() string {
	if c.Hostname == "" {
		return DefaultHostname
	}
	return c.Hostname
}

func (c *Config) maxLine() int {
	if c.MaxLineLength <= 0 {
		return DefaultMaxLineLength
	}
	return c.MaxLineLength
}

func (c *Config) maxMessage() int64 {
	if c.MaxMessageBytes <= 0 {
		return DefaultMaxMessageBytes
	}
	return c.MaxMessageBytes
}

func (c *Config) maxRcpts() int {
	if c.MaxRecipients <= 0 {
		return DefaultMaxRecipients
	}
	return c.MaxRecipients
}

func (c *Config) maxRecorded() int64 {
	if c.MaxRecorded <= 0 {
		return DefaultMaxRecorded
	}
	return c.MaxRecorded
}

// Reply is one SMTP reply the server writes.
type Reply struct {
	Code int // 200..599
	// Enhanced is the RFC 3463 code written after Code on every line, of
	// the type session.ReplyError holds, so a test can compare the two (a
	// client takes it as such only when its class is Code's first digit);
	// the zero value writes none.
	Enhanced protocol.EnhancedCode
	Text     string // "\n" separates the lines of a multiline reply
}

// String returns the wire form of r: one line per line of Text, each
// starting with the code (and the enhanced code, if any), all but the last
// with "-" after the code, each ending in CRLF. CR in Text is dropped.
func (r Reply) String() string { return formatReply(r.Code, r.Enhanced.String(), r.Text) }

// formatReply is Reply.String with the enhanced code already rendered
// ("" for none), which the server's own replies give as a literal.
func formatReply(code int, enhanced, text string) string {
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(text, "\r", ""), "\n")
	c := strconv.Itoa(code)
	for i, l := range lines {
		b.WriteString(c)
		if i < len(lines)-1 {
			b.WriteByte('-')
		} else {
			b.WriteByte(' ')
		}
		if enhanced != "" {
			b.WriteString(enhanced)
			if l != "" {
				b.WriteByte(' ')
			}
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

// positive reports a 2xx reply.
func (r Reply) positive() bool { return r.Code >= 200 && r.Code < 300 }

// HookKind says at which point of a conversation Config.Hook is called.
type HookKind uint8

// The points at which Config.Hook is called.
const (
	// HookGreeting: the connection is open, before the greeting.
	HookGreeting HookKind = iota
	// HookCommand: a command line was read (for BDAT: and its chunk), before
	// it is processed.
	HookCommand
	// HookAuthResponse: a client line inside an AUTH exchange was read.
	HookAuthResponse
	// HookDataEnd: a whole message was read (the final dot of DATA, or the
	// chunk of BDAT LAST), before the final reply(ies); Message is set.
	HookDataEnd
)

var hookKindNames = [...]string{"greeting", "command", "auth-response", "data-end"}

// String returns a lower-case name such as "command".
func (k HookKind) String() string {
	if int(k) < len(hookKindNames) {
		return hookKindNames[k]
	}
	return "HookKind(" + strconv.Itoa(int(k)) + ")"
}

// ConnState is a snapshot of one connection's state, given to hooks.
type ConnState struct {
	ID            int    // 1, 2, ... in the order connections started
	TLS           bool   // STARTTLS completed
	Helo          string // argument of the last accepted EHLO/HELO/LHLO; "" before
	AuthUser      string // authenticated user; "" before
	InTransaction bool   // MAIL accepted, transaction not yet ended
}

// HookEvent is what Config.Hook sees.
type HookEvent struct {
	Kind HookKind
	// Line is the command or AUTH response line without its line ending;
	// "" for HookGreeting; "." for HookDataEnd after DATA, the BDAT line
	// after BDAT LAST.
	Line string
	// Verb is the upper-cased first word of a command line ("MAIL");
	// "" for other kinds.
	Verb string
	Conn ConnState
	// Message is the received transaction at HookDataEnd, nil otherwise.
	// The hook may read it but must not keep it.
	Message *Message
}

// Action is the hook's answer. The zero Action means "behave normally".
//
// Order of effects: Delay; then, when Raw or RawReader is set, they are
// written instead of the normal reply and the command is not executed
// (for HookDataEnd: the message is not recorded; for HookAuthResponse: the
// exchange ends) unless Execute is set, in which case the command is
// executed normally and only its reply text is replaced; then After is
// written; everything is flushed; then, if Disconnect is set, the
// connection is closed (without executing the command, unless Execute is
// set).
type Action struct {
	// Delay waits before anything else; Close cuts it short.
	Delay time.Duration
	// Raw is written verbatim instead of the normal reply. It may be
	// malformed, hold several replies, or be anything at all.
	Raw string
	// RawReader is copied to the connection after Raw, like Raw; it may be
	// endless (the copy stops when the client disconnects or on Close).
	RawReader io.Reader
	// Execute processes the command normally although Raw or RawReader
	// replaces its reply(ies). For DATA the body is then read after Raw.
	Execute bool
	// After is written after the reply (normal or Raw) and flushed before
	// the server does anything else; on STARTTLS this is before the TLS
	// handshake (the CVE-2011-0411 injection).
	After string
	// Disconnect closes the connection once the above is written.
	Disconnect bool
}

func (a Action) replaces() bool { return a.Raw != "" || a.RawReader != nil }

// Message is one transaction the server accepted.
type Message struct {
	ConnID   int    // which connection (ConnState.ID)
	Helo     string // EHLO/HELO/LHLO argument
	TLS      bool   // received after STARTTLS
	AuthUser string // "" unless AUTH succeeded

	From       string     // reverse-path without <>; "" for the null path
	MailParams []string   // MAIL parameters as sent, e.g. "SIZE=123", "SMTPUTF8"
	To         []string   // accepted forward-paths without <>, in RCPT order
	RcptParams [][]string // parameters of each accepted RCPT, parallel to To

	// Data is the message as received, un-stuffed: exactly the bytes
	// between DATA's 354 and the final CRLF.CRLF (the CRLF ending the last
	// line included), or the concatenated BDAT chunks. nil with
	// Config.Discard.
	Data []byte
	// Size is the length of the un-stuffed message, even with Discard.
	Size int64
	// Chunked is true when the message came by BDAT.
	Chunked bool
	// BareLineEndings is true when the DATA body held a CR not followed by
	// LF or an LF not preceded by CR (never set for BDAT).
	BareLineEndings bool
}

// clone returns a deep copy of m.
func (m *Message) clone() Message {
	c := *m
	c.MailParams = append([]string(nil), m.MailParams...)
	c.To = append([]string(nil), m.To...)
	if m.RcptParams != nil {
		c.RcptParams = make([][]string, len(m.RcptParams))
		for i, p := range m.RcptParams {
			c.RcptParams[i] = append([]string(nil), p...)
		}
	}
	if m.Data != nil {
		c.Data = append([]byte(nil), m.Data...)
	}
	return c
}

// ConnRecord is the transcript of one connection.
type ConnRecord struct {
	ID       int
	Received []byte // bytes read from the client (decrypted after STARTTLS)
	Sent     []byte // bytes written to the client (before encryption)
	Done     bool   // the conversation ended
	Err      error  // what ServeConn returned, once Done
}
