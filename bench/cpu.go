package bench

import (
	"fmt"
	"io"
	"slices"
	"syscall"
	"time"
)

// A CPUMeter is one client in the CPU case. Each call of Round sends some
// messages and returns the client's CPU time (user + system) spent on them
// and how many there were.
type CPUMeter struct {
	Name  string
	Round func() (cpu time.Duration, msgs int, err error)
}

// CPUResult is a client's CPU time per message in a case: the median over
// its rounds.
type CPUResult struct {
	Case, Client string
	USPerMsg     float64 // microseconds of user + system CPU per message
	// Spread is the costliest round's CPU per message over the cheapest's.
	Spread float64
}

// InterleaveCPU runs rounds rounds of every meter, in turn, the order
// rotating by one from round to round as in Interleave, and returns each
// meter's median, labelled with the case. Each meter's first Round is a
// warm-up, not counted.
func InterleaveCPU(caseName string, ms []CPUMeter, rounds int) ([]CPUResult, error) {
	for _, m := range ms {
		if _, _, err := m.Round(); err != nil {
			return nil, fmt.Errorf("%s: warm-up: %w", m.Name, err)
		}
	}
	per := make([][]float64, len(ms))
	for i := range rounds {
		for k := range ms {
			j := (i + k) % len(ms)
			cpu, msgs, err := ms[j].Round()
			if err != nil {
				return nil, fmt.Errorf("%s: round %d: %w", ms[j].Name, i+1, err)
			}
			if msgs <= 0 {
				return nil, fmt.Errorf("%s: round %d sent no messages", ms[j].Name, i+1)
			}
			per[j] = append(per[j], float64(cpu)/float64(time.Microsecond)/float64(msgs))
		}
	}
	rs := make([]CPUResult, len(ms))
	for j, m := range ms {
		rs[j] = CPUResult{Case: caseName, Client: m.Name, USPerMsg: Median(per[j])}
		if len(per[j]) > 0 && slices.Min(per[j]) > 0 {
			rs[j].Spread = slices.Max(per[j]) / slices.Min(per[j])
		}
	}
	return rs, nil
}

// PrintCPU writes one "bench:" line per result, then, if a result is
// baseline's, one "ratio:" line per postwire client over it (lower is
// better: a comment line says so), and a comment line with the spreads.
func PrintCPU(w io.Writer, rs []CPUResult, baseline string) {
	for _, r := range rs {
		fmt.Fprintf(w, "bench: %s %s cpu_us_per_msg=%.2f\n", r.Case, r.Client, r.USPerMsg)
	}
	i := slices.IndexFunc(rs, func(r CPUResult) bool { return r.Client == baseline })
	if i >= 0 && rs[i].USPerMsg > 0 {
		fmt.Fprintf(w, "# %s: CPU per message over %s's: lower is better\n", rs[i].Case, baseline)
		for _, p := range rs {
			if isPostwire(p.Client) {
				fmt.Fprintf(w, "ratio: %s %s/%s=%.2f\n", p.Case, p.Client, baseline, p.USPerMsg/rs[i].USPerMsg)
			}
		}
	}
	if len(rs) > 0 {
		fmt.Fprintf(w, "# %s: cpu_us_per_msg spread (costliest/cheapest round):", rs[0].Case)
		for _, r := range rs {
			fmt.Fprintf(w, " %s %.2fx", r.Client, r.Spread)
		}
		fmt.Fprintln(w)
	}
}

// MailerCPU returns a meter whose rounds send msgs messages with m (whole
// Sends of unit messages, at least one) and measure this process's CPU
// time across them. That is the client's only while nothing else works in
// this process: every server must run in another.
func MailerCPU(name string, m Mailer, unit, msgs int) CPUMeter {
	sends := max(1, (msgs+unit-1)/unit)
	return CPUMeter{Name: name, Round: func() (time.Duration, int, error) {
		before, err := SelfCPU()
		if err != nil {
			return 0, 0, err
		}
		for range sends {
			if err := m.Send(unit); err != nil {
				return 0, 0, err
			}
		}
		after, err := SelfCPU()
		if err != nil {
			return 0, 0, err
		}
		return after - before, sends * unit, nil
	}}
}

// SelfCPU returns the user + system CPU time this process (all its
// threads) has used so far.
func SelfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
