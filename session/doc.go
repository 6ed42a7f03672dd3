// Package session is postwire's blocking SMTP, ESMTP and LMTP client:
// everything Python's smtplib offers, with a context.Context on every call
// that talks to the server.
//
// It drives the sans-I/O core (package protocol) over a net.Conn from
// package transport, with auth for SASL and codec for the message bytes:
//
//	c, err := session.Dial(ctx, "mail.example.com:587", nil)
//	if err != nil { ... }
//	defer c.Close()
//	if _, err := c.StartTLS(ctx, nil); err != nil { ... }
//	if _, err := c.Login(ctx, "user", "password"); err != nil { ... }
//	res, err := c.SendMail(ctx, "me@example.com", []string{"you@example.net"}, body, nil)
//	...
//	c.Quit(ctx)
//
// # Connecting
//
// Dial ("host[:port]", port 25), DialTLS (implicit TLS, port 465), DialLMTP
// (an absolute Unix socket path, or "host[:port]" with port 24) and
// NewClient (over any net.Conn) read the greeting before they return.
// Certificates are verified by default, unlike smtplib. StartTLS upgrades
// a connection on request; Options.TLSPolicy makes the client do it by
// itself, opportunistically or as a requirement.
//
// # Sending
//
// SendMail streams a body from an io.Reader; SendMessage takes the
// envelope from the message's headers as smtplib's send_message does;
// SendBatch sends many messages over one connection. They use PIPELINING
// (the envelope in one write), CHUNKING (BDAT in fixed-size chunks), SIZE,
// 8BITMIME, SMTPUTF8, DSN and REQUIRETLS when the server offers them and
// the message or SendOptions call for them. Results are never optimistic:
// when the connection fails after the end of the data but before the reply,
// the error is an *UnknownDeliveryError, not success.
//
// # Sending concurrently
//
// A Client is one conversation and serves one goroutine at a time. A Pool
// is the concurrent sender: safe for any number of goroutines, it keeps up
// to PoolOptions.MaxConns Clients made by a dial function of the caller's
// (so TLS, AUTH, LMTP and custom transports work as with one Client),
// hands the messages waiting for a connection to it together (pipelined by
// SendBatch), replaces connections that fail, reach MaxMessagesPerConn or
// stay idle, and backs off when dialling fails:
//
//	pool, err := session.NewPool(session.PoolOptions{
//		Dial: func(ctx context.Context) (*session.Client, error) {
//			c, err := session.Dial(ctx, "smtp.example.com:587", &session.Options{TLSPolicy: session.TLSRequired})
//			if err != nil {
//				return nil, err
//			}
//			if err := c.Login(ctx, "user", "password"); err != nil {
//				c.Close()
//				return nil, err
//			}
//			return c, nil
//		},
//		MaxConns: 8,
//	})
//	...
//	res, err := pool.Send(ctx, session.Envelope{From: from, To: to, Body: body}) // from any goroutine
//	...
//	pool.Close(ctx) // at shutdown: drains, then QUITs
//
// Its results are the Clients' own. It sends a message again only when
// nothing of it can have been accepted and its body was not read (a 421 to
// MAIL, or a connection that had failed before the message's MAIL), never
// after an unknown delivery; see Pool. Pool.Stats gives counters to export.
//
// # Errors
//
// Each smtplib exception has a Go counterpart usable with errors.Is and
// errors.As; the specific errors wrap a *ReplyError carrying the code, the
// enhanced status code and the text:
//
//	smtplib                      session
//	SMTPException                (any error below; no catch-all sentinel)
//	SMTPResponseException        *ReplyError
//	SMTPSenderRefused            *SenderRefusedError
//	SMTPRecipientsRefused        *RecipientsRefusedError (RCPT order, Recipient(addr))
//	SMTPDataError                *DataError
//	SMTPConnectError             *ConnectError
//	SMTPHeloError                *HeloError
//	SMTPAuthenticationError      *AuthError
//	SMTPNotSupportedError        ErrNotSupported (inside *NotSupportedError)
//	SMTPServerDisconnected       ErrServerDisconnected (also a 421 *ReplyError)
//	(none)                       *UnknownDeliveryError / ErrDeliveryUnknown
//	(socket.timeout)             ErrTimeout; the context's own errors
//
// A server that breaks the protocol (malformed or endless replies, bytes
// injected after STARTTLS's 220) gives a *protocol.PeerError; a caller's
// invalid argument (CR or LF in an address) a *protocol.UsageError, before
// anything is sent.
//
// # Contexts, time-outs and goroutines
//
// Cancelling the context or passing its deadline ends the call in progress
// with the context's error and closes the connection: the conversation's
// state is unknown afterwards. The per-command time-outs of RFC 5321
// section 4.5.3.2 apply as well (Options.Timeouts). No goroutine is
// started: cancellation works through context.AfterFunc and connection
// deadlines. A Client is not safe for concurrent use, except Close; a Pool
// is (it runs one goroutine per connection, all ended by Pool.Close).
//
// # Debugging
//
// Options.Logger receives one slog record per command line sent and per
// reply line received (attributes "direction" and "line"), with AUTH
// payloads redacted in both directions.
package session
