package smtptest

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/postwire/postwire/protocol"
)

// data handles the DATA command; on 354 the loop reads the body next.
func (c *conn) data(arg string) {
	switch {
	case strings.TrimSpace(arg) != "":
		c.reply(501, "5.5.4", "DATA takes no parameters")
	case c.tx == nil:
		c.reply(503, "5.5.1", "need MAIL before DATA")
	case len(c.tx.To) == 0:
		c.reply(554, "5.5.1", "no valid recipients")
	case c.chunked:
		c.reply(503, "5.5.1", "BDAT transaction in progress")
	default:
		c.writeReply(Reply{Code: 354, Text: "end data with <CR><LF>.<CR><LF>"})
		c.inData = true
	}
}

// readBody reads a dot-stuffed body up to CRLF "." CRLF, un-stuffing it
// into c.body, then gives the final reply(ies).
func (c *conn) readBody() error {
	lineStart, crlfBefore, prevCR, bare := true, true, false, false
	for {
		frag, err := c.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("smtptest: reading DATA body: %w", err)
		}
		n := len(frag)
		endsLF, endsCR := frag[n-1] == '\n', frag[n-1] == '\r'
		endsCRLF := endsLF && (n >= 2 && frag[n-2] == '\r' || n == 1 && prevCR)
		if lineStart {
			if crlfBefore && string(frag) == ".\r\n" {
				break
			}
			if frag[0] == '.' {
				frag = frag[1:]
			}
		}
		if !bare {
			bare = hasBareLineEnding(frag, prevCR)
		}
		c.body.append(frag)
		lineStart, crlfBefore, prevCR = endsLF, endsCRLF, endsCR
	}
	if prevCR {
		bare = true
	}
	msg := c.tx
	msg.Data, msg.Size, msg.BareLineEndings = c.body.data, c.body.size, bare
	err := c.dispatch(HookDataEnd, ".", "", msg, func() error { c.finishData(msg); return nil })
	c.resetTx() // also when the hook kept finishData from running
	return err
}

// hasBareLineEnding reports a CR not followed by LF or an LF not preceded
// by CR in p; prevCR says the byte before p was a CR.
func hasBareLineEnding(p []byte, prevCR bool) bool {
	if prevCR && (len(p) == 0 || p[0] != '\n') {
		return true
	}
	for i, b := range p {
		switch b {
		case '\n':
			if i == 0 && !prevCR || i > 0 && p[i-1] != '\r' {
				return true
			}
		case '\r':
			if i+1 < len(p) && p[i+1] != '\n' {
				return true
			}
		}
	}
	return false
}

// finishData gives the final reply for a complete message (SMTP: one;
// LMTP: one per accepted recipient) and records it when accepted.
func (c *conn) finishData(msg *Message) {
	tooBig := c.body.over || c.cfg.MaxSize > 0 && msg.Size > c.cfg.MaxSize
	c.resetTx()
	if tooBig {
		big := c.own(Reply{Code: 552, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 3, Detail: 4}, Text: "message too big"})
		if c.cfg.LMTP {
			for range msg.To {
				c.writeReply(big)
			}
			return
		}
		c.writeReply(big)
		return
	}
	if !c.cfg.LMTP {
		r := c.own(Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 0, Detail: 0}, Text: "OK: message queued"})
		if c.cfg.DataFunc != nil {
			if got := c.cfg.DataFunc(msg); got.Code != 0 {
				r = got
			}
		}
		if r.positive() {
			c.s.addMessage(*msg)
		}
		c.writeReply(r)
		return
	}
	replies := make([]Reply, len(msg.To))
	accepted := false
	for i, rcpt := range msg.To {
		replies[i] = c.own(Reply{Code: 250, Enhanced: protocol.EnhancedCode{Class: 2, Subject: 1, Detail: 5}, Text: "<" + rcpt + "> delivered"})
		if c.cfg.LMTPFunc != nil {
			if got := c.cfg.LMTPFunc(rcpt, msg); got.Code != 0 {
				replies[i] = got
			}
		}
		accepted = accepted || replies[i].positive()
	}
	if accepted {
		c.s.addMessage(*msg)
	}
	for _, r := range replies {
		c.writeReply(r)
	}
}

// bdatCommand handles "BDAT n [LAST]": the chunk is read first, then the
// hook is asked, then the chunk is added to the transaction.
func (c *conn) bdatCommand(line, arg string) error {
	fields := strings.Fields(arg)
	var size int64 = -1
	last := false
	if len(fields) == 1 || len(fields) == 2 && strings.EqualFold(fields[1], "LAST") {
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil && isDigits(fields[0]) {
			size, last = n, len(fields) == 2
		}
	}
	if size < 0 {
		return c.dispatch(HookCommand, line, "BDAT", nil, func() error {
			c.reply(501, "5.5.4", "syntax: BDAT size [LAST]")
			return nil
		})
	}
	chunk := newCapBuffer(c.cfg)
	for rem := size; rem > 0; {
		p, err := c.br.Peek(int(min(rem, int64(c.br.Size()))))
		chunk.append(p)
		c.br.Discard(len(p))
		rem -= int64(len(p))
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("smtptest: reading BDAT chunk: %w", err)
		}
	}
	return c.dispatch(HookCommand, line, "BDAT", nil, func() error { return c.bdat(line, &chunk, last) })
}

// bdat adds a chunk to the transaction; after LAST it gives the final
// reply(ies).
func (c *conn) bdat(line string, chunk *capBuffer, last bool) error {
	switch {
	case c.rejecting:
		c.reply(503, "5.5.1", "no service, only QUIT")
		return nil
	case c.cfg.DisableChunking:
		c.reply(502, "5.5.1", "BDAT not supported")
		return nil
	case c.tx == nil:
		c.reply(503, "5.5.1", "need MAIL before BDAT")
		return nil
	case len(c.tx.To) == 0:
		c.reply(554, "5.5.1", "no valid recipients")
		return nil
	case c.bdatFail:
		if last {
			c.resetTx()
		}
		c.reply(503, "5.5.1", "an earlier chunk was refused")
		return nil
	}
	c.chunked = true
	c.body.appendBuffer(chunk)
	if c.body.over || c.cfg.MaxSize > 0 && c.body.size > c.cfg.MaxSize {
		c.bdatFail = true
		if last {
			c.resetTx()
		}
		c.reply(552, "5.3.4", "message too big")
		return nil
	}
	if !last {
		c.reply(250, "2.0.0", strconv.FormatInt(chunk.size, 10)+" octets received")
		return nil
	}
	msg := c.tx
	msg.Data, msg.Size, msg.Chunked = c.body.data, c.body.size, true
	err := c.dispatch(HookDataEnd, line, "", msg, func() error { c.finishData(msg); return nil })
	c.resetTx()
	return err
}
