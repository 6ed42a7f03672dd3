package smtptest

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/postwire/postwire/internal/saslserver"
)

// saslServer is the server side of one SASL exchange.
type saslServer = saslserver.Server

// mechanisms returns the AUTH mechanisms offered now; nil when AUTH is not.
func (c *conn) mechanisms() []string {
	if c.cfg.Users == nil || c.cfg.AuthOnlyAfterTLS && !c.tls {
		return nil
	}
	list := c.cfg.AuthMechanisms
	if len(list) == 0 {
		list = saslserver.Mechanisms()
	}
	out := make([]string, 0, len(list))
	for _, m := range list {
		if strings.HasSuffix(strings.ToUpper(m), "-PLUS") && c.exporter == nil {
			continue
		}
		out = append(out, m)
	}
	return out
}

func (c *conn) lookup(user string) (string, bool) {
	p, ok := c.cfg.Users[user]
	return p, ok
}

// auth handles "AUTH mechanism [initial-response]" (RFC 4954).
func (c *conn) auth(arg string) error {
	fields := strings.Fields(arg)
	switch {
	case c.cfg.Users == nil:
		c.reply(502, "5.5.1", "AUTH not supported")
		return nil
	case !c.esmtp:
		c.reply(503, "5.5.1", "send EHLO first")
		return nil
	case c.authUser != "":
		c.reply(503, "5.5.1", "already authenticated")
		return nil
	case c.tx != nil:
		c.reply(503, "5.5.1", "AUTH not allowed during a mail transaction")
		return nil
	case (c.cfg.RequireTLS || c.cfg.AuthOnlyAfterTLS) && !c.tls:
		c.reply(530, "5.7.0", "must issue a STARTTLS command first")
		return nil
	case len(fields) < 1 || len(fields) > 2:
		c.reply(501, "5.5.4", "syntax: AUTH mechanism [initial-response]")
		return nil
	}
	mech := strings.ToUpper(fields[0])
	if !slices.ContainsFunc(c.mechanisms(), func(m string) bool { return strings.EqualFold(m, mech) }) {
		c.reply(504, "5.5.4", "unrecognized authentication type")
		return nil
	}
	srv, err := saslserver.New(mech, c.lookup, c.exporter)
	if err != nil {
		c.reply(504, "5.5.4", "unrecognized authentication type")
		return nil
	}
	var ir []byte
	if len(fields) == 2 {
		if fields[1] == "=" {
			ir = []byte{}
		} else if ir, err = base64.StdEncoding.DecodeString(fields[1]); err != nil {
			c.reply(501, "5.5.2", "invalid base64 in initial response")
			return nil
		}
	}
	c.sasl = srv
	c.authStep(ir)
	return nil
}

// authResponse handles a client line inside an AUTH exchange.
func (c *conn) authResponse(line string) error {
	if line == "*" {
		c.endAuth()
		c.reply(501, "5.0.0", "authentication cancelled")
		return nil
	}
	resp, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		c.endAuth()
		c.reply(501, "5.5.2", "invalid base64 in response")
		return nil
	}
	c.authStep(resp)
	return nil
}

// authStep feeds one response to the mechanism and replies.
func (c *conn) authStep(resp []byte) {
	challenge, done, err := c.sasl.Next(resp)
	switch {
	case errors.Is(err, saslserver.ErrMalformed):
		c.endAuth()
		c.reply(501, "5.5.2", "malformed authentication response")
	case err != nil:
		c.endAuth()
		c.reply(535, "5.7.8", "authentication credentials invalid")
	case done:
		c.authUser = c.sasl.User()
		c.endAuth()
		c.reply(235, "2.7.0", "authentication successful")
	default:
		c.writeReply(Reply{Code: 334, Text: base64.StdEncoding.EncodeToString(challenge)})
	}
}

func (c *conn) endAuth() { c.sasl = nil }
