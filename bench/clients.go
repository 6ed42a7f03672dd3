package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	netsmtp "net/smtp"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/postwire/postwire/session"
)

// Message is what a Mailer sends, every time the same.
type Message struct {
	From string
	To   []string
	Body []byte
}

// A Mailer sends copies of one message on one connection that it has
// already greeted. It is driven by a single goroutine.
type Mailer interface {
	// Send sends n copies of the message, at most the Client's Unit, and
	// returns the first error.
	Send(n int) error
	// Quit ends the conversation and closes the connection.
	Quit() error
}

// Client is one implementation under comparison.
type Client struct {
	Name string
	// Unit is how many messages one Send call takes: 1 for one call per
	// message, the batch size for SendBatch.
	Unit int
	// SMTPOnly marks a client that cannot speak LMTP.
	SMTPOnly bool
	// Start greets the server over conn (EHLO, or LHLO with lmtp) and
	// returns a Mailer for msg. On error conn is closed.
	Start func(conn net.Conn, lmtp bool, msg Message) (Mailer, error)
}

// Clients returns the implementations compared, in the order they are
// printed: postwire's SendMail, postwire's SendBatch with batch messages
// per call, net/smtp and go-smtp.
func Clients(batch int) []Client {
	return []Client{
		{Name: "postwire", Unit: 1, Start: startPostwire},
		{Name: "postwire-batch", Unit: batch, Start: func(conn net.Conn, lmtp bool, msg Message) (Mailer, error) {
			return startPostwireBatch(conn, lmtp, msg, batch)
		}},
		{Name: "netsmtp", Unit: 1, SMTPOnly: true, Start: startNetSMTP},
		{Name: "gosmtp", Unit: 1, Start: startGoSMTP},
	}
}

// postwireMailer sends each message with one session.Client.SendMail call.
type postwireMailer struct {
	c   *session.Client
	msg Message
	r   bytes.Reader
}

func newPostwire(conn net.Conn, lmtp bool) (*session.Client, error) {
	return session.NewClient(context.Background(), conn, "localhost",
		&session.Options{LocalName: LocalName, LMTP: lmtp})
}

func startPostwire(conn net.Conn, lmtp bool, msg Message) (Mailer, error) {
	c, err := newPostwire(conn, lmtp)
	if err != nil {
		return nil, err
	}
	return &postwireMailer{c: c, msg: msg}, nil
}

func (m *postwireMailer) Send(n int) error {
	for range n {
		m.r.Reset(m.msg.Body)
		if _, err := m.c.SendMail(context.Background(), m.msg.From, m.msg.To, &m.r, nil); err != nil {
			return err
		}
	}
	return nil
}

func (m *postwireMailer) Quit() error { return quitPostwire(m.c) }

func quitPostwire(c *session.Client) error {
	_, err := c.Quit(context.Background())
	c.Close()
	return err
}

// postwireBatchMailer sends n messages with one session.Client.SendBatch
// call; the envelopes and readers are made once and reused.
type postwireBatchMailer struct {
	c       *session.Client
	body    []byte
	envs    []session.Envelope
	readers []bytes.Reader
}

func startPostwireBatch(conn net.Conn, lmtp bool, msg Message, batch int) (Mailer, error) {
	c, err := newPostwire(conn, lmtp)
	if err != nil {
		return nil, err
	}
	m := &postwireBatchMailer{c: c, body: msg.Body,
		envs: make([]session.Envelope, batch), readers: make([]bytes.Reader, batch)}
	for i := range m.envs {
		m.envs[i] = session.Envelope{From: msg.From, To: msg.To, Body: &m.readers[i]}
	}
	return m, nil
}

func (m *postwireBatchMailer) Send(n int) error {
	for i := range n {
		m.readers[i].Reset(m.body)
	}
	for i, r := range m.c.SendBatch(context.Background(), m.envs[:n]) {
		if r.Err != nil {
			return fmt.Errorf("batch message %d: %w", i, r.Err)
		}
	}
	return nil
}

func (m *postwireBatchMailer) Quit() error { return quitPostwire(m.c) }

// netSMTPMailer drives net/smtp's Mail, Rcpt and Data: one command, one
// reply at a time.
type netSMTPMailer struct {
	c   *netsmtp.Client
	msg Message
	r   bytes.Reader
}

func startNetSMTP(conn net.Conn, lmtp bool, msg Message) (Mailer, error) {
	if lmtp {
		conn.Close()
		return nil, fmt.Errorf("net/smtp has no LMTP client")
	}
	c, err := netsmtp.NewClient(conn, "localhost")
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.Hello(LocalName); err != nil {
		c.Close()
		return nil, err
	}
	return &netSMTPMailer{c: c, msg: msg}, nil
}

func (m *netSMTPMailer) Send(n int) error {
	for range n {
		if err := m.c.Mail(m.msg.From); err != nil {
			return err
		}
		for _, rcpt := range m.msg.To {
			if err := m.c.Rcpt(rcpt); err != nil {
				return err
			}
		}
		w, err := m.c.Data()
		if err != nil {
			return err
		}
		m.r.Reset(m.msg.Body)
		if _, err := io.Copy(w, &m.r); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

func (m *netSMTPMailer) Quit() error {
	err := m.c.Quit()
	m.c.Close()
	return err
}

// goSMTPMailer drives go-smtp's Mail, Rcpt and Data (no pipelining
// either); over LMTP its Data's Close reads one reply per recipient.
type goSMTPMailer struct {
	c   *gosmtp.Client
	msg Message
	r   bytes.Reader
}

func startGoSMTP(conn net.Conn, lmtp bool, msg Message) (Mailer, error) {
	c := gosmtp.NewClient(conn)
	if lmtp {
		c = gosmtp.NewClientLMTP(conn)
	}
	// Hello reads the greeting and sends EHLO or LHLO now, not during the
	// first measured message.
	if err := c.Hello(LocalName); err != nil {
		c.Close()
		return nil, err
	}
	return &goSMTPMailer{c: c, msg: msg}, nil
}

func (m *goSMTPMailer) Send(n int) error {
	for range n {
		if err := m.c.Mail(m.msg.From, nil); err != nil {
			return err
		}
		for _, rcpt := range m.msg.To {
			if err := m.c.Rcpt(rcpt, nil); err != nil {
				return err
			}
		}
		w, err := m.c.Data()
		if err != nil {
			return err
		}
		m.r.Reset(m.msg.Body)
		if _, err := io.Copy(w, &m.r); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

func (m *goSMTPMailer) Quit() error {
	err := m.c.Quit()
	m.c.Close()
	return err
}
