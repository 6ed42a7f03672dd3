// Package smtptest is an in-process SMTP and LMTP server for tests, in the
// spirit of net/http/httptest.
//
// It speaks over any net.Conn (an in-memory pipe, loopback TCP, a Unix
// socket), records every message and every byte it receives, and can be
// scripted to misbehave: canned or malformed replies, delays, disconnects,
// bytes injected after "220 ready to start TLS". It does not import
// package testing, so examples and demo programs can use it too.
//
// # API summary
//
//	type Config struct {
//		Hostname        string   // "" -> "smtptest.local"
//		LMTP            bool     // LHLO only; one reply per accepted recipient after the data
//		Greeting        string   // raw greeting override, e.g. "554 no service\r\n"
//		DisableEHLO, DisablePipelining, DisableChunking, Disable8BITMIME,
//		DisableSMTPUTF8, DisableDSN, DisableEnhancedCodes bool
//		MaxSize         int64    // SIZE advertised and enforced (552 5.3.4); 0: no SIZE line
//		ExtraExtensions []string // extra EHLO lines, verbatim ("REQUIRETLS", "AUTH=LOGIN PLAIN");
//		                         // their keywords are accepted as MAIL/RCPT parameters;
//		                         // an "AUTH"/"AUTH=" line replaces the server's own AUTH line
//		TLS             *tls.Config // non-nil: STARTTLS offered (server side; see TLSConfigs)
//		ImplicitTLS     bool     // with TLS: handshake before the greeting (SMTPS, port 465)
//		RequireTLS      bool     // MAIL and AUTH refused with 530 5.7.0 before STARTTLS
//		Users           map[string]string // non-nil: AUTH offered; user -> password (token for OAuth)
//		AuthMechanisms  []string // nil: all of internal/saslserver (PLUS only under TLS 1.3)
//		AuthOnlyAfterTLS bool    // AUTH neither advertised nor accepted (530) before TLS
//		Hook            func(HookEvent) Action                 // scripting, see Action
//		RcptFunc        func(addr string) Reply                // per RCPT (default 250 2.1.5)
//		DataFunc        func(msg *Message) Reply               // final reply (default 250 2.0.0)
//		LMTPFunc        func(rcpt string, msg *Message) Reply  // LMTP per recipient (default 250 2.1.5)
//		MaxLineLength   int      // command line cap (default 4096): longer -> 500 5.5.2
//		MaxMessageBytes int64    // stored body cap (default 64 MiB): larger -> 552 5.3.4
//		MaxRecipients   int      // per transaction (default 1000): more -> 452 4.5.3
//		MaxRecorded     int64    // cap on the bytes Received/Conns keep (default 64 MiB)
//		MaxMessages     int      // Messages keeps the newest n (the oldest dropped); 0: all
//		Discard         bool     // keep neither message data nor transcripts (benchmarks)
//	}
//	type Reply struct{ Code int; Enhanced protocol.EnhancedCode; Text string } // Text may hold "\n";
//	func (r Reply) String() string                              // Code 0 from a func: the default
//	type HookKind uint8 // HookGreeting, HookCommand, HookAuthResponse, HookDataEnd; String()
//	type HookEvent struct{ Kind HookKind; Line, Verb string; Conn ConnState; Message *Message }
//	type Action struct {
//		Delay      time.Duration // wait first (cut short by Close)
//		Raw        string        // written instead of the normal reply; command not executed
//		RawReader  io.Reader     // like Raw, streamed (may be endless)
//		Execute    bool          // execute the command anyway; Raw replaces its reply
//		After      string        // written after the reply (STARTTLS: before the handshake)
//		Disconnect bool          // close the connection afterwards
//	}
//	type ConnState struct{ ID int; TLS bool; Helo, AuthUser string; InTransaction bool }
//	type Message struct {
//		ConnID int; Helo string; TLS bool; AuthUser string
//		From string; MailParams []string; To []string; RcptParams [][]string
//		Data []byte; Size int64; Chunked, BareLineEndings bool
//	}
//	type ConnRecord struct{ ID int; Received, Sent []byte; Done bool; Err error }
//
//	func NewServer(cfg Config) *Server
//	func (s *Server) ServeConn(conn net.Conn) error              // one conversation; blocks
//	func (s *Server) Listen(network, addr string) (net.Addr, error) // "tcp", "unix"; serves in background
//	func (s *Server) Addr() string                               // first TCP listener's host:port; "" if none
//	func (s *Server) Pipe() net.Conn                             // client end of a transport.Pipe
//	func (s *Server) Close() error                               // closes listeners and conns, waits
//	func (s *Server) Messages() []Message                        // accepted transactions, in order
//	func (s *Server) Received() []byte                           // every byte received, all conns
//	func (s *Server) Conns() []ConnRecord                        // per-connection transcripts
//	func (s *Server) Reset()                                     // forget messages, bytes, ended transcripts
//	func (s *Server) WaitConns(ctx context.Context, n int) error // until n conversations ended
//
//	func NewCertificate(hosts ...string) (tls.Certificate, *x509.CertPool, error)
//	func TLSConfigs(hosts ...string) (server, client *tls.Config, err error)
//	var ErrServerClosed error
//	const DefaultHostname, DefaultMaxLineLength, DefaultMaxMessageBytes,
//		DefaultMaxRecipients, DefaultMaxRecorded
//
// # Behaviour
//
// The greeting is "220 <Hostname> ESMTP smtptest" (Config.Greeting replaces
// it). EHLO advertises, in this order: PIPELINING, SIZE n, 8BITMIME,
// SMTPUTF8, CHUNKING, DSN, ENHANCEDSTATUSCODES, STARTTLS (while not yet
// encrypted), AUTH (when Users is set), then Config.ExtraExtensions. HELO
// works unless LMTP is set; in LMTP mode only LHLO is accepted (EHLO and
// HELO get 500 5.5.1) and in SMTP mode LHLO gets 500.
//
// MAIL, RCPT, DATA, BDAT, RSET, NOOP, VRFY (252), EXPN (502), HELP (214),
// QUIT (221), STARTTLS and AUTH are implemented with RFC 5321 state checks:
// a command out of sequence gets 503 5.5.1, a syntax error 501 (5.5.2,
// 5.5.4, or 5.1.7 / 5.1.3 for a bad address), an unknown command 500 5.5.2,
// an unknown ESMTP parameter 555 5.5.4, ESMTP parameters after HELO 555
// 5.5.4. DATA or BDAT with no accepted recipient gets 554 5.5.1. MAIL
// accepts SIZE (checked against MaxSize), BODY=7BIT|8BITMIME, SMTPUTF8, RET,
// ENVID and AUTH=; RCPT accepts NOTIFY and ORCPT. A non-ASCII address
// without SMTPUTF8 on MAIL gets 553 5.6.7. Parameters are recorded as sent.
//
// DATA reads the dot-stuffed body up to the first CRLF "." CRLF; a "." line
// after a bare LF does not end the body (the SMTP smuggling defence), and a
// leading "." is removed from every line. Message.Data is the un-stuffed
// body, byte for byte, and Message.BareLineEndings reports a bare CR or LF
// in it. BDAT n [LAST] reads exactly n bytes.
//
// Replies are written through a buffer that is flushed only when the server
// has no more input buffered, so a pipelined group of commands gets its
// replies in one write. Commands are always processed in order, with or
// without PIPELINING advertised.
//
// With ImplicitTLS the TLS handshake comes first, before the greeting.
// STARTTLS replies 220, discards any input the client sent after the
// command (it must wait), runs the TLS handshake with Config.TLS and
// forgets the EHLO: the client must greet again. AUTH runs the mechanism
// with base64 challenges ("334 ..."); "*" cancels (501 5.0.0); success is
// 235 2.7.0, bad credentials 535 5.7.8, a second AUTH 503 5.5.1. An initial
// response is accepted ("=" means empty).
//
// In LMTP mode the end of the data (DATA's final dot or BDAT LAST) gets one
// reply per accepted recipient, in RCPT order, from Config.LMTPFunc.
//
// # Recording
//
// Received returns what the SMTP layer read: the cleartext bytes before
// STARTTLS and the decrypted bytes after it, never TLS records. A message
// is recorded (Messages) before its final reply is written, so a client
// that has seen the 250 finds it there; messages refused by DataFunc (or,
// in LMTP, by every LMTPFunc call) are not recorded. Received bytes are
// recorded before the command they hold is processed.
//
// # Scripting
//
// Config.Hook is called, possibly from several connections at once, for
// the greeting, for every command line (for BDAT after its chunk has been
// read), for every AUTH response line, and once the whole message has been
// received (HookDataEnd, before the final reply). The zero Action means
// "behave normally". Some recipes:
//
//	Action{Raw: "451 4.3.0 try later\r\n"}            // canned refusal
//	Action{Raw: "25O garbage\r\n"}                    // malformed reply
//	Action{RawReader: endless}                        // endless multiline reply
//	Action{Delay: time.Second}                        // slow server
//	Action{Raw: "421 4.3.2 bye\r\n", Disconnect: true} // 421 mid-session
//	Action{Disconnect: true}                          // drop (at HookDataEnd: no final reply)
//	Action{After: "250 injected\r\n"}                 // on STARTTLS: injection before the handshake
//
// # Bounds
//
// Command lines are capped (MaxLineLength), stored message data is capped
// (MaxMessageBytes; the rest is read and discarded, then 552), recipients
// per transaction are capped, and Received stops recording at MaxRecorded,
// so a misbehaving client cannot exhaust the server's memory. For a
// long-running server, MaxMessages caps the stored messages and Reset
// forgets everything recorded so far. Close closes
// every listener and connection and waits for every goroutine it started.
package smtptest
