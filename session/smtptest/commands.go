package smtptest

import (
	"strconv"
	"strings"

	"github.com/postwire/postwire/protocol"
)

// handle runs one command other than BDAT.
func (c *conn) handle(verb, arg string) error {
	if c.rejecting && verb != "QUIT" {
		c.reply(503, "5.5.1", "no service, only QUIT")
		return nil
	}
	switch verb {
	case "EHLO", "HELO", "LHLO":
		c.hello(verb, arg)
	case "MAIL":
		c.mail(arg)
	case "RCPT":
		c.rcpt(arg)
	case "DATA":
		c.data(arg)
	case "RSET":
		c.resetTx()
		c.reply(250, "2.0.0", "OK")
	case "NOOP":
		c.reply(250, "2.0.0", "OK")
	case "VRFY":
		if strings.TrimSpace(arg) == "" {
			c.reply(501, "5.5.4", "VRFY needs an argument")
			return nil
		}
		c.reply(252, "2.5.0", "cannot VRFY user, but will accept message")
	case "EXPN":
		c.reply(502, "5.5.1", "EXPN not implemented")
	case "HELP":
		c.reply(214, "2.0.0", "smtptest: commands HELO EHLO LHLO MAIL RCPT DATA BDAT RSET NOOP VRFY EXPN HELP QUIT STARTTLS AUTH")
	case "QUIT":
		c.reply(221, "2.0.0", c.cfg.hostname()+" closing connection")
		return errHangUp
	case "STARTTLS":
		c.starttls(arg)
	case "AUTH":
		return c.auth(arg)
	default:
		c.reply(500, "5.5.2", "command unrecognized")
	}
	return nil
}

func (c *conn) hello(verb, arg string) {
	lmtpVerb := verb == "LHLO"
	if c.cfg.LMTP != lmtpVerb {
		if c.cfg.LMTP {
			c.reply(500, "5.5.1", "this is an LMTP server: use LHLO")
		} else {
			c.reply(500, "5.5.1", "LHLO is LMTP: use EHLO")
		}
		return
	}
	if verb == "EHLO" && c.cfg.DisableEHLO {
		c.reply(500, "5.5.2", "command unrecognized")
		return
	}
	arg = strings.TrimSpace(arg)
	if arg == "" || strings.ContainsAny(arg, " \t") {
		c.reply(501, "5.5.4", "syntax: "+verb+" domain")
		return
	}
	c.resetTx()
	c.helo = arg
	c.esmtp = verb != "HELO"
	host := c.cfg.hostname()
	if !c.esmtp {
		c.reply(250, "", host)
		return
	}
	lines := append([]string{host + " greets " + arg}, c.extensions()...)
	c.writeReply(Reply{Code: 250, Text: strings.Join(lines, "\n")})
}

// extensions returns the EHLO/LHLO keyword lines, in the documented order.
func (c *conn) extensions() []string {
	cfg := c.cfg
	var ext []string
	add := func(disabled bool, line string) {
		if !disabled {
			ext = append(ext, line)
		}
	}
	add(cfg.DisablePipelining, "PIPELINING")
	add(cfg.MaxSize <= 0, "SIZE "+strconv.FormatInt(cfg.MaxSize, 10))
	add(cfg.Disable8BITMIME, "8BITMIME")
	add(cfg.DisableSMTPUTF8, "SMTPUTF8")
	add(cfg.DisableChunking, "CHUNKING")
	add(cfg.DisableDSN, "DSN")
	add(cfg.DisableEnhancedCodes, "ENHANCEDSTATUSCODES")
	add(cfg.TLS == nil || c.tls, "STARTTLS")
	if mechs := c.mechanisms(); len(mechs) > 0 && !c.customAuthLine() {
		ext = append(ext, "AUTH "+strings.Join(mechs, " "))
	}
	for _, e := range cfg.ExtraExtensions {
		if e != "" && !strings.ContainsAny(e, "\r\n") {
			ext = append(ext, e)
		}
	}
	return ext
}

// customAuthLine reports an "AUTH ..." or old-style "AUTH=..." line in
// ExtraExtensions: the server then advertises no AUTH line of its own.
func (c *conn) customAuthLine() bool {
	for _, e := range c.cfg.ExtraExtensions {
		if k, _, _ := strings.Cut(e, " "); strings.EqualFold(k, "AUTH") || len(e) >= 5 && strings.EqualFold(e[:5], "AUTH=") {
			return true
		}
	}
	return false
}

// extraKeyword reports whether keyword was advertised through
// ExtraExtensions, so that its MAIL/RCPT parameter is accepted.
func (c *conn) extraKeyword(keyword string) bool {
	for _, e := range c.cfg.ExtraExtensions {
		k, _, _ := strings.Cut(e, " ")
		if strings.EqualFold(k, keyword) {
			return true
		}
	}
	return false
}

func (c *conn) mail(arg string) {
	switch {
	case c.helo == "":
		c.reply(503, "5.5.1", "send HELO/EHLO first")
		return
	case c.cfg.RequireTLS && !c.tls:
		c.reply(530, "5.7.0", "must issue a STARTTLS command first")
		return
	case c.tx != nil:
		c.reply(503, "5.5.1", "nested MAIL command")
		return
	}
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		c.reply(501, "5.5.2", "syntax: MAIL FROM:<address>")
		return
	}
	path, params, ok := parsePath(rest)
	if !ok {
		c.reply(501, "5.1.7", "bad sender address syntax")
		return
	}
	if len(params) > 0 && !c.esmtp {
		c.reply(555, "5.5.4", "parameters need EHLO")
		return
	}
	utf8 := false
	for _, p := range params {
		key, value, hasValue := strings.Cut(p, "=")
		switch key = strings.ToUpper(key); {
		case key == "SIZE":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || !isDigits(value) {
				c.reply(501, "5.5.4", "bad SIZE value")
				return
			}
			if c.cfg.MaxSize > 0 && n > c.cfg.MaxSize {
				c.reply(552, "5.3.4", "message size exceeds fixed maximum message size")
				return
			}
		case key == "BODY":
			switch strings.ToUpper(value) {
			case "7BIT":
			case "8BITMIME":
				if c.cfg.Disable8BITMIME {
					c.reply(555, "5.5.4", "BODY=8BITMIME not supported")
					return
				}
			default:
				c.reply(501, "5.5.4", "bad BODY value")
				return
			}
		case key == "SMTPUTF8" && !c.cfg.DisableSMTPUTF8:
			if hasValue {
				c.reply(501, "5.5.4", "SMTPUTF8 takes no value")
				return
			}
			utf8 = true
		case key == "RET" && !c.cfg.DisableDSN:
			if v := strings.ToUpper(value); v != "FULL" && v != "HDRS" {
				c.reply(501, "5.5.4", "bad RET value")
				return
			}
		case key == "ENVID" && !c.cfg.DisableDSN, key == "AUTH":
			if value == "" {
				c.reply(501, "5.5.4", "bad "+key+" value")
				return
			}
		case c.extraKeyword(key):
		default:
			c.reply(555, "5.5.4", "unsupported parameter "+key)
			return
		}
	}
	if !utf8 && !isASCII(path) {
		c.reply(553, "5.6.7", "non-ASCII address needs SMTPUTF8")
		return
	}
	c.tx = &Message{
		ConnID:     c.id,
		Helo:       c.helo,
		TLS:        c.tls,
		AuthUser:   c.authUser,
		From:       path,
		MailParams: params,
	}
	c.txUTF8 = utf8
	c.reply(250, "2.1.0", "sender OK")
}

func (c *conn) rcpt(arg string) {
	if c.tx == nil {
		c.reply(503, "5.5.1", "need MAIL before RCPT")
		return
	}
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		c.reply(501, "5.5.2", "syntax: RCPT TO:<address>")
		return
	}
	path, params, ok := parsePath(rest)
	if !ok || path == "" {
		c.reply(501, "5.1.3", "bad recipient address syntax")
		return
	}
	for _, p := range params {
		key, value, _ := strings.Cut(p, "=")
		switch key = strings.ToUpper(key); {
		case key == "NOTIFY" && !c.cfg.DisableDSN:
			if !validNotify(value) {
				c.reply(501, "5.5.4", "bad NOTIFY value")
				return
			}
		case key == "ORCPT" && !c.cfg.DisableDSN:
			if typ, addr, ok := strings.Cut(value, ";"); !ok || typ == "" || addr == "" {
				c.reply(501, "5.5.4", "bad ORCPT value")
				return
			}
		case c.extraKeyword(key):
		default:
			c.reply(555, "5.5.4", "unsupported parameter "+key)
			return
		}
	}
	if !c.txUTF8 && !isASCII(path) {
		c.reply(553, "5.6.7", "non-ASCII address needs SMTPUTF8")
		return
	}
	if len(c.tx.To) >= c.cfg.maxRcpts() {
		c.reply(452, "4.5.3", "too many recipients")
		return
	}
	r := c.own(Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 1, Detail: 5}, Text: "recipient OK"})
	if c.cfg.RcptFunc != nil {
		if got := c.cfg.RcptFunc(path); got.Code != 0 {
			r = got
		}
	}
	if r.positive() {
		c.tx.To = append(c.tx.To, path)
		c.tx.RcptParams = append(c.tx.RcptParams, params)
	}
	c.writeReply(r)
}

func (c *conn) starttls(arg string) {
	switch {
	case strings.TrimSpace(arg) != "":
		c.reply(501, "5.5.4", "STARTTLS takes no parameters")
	case c.cfg.TLS == nil:
		c.reply(502, "5.5.1", "STARTTLS not supported")
	case c.tls:
		c.reply(503, "5.5.1", "TLS already active")
	case !c.esmtp:
		c.reply(503, "5.5.1", "send EHLO first")
	default:
		c.reply(220, "2.0.0", "ready to start TLS")
		c.startTLS = true
	}
}
