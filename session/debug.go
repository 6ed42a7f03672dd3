package session

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/postwire/postwire/protocol"
)

// redacted replaces secrets in the debug log.
const redacted = "[redacted]"

// logSend records a command line about to be written. protocol.Command's
// String method already redacts AUTH payloads.
func (c *Client) logSend(ctx context.Context, cmd protocol.Command) {
	if c.log == nil {
		return
	}
	line := cmd.String()
	if cmd.Verb == protocol.VerbAuthResponse {
		line = redacted // belt and braces: never log a SASL response
	}
	c.logLine(ctx, "send", line)
}

// logBody records message data handed to the connection, by size only.
func (c *Client) logBody(ctx context.Context, n int64, what string) {
	if c.log == nil {
		return
	}
	c.logLine(ctx, "send", fmt.Sprintf("[%s: %d bytes]", what, n))
}

// logReply records each line of a reply, rebuilt in wire form ("250-...",
// "250 ..."). Challenges of an AUTH exchange (334, any 3xx) are redacted: with the
// redacted responses they could allow an offline attack on the password.
func (c *Client) logReply(ctx context.Context, ev protocol.Event) {
	if c.log == nil {
		return
	}
	r := ev.Reply
	secret := r.Intermediate() && (ev.Cmd.Verb == protocol.VerbAuth || ev.Cmd.Verb == protocol.VerbAuthResponse)
	lines := r.Lines
	if len(lines) == 0 {
		lines = []string{""}
	}
	code := strconv.Itoa(r.Code)
	for i, text := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		if i == 0 {
			if e := r.Enhanced.String(); e != "" {
				text = e + " " + text
			}
		}
		if secret {
			text = redacted
		}
		line := code + sep + text
		if text == "" {
			line = code
		}
		c.logLine(ctx, "recv", line)
	}
}

func (c *Client) logLine(ctx context.Context, dir, line string) {
	c.log.LogAttrs(ctx, slog.LevelDebug, "smtp", slog.String("direction", dir), slog.String("line", line))
}

// logEvent records non-reply events.
func (c *Client) logNote(ctx context.Context, note string) {
	if c.log == nil {
		return
	}
	c.logLine(ctx, "note", note)
}
