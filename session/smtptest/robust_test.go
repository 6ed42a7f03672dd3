package smtptest_test

import (
	"io"
	"strings"
	"testing"

	"github.com/pion/transport/v3/test"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/session/smtptest"
)

// TestArbitraryInput: whatever a client sends, the server neither panics
// nor hangs: once the client closes, the conversation ends.
func TestArbitraryInput(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	s := startServer(t, smtptest.Config{
		Users: map[string]string{"u": "p"}, MaxLineLength: 40, MaxMessageBytes: 50,
		MaxRecipients: 2, MaxSize: 60, LMTP: false,
	})
	token := rapid.OneOf(
		rapid.SampledFrom([]string{
			"EHLO x\r\n", "HELO x\r\n", "LHLO x\r\n", "MAIL FROM:<a@x>\r\n", "MAIL FROM:<> SIZE=70\r\n",
			"RCPT TO:<b@x>\r\n", "RCPT TO:<ü@x>\r\n", "DATA\r\n", "BDAT 3\r\n", "BDAT 2 LAST\r\n",
			"BDAT 99999999999999\r\n", ".\r\n", "..\r\n", "AUTH PLAIN\r\n", "AUTH LOGIN\r\n", "*\r\n",
			"AHUAcA==\r\n", "RSET\r\n", "NOOP\r\n", "\r\n", "\n", "\r", "STARTTLS\r\n", "QUIT\r\n",
			strings.Repeat("x", 100) + "\r\n",
		}),
		rapid.String(),
	)
	conns := 0
	rapid.Check(t, func(rt *rapid.T) {
		input := strings.Join(rapid.SliceOfN(token, 0, 40).Draw(rt, "input"), "")
		c := newClient(t, s.Pipe())
		conns++
		io.WriteString(c.conn, input) // fails if a QUIT in input was already answered
		c.conn.Close()
		waitConns(t, s, conns)
	})
	for _, r := range s.Conns() {
		if !r.Done {
			t.Errorf("conn %d not done", r.ID)
		}
	}
}
