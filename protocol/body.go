package protocol

// SendBody queues message content after DATA was answered with 354
// (StateBody). It is dot-stuffed and line-ending-normalised on the way
// (codec.StuffState: bare CR and bare LF become CRLF, a leading '.' is
// doubled), so any bytes are safe, and may be called any number of times;
// a CR at the end of p is held until the next call.
//
// It returns a *UsageError (ErrInvalidState) outside StateBody, ErrClosed
// after the conversation closed, and the sticky *PeerError after a failure.
func (c *Client) SendBody(p []byte) error {
	if err := c.checkBody(VerbEndData); err != nil {
		return err
	}
	c.compactOut()
	c.out = c.stuff.Append(c.out, p)
	return nil
}

// EndBody ends the DATA content: it completes the last line with CRLF if
// needed, appends ".\r\n", and queues the pseudo-command VerbEndData, whose
// reply (SMTP) or replies (LMTP: one per accepted recipient, in RCPT order,
// Event.Rcpt naming each, the last one Done) say whether the message was accepted. With no
// SendBody call before it the message is empty (what RFC 2920 §3.1 asks
// when 354 came although no recipient was accepted).
//
// Errors are those of SendBody.
func (c *Client) EndBody() (Handle, error) {
	if err := c.checkBody(VerbEndData); err != nil {
		return NoHandle, err
	}
	c.compactOut()
	c.out = c.stuff.AppendEnd(c.out)
	return c.record(Command{Verb: VerbEndData}), nil
}

func (c *Client) checkBody(v Verb) error {
	if err := c.checkOpen(v); err != nil {
		return err
	}
	if _, ok := stepSend(c.state, op(VerbEndData)); !ok {
		return &UsageError{State: c.state, Verb: v, Err: ErrInvalidState}
	}
	return nil
}

// SendChunk queues "BDAT <len(p)>[ LAST]\r\n" followed by p as it is (RFC
// 3030: no dot-stuffing, no line-ending changes). It needs CHUNKING
// (ErrNotAdvertised), is allowed after RCPT and between chunks, and is
// pipelined like RCPT when the server offers PIPELINING. Every chunk gets
// a reply (Event.Cmd.Verb == VerbBdat, Arg the size, Params LAST on the
// last); in LMTP the reply to the LAST chunk is replaced by one reply per
// accepted recipient, each naming it in Event.Rcpt.
//
// It returns a *UsageError when the chunk cannot be sent now (nothing is
// queued), or the sticky *PeerError.
func (c *Client) SendChunk(p []byte, last bool) (Handle, error) {
	cmd := c.bdat(len(p), last)
	if err := c.check(cmd); err != nil {
		return NoHandle, err
	}
	c.compactOut()
	c.out = cmd.appendWire(c.out)
	c.out = append(c.out, p...)
	return c.record(cmd), nil
}
