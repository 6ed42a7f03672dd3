// Command ratios reads `go test -bench` output on standard input and prints,
// for each group of benchmarks that do the same work with different clients,
// every client's time and throughput as a ratio against the group's baseline,
// with the round trips per message and the allocations next to them.
//
// Benchmark names follow Benchmark<Name>/<client>[/<variant>...]: the client
// is the second element, and the group is the name without it, so
// BenchmarkSend/netsmtp/10rcpt-2 is client "netsmtp" in group "Send/10rcpt".
// The baseline is "memmove" when the group has it, else "postwire", else the
// first client seen. With -count above 1, the median of the runs is used.
//
//	go test -run='^$' -bench=. -benchmem ./... | go run ./cmd/ratios
//
// The exit status is 1 when the input holds no benchmark result or reports a
// failure (a FAIL or panic line), so a broken run cannot pass for a good one
// at the end of a pipeline.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

func main() {
	groups, failed, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(1)
	}
	if len(groups) == 0 {
		fmt.Fprintln(os.Stderr, "ratios: no benchmark results on standard input")
		os.Exit(1)
	}
	if err := render(os.Stdout, groups); err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(1)
	}
	if failed {
		fmt.Fprintln(os.Stderr, "ratios: the benchmark run reported a failure")
		os.Exit(1)
	}
}

// Units read from a benchmark line.
const (
	unitNs     = "ns/op"
	unitMBs    = "MB/s"
	unitTrips  = "roundtrips/msg"
	unitBytes  = "B/op"
	unitAllocs = "allocs/op"
)

// entry is one client's results in a group: each unit's median over runs.
type entry struct {
	Client  string
	Metrics map[string]float64
}

// group is the benchmarks doing the same work, clients in order of first
// appearance.
type group struct {
	Name    string
	Entries []entry
}

// parse reads go test output and groups the benchmark results. failed
// reports a FAIL or panic line. Lines that are not results are ignored.
func parse(r io.Reader) (groups []group, failed bool, err error) {
	type key struct{ group, client string }
	samples := map[key]map[string][]float64{}
	var order []key
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "panic:") {
			failed = true
			continue
		}
		name, metrics, ok := parseLine(line)
		if !ok {
			continue
		}
		g, c := split(name)
		k := key{g, c}
		if samples[k] == nil {
			samples[k] = map[string][]float64{}
			order = append(order, k)
		}
		for u, v := range metrics {
			samples[k][u] = append(samples[k][u], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, failed, err
	}
	index := map[string]int{}
	for _, k := range order {
		i, ok := index[k.group]
		if !ok {
			i = len(groups)
			index[k.group] = i
			groups = append(groups, group{Name: k.group})
		}
		e := entry{Client: k.client, Metrics: map[string]float64{}}
		for u, vs := range samples[k] {
			e.Metrics[u] = median(vs)
		}
		groups[i].Entries = append(groups[i].Entries, e)
	}
	return groups, failed, nil
}

// parseLine reads "BenchmarkX/y-2  1000  123 ns/op  4.5 MB/s ..." into the
// name without "Benchmark" and the GOMAXPROCS suffix, and unit -> value.
func parseLine(line string) (name string, metrics map[string]float64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f[0]) == len("Benchmark") {
		return "", nil, false
	}
	if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
		return "", nil, false // e.g. a "BenchmarkX" line printed alone before a failure
	}
	metrics = map[string]float64{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", nil, false
		}
		metrics[f[i+1]] = v
	}
	if _, ok := metrics[unitNs]; !ok {
		return "", nil, false
	}
	name = strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	return name, metrics, true
}

// split turns "Send/netsmtp/10rcpt" into group "Send/10rcpt" and client
// "netsmtp"; a name without "/" is its own group with client "".
func split(name string) (grp, client string) {
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return name, ""
	}
	client = parts[1]
	rest := append([]string{parts[0]}, parts[2:]...)
	return strings.Join(rest, "/"), client
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// displayNames are the peers' usual names.
var displayNames = map[string]string{"netsmtp": "net/smtp", "gosmtp": "go-smtp"}

func display(client string) string {
	if d, ok := displayNames[client]; ok {
		return d
	}
	if client == "" {
		return "(single)"
	}
	return client
}

// baseline picks the entry the others are compared with.
func baseline(g group) entry {
	for _, want := range []string{"memmove", "postwire"} {
		for _, e := range g.Entries {
			if e.Client == want {
				return e
			}
		}
	}
	return g.Entries[0]
}

// throughput is e's throughput relative to base: the MB/s ratio when both
// have one, else the inverse of the time ratio.
func throughput(e, base entry) float64 {
	if m, ok := e.Metrics[unitMBs]; ok {
		if b, ok := base.Metrics[unitMBs]; ok && b > 0 {
			return m / b
		}
	}
	if e.Metrics[unitNs] == 0 {
		return 0
	}
	return base.Metrics[unitNs] / e.Metrics[unitNs]
}

// timeRatio is e's ns/op relative to base's (0 when base has none).
func timeRatio(e, base entry) float64 {
	if base.Metrics[unitNs] == 0 {
		return 0
	}
	return e.Metrics[unitNs] / base.Metrics[unitNs]
}

// render prints a summary line per group, the round trips when measured,
// and a table of the figures.
func render(w io.Writer, groups []group) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "Throughput relative to the group's baseline (higher is faster); time = ns/op relative (lower is faster).")
	for _, g := range groups {
		base := baseline(g)
		fmt.Fprintln(bw)
		parts := make([]string, len(g.Entries))
		for i, e := range g.Entries {
			parts[i] = fmt.Sprintf("%s %.2fx", display(e.Client), throughput(e, base))
		}
		fmt.Fprintf(bw, "%s: %s (throughput relative to %s)\n", g.Name, strings.Join(parts, ", "), display(base.Client))
		hasTrips := false
		for _, e := range g.Entries {
			_, ok := e.Metrics[unitTrips]
			hasTrips = hasTrips || ok
		}
		if hasTrips {
			trips := make([]string, 0, len(g.Entries))
			for _, e := range g.Entries {
				if v, ok := e.Metrics[unitTrips]; ok {
					trips = append(trips, fmt.Sprintf("%s %.2f", display(e.Client), v))
				}
			}
			fmt.Fprintf(bw, "  roundtrips/msg: %s\n", strings.Join(trips, ", "))
		}
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  client\tns/op\ttime\tMB/s\tthroughput\tB/op\tallocs/op\t")
		for _, e := range g.Entries {
			fmt.Fprintf(tw, "  %s\t%s\t%.2fx\t%s\t%.2fx\t%s\t%s\t\n",
				display(e.Client), num(e, unitNs, 0), timeRatio(e, base),
				num(e, unitMBs, 2), throughput(e, base), num(e, unitBytes, 0), num(e, unitAllocs, 0))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// num formats a metric, or "-" when it was not reported.
func num(e entry, unit string, prec int) string {
	v, ok := e.Metrics[unit]
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}
