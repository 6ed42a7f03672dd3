package protocol_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/postwire/postwire/protocol"
)

// TestRepliesKeptStayIntact: replies share backing storage for their
// Lines (one allocation saved per reply); a Reply the caller keeps must
// never change when later replies are parsed, nor when the caller appends
// to its Lines.
func TestRepliesKeptStayIntact(t *testing.T) {
	c := ehloed(t, protocol.Config{}, "PIPELINING")
	const n = 300 // several slabs' worth
	var kept []protocol.Reply
	var want [][]string
	for i := range n {
		if _, err := c.Send(protocol.Noop()); err != nil {
			t.Fatal(err)
		}
		c.Advance(len(c.Outgoing()))
		lines := 1 + i%40 // some longer than half a slab
		var wire string
		var w []string
		for j := range lines {
			sep := "-"
			if j == lines-1 {
				sep = " "
			}
			text := fmt.Sprintf("reply %d line %d", i, j)
			wire += "250" + sep + text + "\r\n"
			w = append(w, text)
		}
		if err := c.Receive([]byte(wire)); err != nil {
			t.Fatal(err)
		}
		ev, err := c.NextEvent()
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if _, err := c.NextEvent(); !errors.Is(err, protocol.ErrNeedData) {
			t.Fatalf("reply %d: extra event or error %v", i, err)
		}
		kept = append(kept, ev.Reply)
		want = append(want, w)
	}
	// A caller appending to a reply's lines must not write into the next
	// reply's.
	for _, r := range kept {
		_ = append(r.Lines, "appended by the caller")
	}
	for i, r := range kept {
		if diff := cmp.Diff(want[i], r.Lines); diff != "" {
			t.Fatalf("reply %d changed after later replies (-want +got):\n%s", i, diff)
		}
	}
}
