package protocol

import (
	"testing"
	"unicode"

	"pgregory.net/rapid"
)

// TestWireLenIsWireLength: the length the limits are checked against is
// the length of the line that goes out, for every verb and every
// argument shape that passes the syntax checks (an off-by-one here moves
// every command-line limit).
func TestWireLenIsWireLength(t *testing.T) {
	text := func(max int) *rapid.Generator[string] {
		return rapid.StringOfN(rapid.RuneFrom([]rune("aZ09.-@"), unicode.Latin), 0, max, -1)
	}
	// One valid command of each verb, so that none is left untried.
	for _, cmd := range []Command{
		Helo("a.example"), Ehlo("[192.0.2.1]"), Lhlo("a"), StartTLS(), Auth("PLAIN", nil), Auth("PLAIN", []byte{}),
		Auth("X", []byte("ab")), AuthResponse([]byte("xyz")), AuthResponse(nil), AuthCancel(), Mail(""), Mail("a@b", Param{"SIZE", "9"}),
		Rcpt("c@d", Param{"NOTIFY", "NEVER"}, Param{"X", ""}), Data(), {Verb: VerbBdat, Arg: "12"}, {Verb: VerbBdat, Arg: "0", Params: []Param{{Key: "LAST"}}},
		Rset(), Vrfy("x"), Expn("y"), Help(""), Help("z"), Noop(), Quit(), Raw("XFOO 1"), RawBytes([]byte("A\r\nB"), 2),
	} {
		if err := cmd.validateSyntax(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
		if got, want := cmd.wireLen(), len(cmd.appendWire(nil)); got != want {
			t.Errorf("wireLen(%v) = %d, the wire form has %d", cmd, got, want)
		}
	}
	for v := VerbHelo; v < numVerbs; v++ {
		t.Run(v.String(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				cmd := Command{
					Verb:   v,
					Arg:    rapid.OneOf(rapid.Just(""), rapid.StringMatching(`[0-9]{1,5}`), rapid.StringMatching(`[a-z]{1,9}(\.[a-z]{1,9}){0,2}`), text(40)).Draw(t, "arg"),
					Cancel: rapid.IntRange(0, 3).Draw(t, "cancel") == 0,
				}
				if rapid.Bool().Draw(t, "hasData") {
					cmd.Data = []byte(text(40).Draw(t, "data"))
				}
				if rapid.Bool().Draw(t, "replies") {
					cmd.Replies = 1
				}
				for range max(0, rapid.IntRange(-3, 3).Draw(t, "params")) {
					cmd.Params = append(cmd.Params, Param{text(8).Draw(t, "key"), text(8).Draw(t, "value")})
				}
				if rapid.IntRange(0, 3).Draw(t, "last") == 0 {
					cmd.Params = []Param{{Key: "LAST"}}
				}
				if cmd.validateSyntax() != nil {
					return // the length of an invalid command is never asked
				}
				if got, want := cmd.wireLen(), len(cmd.appendWire(nil)); got != want {
					t.Fatalf("wireLen(%#v) = %d, the wire form has %d", cmd, got, want)
				}
			})
		})
	}
}
