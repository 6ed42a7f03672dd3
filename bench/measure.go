package bench

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Contender is one client's connection in a case: its Mailer, the conn
// counting its turns, and what its rounds measured.
type Contender struct {
	Name   string
	Unit   int // messages per Send call
	Mailer Mailer
	Conn   *TurnConn

	rounds []Round
}

// Round is what one client did in one round.
type Round struct {
	Msgs    int
	Elapsed time.Duration
	Turns   int64  // round trips
	Mallocs uint64 // heap allocations, this process (the client side only)
}

// Result is a client's figures in a case: each the median over its rounds.
type Result struct {
	Case, Client string
	MsgsPerS     float64
	RTTsPerMsg   float64
	AllocsPerMsg float64
	// Spread is the fastest round's msgs/s over the slowest's: how much the
	// machine's noise moved this client's rounds.
	Spread float64
}

// Interleave runs rounds rounds; in each, every contender in turn sends
// messages for at least d (and at least one Send), the order rotating from
// round to round, so that noise on the machine falls on all of them alike.
// Each contender's first Send is a warm-up, not measured.
func Interleave(cs []*Contender, rounds int, d time.Duration) error {
	for _, c := range cs {
		if err := c.Mailer.Send(c.Unit); err != nil {
			return fmt.Errorf("%s: warm-up: %w", c.Name, err)
		}
	}
	runtime.GC() // start from a heap holding nothing of earlier cases
	for i := range rounds {
		for k := range cs {
			c := cs[(i+k)%len(cs)]
			r, err := c.round(d)
			if err != nil {
				return fmt.Errorf("%s: round %d: %w", c.Name, i+1, err)
			}
			c.rounds = append(c.rounds, r)
		}
	}
	return nil
}

// round sends messages for at least d.
//
// It does not force a collection first: that would also empty the
// sync.Pools (fmt's, bufio's users', the clients' own), and refilling them
// would add a fixed number of allocations to every round, which shows in
// the figures of the slow rounds (a few messages behind the delay). The
// collections that do happen are triggered by whoever allocates, mostly
// the clients that allocate most.
func (c *Contender) round(d time.Duration) (Round, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	turns := c.Conn.Turns()
	start := time.Now()
	msgs := 0
	for {
		if err := c.Mailer.Send(c.Unit); err != nil {
			return Round{}, err
		}
		msgs += c.Unit
		if time.Since(start) >= d {
			break
		}
	}
	elapsed := time.Since(start)
	turns = c.Conn.Turns() - turns
	runtime.ReadMemStats(&after)
	return Round{Msgs: msgs, Elapsed: elapsed, Turns: turns, Mallocs: after.Mallocs - before.Mallocs}, nil
}

// Result returns the medians of c's rounds, labelled with the case.
func (c *Contender) Result(caseName string) Result {
	rate := make([]float64, len(c.rounds))
	trips := make([]float64, len(c.rounds))
	allocs := make([]float64, len(c.rounds))
	for i, r := range c.rounds {
		rate[i] = float64(r.Msgs) / r.Elapsed.Seconds()
		trips[i] = float64(r.Turns) / float64(r.Msgs)
		allocs[i] = float64(r.Mallocs) / float64(r.Msgs)
	}
	res := Result{Case: caseName, Client: c.Name,
		MsgsPerS: Median(rate), RTTsPerMsg: Median(trips), AllocsPerMsg: Median(allocs)}
	if len(rate) > 0 && slices.Min(rate) > 0 {
		res.Spread = slices.Max(rate) / slices.Min(rate)
	}
	return res
}

// Median returns the median of xs (the mean of the middle two for an even
// count; 0 for none). xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// PrintCase writes one "bench:" line per result, then one "ratio:" line for
// each postwire client against each peer (the ratio of msgs/s), and a
// comment line with the spreads.
func PrintCase(w io.Writer, rs []Result) {
	for _, r := range rs {
		fmt.Fprintf(w, "bench: %s %s msgs_per_s=%.1f rtts_per_msg=%.3f allocs_per_msg=%.1f\n",
			r.Case, r.Client, r.MsgsPerS, r.RTTsPerMsg, r.AllocsPerMsg)
	}
	for _, p := range rs {
		if !isPostwire(p.Client) {
			continue
		}
		for _, q := range rs {
			if isPostwire(q.Client) || q.MsgsPerS == 0 {
				continue
			}
			fmt.Fprintf(w, "ratio: %s %s/%s=%.2f\n", p.Case, p.Client, q.Client, p.MsgsPerS/q.MsgsPerS)
		}
	}
	if len(rs) > 0 {
		fmt.Fprintf(w, "# %s: msgs_per_s spread (fastest/slowest round):", rs[0].Case)
		for _, r := range rs {
			fmt.Fprintf(w, " %s %.2fx", r.Client, r.Spread)
		}
		fmt.Fprintln(w)
	}
}

func isPostwire(name string) bool { return strings.HasPrefix(name, "postwire") }
