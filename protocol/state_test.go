package protocol

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/state-table.md")

// renderTables renders the transition tables of state.go as Markdown.
// This is the project's own rendering (not cmp output), so the document
// cannot drift from the code.
func renderTables() string {
	var b strings.Builder
	b.WriteString("# protocol: state transition tables\n\n")
	b.WriteString("Generated from `protocol/state.go` by `TestStateTableGolden`; do not edit.\n")
	b.WriteString("Rewrite with `go test ./protocol -run TestStateTableGolden -update`.\n\n")

	b.WriteString("## Send transitions\n\n")
	b.WriteString("Queuing a command moves the state at once (optimistically, as pipelining needs);\n")
	b.WriteString("a command not listed for a state is refused with `ErrInvalidState`. LMTP\n")
	b.WriteString("conversations use LHLO only; SMTP ones EHLO or HELO. \"Ends group\": after it,\n")
	b.WriteString("nothing more is queued until its reply arrives.\n\n")
	b.WriteString("| From | Command | To | Ends group |\n| --- | --- | --- | --- |\n")
	for s := State(0); s < numStates; s++ {
		for o := op(1); o < numOps; o++ {
			to, ok := stepSend(s, o)
			if !ok {
				continue
			}
			end := ""
			if endsGroup[o] {
				end = "yes"
			}
			fmt.Fprintf(&b, "| %v | %v | %v | %s |\n", s, o, to, end)
		}
	}
	empty := []string{}
	for s := State(0); s < numStates; s++ {
		any := false
		for o := op(1); o < numOps; o++ {
			_, ok := stepSend(s, o)
			any = any || ok
		}
		if !any {
			empty = append(empty, s.String())
		}
	}
	fmt.Fprintf(&b, "\nNo command is allowed in: %s.\n\n", strings.Join(empty, ", "))

	b.WriteString("## Reply transitions\n\n")
	b.WriteString("When the reply to the oldest pending command arrives, the state it left\n")
	b.WriteString("moves by its class: *confirm* keeps the send transition, *undo* returns to the\n")
	b.WriteString("state before the command; a state name is the new state. A 421 reply, to\n")
	b.WriteString("anything or unasked (no written command pending), moves to Closed; any other\nreply with no written command pending is `ErrUnsolicited`.\n\n")
	b.WriteString("| Command | 2xx | 3xx | 4xx | 5xx |\n| --- | --- | --- | --- | --- |\n")
	name := func(s State) string {
		switch s {
		case confirm:
			return "*confirm*"
		case undo:
			return "*undo*"
		}
		return s.String()
	}
	for o := op(1); o < numOps; o++ {
		r := replyTable[o]
		fmt.Fprintf(&b, "| %v | %s | %s | %s | %s |\n", o, name(r[2]), name(r[3]), name(r[4]), name(r[5]))
	}

	b.WriteString("\n## The ledger\n\n")
	b.WriteString("Every queued command has a Handle and an entry until it is fully answered. A\n")
	b.WriteString("reply is matched on arrival to the oldest entry whose bytes were all written\n")
	b.WriteString("(Advance). When a command is fully answered, its row below updates the\n")
	b.WriteString("recipients accepted in the transaction (*add*: a 2xx to a RCPT that met the\n")
	b.WriteString("transaction; *clear*: nobody). In LMTP a command marked per recipient is owed one\n")
	b.WriteString("reply per recipient accepted when its first reply arrives (one when none was, or\n")
	b.WriteString("when the transaction had failed), each naming its RCPT; its last is Done.\n\n")
	b.WriteString("| Command | Accepted recipients | LMTP replies |\n| --- | --- | --- |\n")
	for _, r := range ledgerRules {
		eff := map[acceptEffect]string{acceptKeep: "keep", acceptAdd: "*add*", acceptClear: "*clear*"}[r.Accepted]
		replies := "1"
		if r.PerRecipient {
			replies = "one per accepted recipient"
		}
		fmt.Fprintf(&b, "| %v | %s | %s |\n", r.Op, eff, replies)
	}
	b.WriteString("\nOther commands keep the accepted recipients and get one reply.\n")

	b.WriteString("\n## End of input\n\n")
	b.WriteString("EOF is clean (EventClosed) when QUIT is the reply owed, or when no reply is\n")
	b.WriteString("owed and the state is one of: ")
	var clean []string
	for s := State(0); s < numStates; s++ {
		if cleanEOF[s] {
			clean = append(clean, s.String())
		}
	}
	b.WriteString(strings.Join(clean, ", ") + ". Anywhere else it is `ErrUnexpectedClose`.\n\n")

	b.WriteString("## Diagram (send transitions between different states)\n\n```mermaid\nstateDiagram-v2\n")
	for s := State(0); s < numStates; s++ {
		targets := map[State][]string{}
		var order []State
		for o := op(1); o < numOps; o++ {
			if to, ok := stepSend(s, o); ok && to != s {
				if targets[to] == nil {
					order = append(order, to)
				}
				targets[to] = append(targets[to], o.String())
			}
		}
		for _, to := range order {
			fmt.Fprintf(&b, "    %v --> %v: %s\n", s, to, strings.Join(targets[to], ", "))
		}
	}
	b.WriteString("```\n")
	return b.String()
}

func TestStateTableGolden(t *testing.T) {
	path := filepath.Join("testdata", "state-table.md")
	got := renderTables()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s is stale; run go test -run TestStateTableGolden -update (-file +code):\n%s", path, diff)
	}
}

// The tables are consistent: every row names real states and operations,
// no send row is listed twice, and nothing leaves Closed or Failed.
func TestStateTableConsistent(t *testing.T) {
	seen := map[[2]int]bool{}
	for _, r := range sendRules {
		k := [2]int{int(r.From), int(r.Op)}
		if seen[k] {
			t.Errorf("send rule %v %v listed twice", r.From, r.Op)
		}
		seen[k] = true
		if r.From >= numStates || r.To >= numStates || r.Op >= numOps || r.Op == 0 {
			t.Errorf("bad send rule %+v", r)
		}
	}
	for _, r := range replyRules {
		if r.Class < 2 || r.Class > 5 || r.Op >= numOps || r.To > undo {
			t.Errorf("bad reply rule %+v", r)
		}
	}
	for o := op(0); o < numOps; o++ {
		for _, s := range []State{StateClosed, StateFailed, StateGreeting, StateTLS, StateDataWait, StateStartTLS, StateQuit} {
			if _, ok := stepSend(s, o); ok {
				t.Errorf("%v allowed in %v", o, s)
			}
		}
	}
}
