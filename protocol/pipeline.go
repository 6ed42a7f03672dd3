package protocol

// pending is one command waiting for its reply.
type pending struct {
	cmd Command
	op  op
}

// endsGroup marks the commands that must be the last of a pipelined group
// (RFC 2920 §3.1: EHLO, DATA, VRFY, EXPN, TURN, QUIT and NOOP; RFC 4954
// §4 AUTH and its responses; RFC 3207 STARTTLS; HELO, LHLO and HELP for
// the same reason; Raw because the core cannot know what it does). After
// one of them, Send returns ErrMustWait until its reply has arrived.
// MAIL, RCPT, RSET, BDAT (LAST or not: RFC 3030 lets BDAT be pipelined) and the end of data
// (RFC 2920 §3.1: the next MAIL may follow it) do not end a group.
var endsGroup = [numOps]bool{
	op(VerbHelo): true, op(VerbEhlo): true, op(VerbLhlo): true,
	op(VerbStartTLS): true, op(VerbAuth): true, op(VerbAuthResponse): true,
	op(VerbData): true, op(VerbVrfy): true, op(VerbExpn): true,
	op(VerbHelp): true, op(VerbNoop): true, op(VerbQuit): true, op(VerbRaw): true,
}

// push appends a command to the FIFO.
func (c *Client) push(cmd Command) {
	if c.head > 0 && c.head == len(c.pending) {
		c.pending, c.head = c.pending[:0], 0
	}
	c.pending = append(c.pending, pending{cmd: cmd, op: opOf(cmd)})
}

// pop removes the oldest pending command.
func (c *Client) pop() pending {
	p := c.pending[c.head]
	c.pending[c.head] = pending{} // do not keep AUTH data alive
	c.head++
	if c.head == len(c.pending) {
		c.pending, c.head = c.pending[:0], 0
	}
	return p
}

func (c *Client) clearPending() {
	clear(c.pending)
	c.pending, c.head = c.pending[:0], 0
	c.lmtpRcpts, c.lmtpNext = nil, 0
}

// mustWait reports whether a new command has to wait for replies: while
// waiting for the greeting, when the server does not offer PIPELINING and
// any reply is owed, or when the newest pending command ends a group.
func (c *Client) mustWait() bool {
	if c.state == StateGreeting {
		return true
	}
	n := len(c.pending) - c.head
	if n == 0 {
		return false
	}
	return !c.ext.Has("PIPELINING") || endsGroup[c.pending[len(c.pending)-1].op]
}
