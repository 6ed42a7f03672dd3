package protocol

import "strconv"

// This file is the state machine, and the only place that assigns a
// State (the Client's state and base fields).
//
// Rule 1: every transition is a row in sendRules or replyRules below, or
// one of the few functions at the end of this file (greeting, EOF, TLS
// handshake done, failure), each of which says which row-less rule it
// implements. Nothing else in the package writes c.state or c.base.
//
// Rule 2: transitions on Send are optimistic, as pipelining needs. The
// Client keeps base, the state after every command that has been
// answered, and the FIFO of commands still waiting for a reply. The
// current state is base with the send rows of the pending commands
// applied in order (a command whose row is missing from the state it
// would meet once earlier replies are known is "doomed": the server will
// refuse it, and it leaves the state unchanged).
//
// Rule 3: when a reply arrives for the oldest pending command, base moves
// by replyRules, keyed by the command and the reply's class: "confirm"
// keeps the send transition, "undo" goes back to the state before the
// command, anything else is the new state. A 421 reply to anything moves
// to StateClosed.

// State is where the conversation stands, from the client's side.
type State uint8

// The states. Names follow RFC 5321's description of a session.
const (
	StateGreeting State = iota // zero value: waiting for the server's banner
	StateHello                 // greeted (or TLS just started): EHLO/HELO/LHLO next
	StateReady                 // hello answered: MAIL, STARTTLS, AUTH, ...
	StateMail                  // MAIL sent: RCPT next
	StateRcpt                  // at least one RCPT sent: more RCPT, DATA or BDAT
	StateDataWait              // DATA sent, waiting for 354
	StateBody                  // 354 received: SendBody, then EndBody
	StateBodyDone              // end of data (or BDAT LAST) sent, waiting for the final reply(ies)
	StateChunking              // BDAT chunks sent, LAST not yet
	StateStartTLS              // STARTTLS sent, waiting for 220
	StateTLS                   // 220 received: handshake in progress; call TLSDone
	StateAuth                  // AUTH sent: answer each 334 with AuthResponse
	StateQuit                  // QUIT sent
	StateClosed                // 221/421 received or the peer closed: nothing more
	StateFailed                // the server broke the protocol (see Client.Err)
	numStates
)

var stateNames = [numStates]string{
	StateGreeting: "Greeting",
	StateHello:    "Hello",
	StateReady:    "Ready",
	StateMail:     "Mail",
	StateRcpt:     "Rcpt",
	StateDataWait: "DataWait",
	StateBody:     "Body",
	StateBodyDone: "BodyDone",
	StateChunking: "Chunking",
	StateStartTLS: "StartTLS",
	StateTLS:      "TLS",
	StateAuth:     "Auth",
	StateQuit:     "Quit",
	StateClosed:   "Closed",
	StateFailed:   "Failed",
}

// String returns the state's name ("Ready").
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// op is the key of the tables: a Verb, or one of the pseudo-operations
// below that the tables need to tell apart.
type op uint8

const (
	opBdatLast = op(numVerbs) + iota // BDAT ... LAST
	opGreeting                       // the server's banner (a "reply" to connecting)
	numOps
)

func (o op) String() string {
	switch o {
	case opBdatLast:
		return "BDAT LAST"
	case opGreeting:
		return "(greeting)"
	}
	return Verb(o).String()
}

// opOf returns the table key of a command.
func opOf(c Command) op {
	if c.Last() {
		return opBdatLast
	}
	return op(c.Verb)
}

// sendRule: in From, sending Op moves to To.
type sendRule struct {
	From State
	Op   op
	To   State
}

// Commands that never change the state, valid wherever the server is
// listening for commands outside a transaction's data phase.
var neutral = []op{op(VerbNoop), op(VerbVrfy), op(VerbExpn), op(VerbHelp), op(VerbRaw)}

var hello = []op{op(VerbHelo), op(VerbEhlo), op(VerbLhlo)}

// sendRules lists every command allowed in every state. Rows generated
// for "neutral" commands and for hello are added by sendTable.
var sendRules = []sendRule{
	// Before EHLO: hello, RSET, QUIT (and the neutral ones).
	{StateHello, op(VerbRset), StateHello},
	{StateHello, op(VerbQuit), StateQuit},

	// Session level.
	{StateReady, op(VerbMail), StateMail},
	{StateReady, op(VerbStartTLS), StateStartTLS},
	{StateReady, op(VerbAuth), StateAuth},
	{StateReady, op(VerbRset), StateReady},
	{StateReady, op(VerbQuit), StateQuit},
	{StateAuth, op(VerbAuthResponse), StateAuth}, // answer to a 334, or "*"

	// The envelope.
	{StateMail, op(VerbRcpt), StateRcpt},
	{StateMail, op(VerbRset), StateReady},
	{StateMail, op(VerbQuit), StateQuit},
	{StateRcpt, op(VerbRcpt), StateRcpt},
	{StateRcpt, op(VerbData), StateDataWait},
	{StateRcpt, op(VerbBdat), StateChunking},
	{StateRcpt, opBdatLast, StateBodyDone},
	{StateRcpt, op(VerbRset), StateReady},
	{StateRcpt, op(VerbQuit), StateQuit},

	// Content. In Body only SendBody and EndBody; no neutral commands.
	{StateBody, op(VerbEndData), StateBodyDone},
	{StateChunking, op(VerbBdat), StateChunking},
	{StateChunking, opBdatLast, StateBodyDone},
	{StateChunking, op(VerbRset), StateReady},
	{StateChunking, op(VerbQuit), StateQuit},

	// After the end of data the next transaction may be pipelined
	// (RFC 2920 §3.1): as in Ready, but STARTTLS and AUTH wait for the reply.
	{StateBodyDone, op(VerbMail), StateMail},
	{StateBodyDone, op(VerbRset), StateReady},
	{StateBodyDone, op(VerbQuit), StateQuit},
}

// helloStates are where EHLO, HELO and LHLO are allowed; all go to Ready
// (a later EHLO resets the transaction, RFC 5321 §4.1.4).
var helloStates = []State{StateHello, StateReady, StateMail, StateRcpt, StateBodyDone}

// neutralStates are where the neutral commands are allowed (state unchanged).
var neutralStates = []State{StateHello, StateReady, StateMail, StateRcpt, StateBodyDone}

// Special targets in replyRules.
const (
	confirm = numStates + iota // keep the send transition (the command worked)
	undo                       // back to the state before the command (it had no effect)
)

// replyRule: a reply of Class (2..5) to Op moves base to To.
type replyRule struct {
	Op    op
	Class int
	To    State // a State, confirm or undo
}

// replyRules: rows not listed are {op, 2, confirm} and {op, 3|4|5, undo}:
// a positive reply confirms a command, anything else means it was not done.
var replyRules = []replyRule{
	{opGreeting, 2, StateHello},
	{opGreeting, 3, StateHello}, // not a valid greeting: the session decides (it should QUIT)
	{opGreeting, 4, StateHello}, // (421 closes, see below)
	{opGreeting, 5, StateHello}, // RFC 5321 §3.1 "554 no service": only QUIT will be accepted

	// 354: send the body. Also when the DATA was doomed because no RCPT
	// was accepted (RFC 2920 §3.1): then the session sends an empty one.
	{op(VerbData), 3, StateBody},
	{op(VerbData), 2, undo},          // 250 to DATA is not "go ahead"
	{op(VerbEndData), 2, StateReady}, // the transaction ends whatever the reply
	{op(VerbEndData), 3, StateReady},
	{op(VerbEndData), 4, StateReady},
	{op(VerbEndData), 5, StateReady},
	{op(VerbBdat), 3, StateReady}, // a failed chunk fails the transaction (RFC 3030):
	{op(VerbBdat), 4, StateReady}, // no more BDAT; the session should RSET
	{op(VerbBdat), 5, StateReady},
	{opBdatLast, 2, StateReady},
	{opBdatLast, 3, StateReady},
	{opBdatLast, 4, StateReady},
	{opBdatLast, 5, StateReady},

	{op(VerbStartTLS), 2, StateTLS}, // 220: EventStartTLS, handshake, then TLSDone
	{op(VerbAuth), 2, StateReady},   // 235: authenticated
	{op(VerbAuth), 3, StateAuth},    // 334: a challenge; answer with AuthResponse
	{op(VerbAuthResponse), 2, StateReady},
	{op(VerbAuthResponse), 3, StateAuth},
	{op(VerbAuthResponse), 4, StateReady},
	{op(VerbAuthResponse), 5, StateReady},

	{op(VerbQuit), 2, StateClosed},
	{op(VerbQuit), 3, StateClosed},
	{op(VerbQuit), 4, StateClosed},
	{op(VerbQuit), 5, StateClosed},
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

// The ledger's facts (ledger.go), by command: what its answer does to the
// recipients accepted in the transaction, and whether in LMTP it is owed
// one reply per accepted recipient (RFC 2033 §4.2) instead of one.
type acceptEffect uint8

const (
	acceptKeep  acceptEffect = iota
	acceptAdd                // a 2xx to a RCPT that met the transaction adds its recipient
	acceptClear              // the transaction ends or restarts: nobody is accepted
)

type ledgerRule struct {
	Op           op
	Accepted     acceptEffect
	PerRecipient bool
}

var ledgerRules = []ledgerRule{
	{op(VerbRcpt), acceptAdd, false},
	{op(VerbMail), acceptClear, false},
	{op(VerbRset), acceptClear, false},
	{op(VerbHelo), acceptClear, false},
	{op(VerbEhlo), acceptClear, false},
	{op(VerbLhlo), acceptClear, false},
	{op(VerbEndData), acceptClear, true},
	{opBdatLast, acceptClear, true},
}

var acceptTable, perRecipient = func() (a [numOps]acceptEffect, p [numOps]bool) {
	for _, r := range ledgerRules {
		a[r.Op], p[r.Op] = r.Accepted, r.PerRecipient
	}
	return a, p
}()

// codeClosing is the reply code that closes the conversation whatever it
// answers (RFC 5321 §3.8): "421 service not available, closing".
const codeClosing = 421

// cleanEOF lists the states where the server may close the connection,
// when no reply is owed, without that being an error (EventClosed). EOF
// anywhere else, with a reply owed (except to QUIT), or inside a reply is
// ErrUnexpectedClose.
var cleanEOF = [numStates]bool{
	StateHello: true, StateReady: true, StateMail: true, StateRcpt: true,
	StateQuit: true, StateClosed: true,
}

const invalid = numStates // "no row" in sendTable

// sendTable[from][op] is the state after sending op in from, or invalid.
var sendTable = func() (t [numStates][numOps]State) {
	for s := range t {
		for o := range t[s] {
			t[s][o] = invalid
		}
	}
	for _, s := range neutralStates {
		for _, o := range neutral {
			t[s][o] = s
		}
	}
	for _, s := range helloStates {
		for _, o := range hello {
			t[s][o] = StateReady
		}
	}
	for _, r := range sendRules {
		t[r.From][r.Op] = r.To
	}
	return t
}()

// replyTable[op][class] is a State, confirm or undo; classes 0, 1 unused.
var replyTable = func() (t [numOps][6]State) {
	for o := range t {
		t[o] = [6]State{undo, undo, confirm, undo, undo, undo}
	}
	for _, r := range replyRules {
		t[r.Op][r.Class] = r.To
	}
	return t
}()

// lmtpOnly and smtpOnly: LHLO is for LMTP conversations, EHLO and HELO for
// SMTP ones (RFC 2033 §4.1: an LMTP server rejects HELO and EHLO).
func modeAllows(lmtp bool, o op) bool {
	switch o {
	case op(VerbLhlo):
		return lmtp
	case op(VerbEhlo), op(VerbHelo):
		return !lmtp
	}
	return true
}

// stepSend returns the state after sending o in s; ok is false when no
// row allows it.
func stepSend(s State, o op) (State, bool) {
	if s >= numStates || o >= numOps {
		return s, false
	}
	to := sendTable[s][o]
	if to == invalid {
		return s, false
	}
	return to, true
}

// fold applies the send rows of the pending commands to base; doomed
// commands leave the state as it is.
func (c *Client) fold() State {
	s := c.base
	for _, e := range c.ledger[c.head:] {
		s, _ = stepSend(s, e.op)
	}
	return s
}

// applySend records that o was queued (Send has checked stepSend).
func (c *Client) applySend(o op) {
	c.state, _ = stepSend(c.state, o)
}

// applyReply moves base by the reply to the oldest pending command, which
// the caller has just removed from the FIFO, and recomputes the state.
func (c *Client) applyReply(o op, code int) {
	if code == codeClosing {
		c.closeNow()
		return
	}
	after, _ := stepSend(c.base, o)
	switch to := replyTable[o][code/100]; to {
	case confirm:
		c.base = after
	case undo:
	default:
		c.base = to
	}
	c.state = c.fold()
}

// applyGreeting moves out of StateGreeting by the greeting's class.
func (c *Client) applyGreeting(code int) {
	if code == codeClosing {
		c.closeNow()
		return
	}
	c.base = replyTable[opGreeting][code/100]
	c.state = c.fold()
}

// closeNow: 221 to QUIT, 421 to anything, or a clean EOF. No reply is
// owed any more.
func (c *Client) closeNow() {
	c.base, c.state = StateClosed, StateClosed
	c.forget()
}

// applyTLSDone: the TLS handshake after STARTTLS finished. RFC 3207 §4.2:
// the client MUST discard what it knew from the server and send EHLO again.
func (c *Client) applyTLSDone() {
	c.base, c.state = StateHello, StateHello
}

// applyFailure makes the Client fail for good (a *PeerError).
func (c *Client) applyFailure() {
	c.base, c.state = StateFailed, StateFailed
	c.forget()
}
