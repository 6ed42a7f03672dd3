package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/postwire/postwire/bench
cpu: Intel(R) Xeon(R) Processor
BenchmarkBody/postwire-stuffer/1MiB-2         	    1574	    150000 ns/op	7000.00 MB/s	   73808 B/op	       2 allocs/op
BenchmarkBody/textproto-dotwriter/1MiB-2      	      67	   4200000 ns/op	 250.00 MB/s	    4192 B/op	       4 allocs/op
BenchmarkBody/memmove/1MiB-2                  	    5695	     40000 ns/op	28000.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkSend/postwire/1rcpt-2                	    7273	     30000 ns/op	 300.00 MB/s	         2.000 roundtrips/msg	    3703 B/op	      72 allocs/op
BenchmarkSend/netsmtp/1rcpt-2                 	    2973	     80000 ns/op	 120.00 MB/s	         4.000 roundtrips/msg	    3101 B/op	      45 allocs/op
BenchmarkSend/netsmtp/1rcpt-2                 	    2973	     60000 ns/op	 170.00 MB/s	         4.000 roundtrips/msg	    3101 B/op	      45 allocs/op
BenchmarkSend/netsmtp/1rcpt-2                 	    2973	     70000 ns/op	 150.00 MB/s	         4.000 roundtrips/msg	    3101 B/op	      45 allocs/op
BenchmarkSend/gosmtp/1rcpt-2                  	    2565	     90000 ns/op	 100.00 MB/s	         4.000 roundtrips/msg	    5328 B/op	      52 allocs/op
BenchmarkNoSub-2   	100	  2000 ns/op
BenchmarkBroken
PASS
ok  	github.com/postwire/postwire/bench	5.638s
`

func TestParse(t *testing.T) {
	groups, failed, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if failed {
		t.Error("failed = true for a passing run")
	}
	want := []group{
		{Name: "Body/1MiB", Entries: []entry{
			{"postwire-stuffer", map[string]float64{unitNs: 150000, unitMBs: 7000, unitBytes: 73808, unitAllocs: 2}},
			{"textproto-dotwriter", map[string]float64{unitNs: 4200000, unitMBs: 250, unitBytes: 4192, unitAllocs: 4}},
			{"memmove", map[string]float64{unitNs: 40000, unitMBs: 28000, unitBytes: 0, unitAllocs: 0}},
		}},
		{Name: "Send/1rcpt", Entries: []entry{
			{"postwire", map[string]float64{unitNs: 30000, unitMBs: 300, unitTrips: 2, unitBytes: 3703, unitAllocs: 72}},
			// three runs: the median of each unit
			{"netsmtp", map[string]float64{unitNs: 70000, unitMBs: 150, unitTrips: 4, unitBytes: 3101, unitAllocs: 45}},
			{"gosmtp", map[string]float64{unitNs: 90000, unitMBs: 100, unitTrips: 4, unitBytes: 5328, unitAllocs: 52}},
		}},
		{Name: "NoSub", Entries: []entry{{"", map[string]float64{unitNs: 2000}}}},
	}
	if diff := cmp.Diff(want, groups); diff != "" {
		t.Errorf("parse mismatch (-want +got):\n%s", diff)
	}
}

func TestParseFailure(t *testing.T) {
	tests := []struct {
		name, in string
		want     bool
	}{
		{"pass", "BenchmarkA/x-2 10 5 ns/op\nPASS\nok x 1s\n", false},
		{"FAIL line", "BenchmarkA/x-2 10 5 ns/op\nFAIL\tgithub.com/x\t1s\n", true},
		{"test failure", "--- FAIL: BenchmarkA/y\n    x_test.go:1: boom\n", true},
		{"panic", "panic: runtime error\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, failed, err := parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if failed != tt.want {
				t.Errorf("failed = %v, want %v", failed, tt.want)
			}
		})
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line   string
		name   string
		ok     bool
		metric map[string]float64
	}{
		{"BenchmarkSend/postwire-data/1rcpt-8  10  5 ns/op", "Send/postwire-data/1rcpt", true, map[string]float64{unitNs: 5}},
		{"BenchmarkX 10 5 ns/op", "X", true, map[string]float64{unitNs: 5}}, // GOMAXPROCS=1: no suffix
		{"BenchmarkX-y 10 5 ns/op", "X-y", true, map[string]float64{unitNs: 5}},
		{"BenchmarkX-2 10 1.5 MB/s", "", false, nil},          // no ns/op
		{"BenchmarkX-2 ten 5 ns/op", "", false, nil},          // no iteration count
		{"BenchmarkX-2 10 five ns/op", "", false, nil},        // bad value
		{"Benchmark 10 5 ns/op", "", false, nil},              // no name
		{"    bench_test.go:12: 5 ns/op x y", "", false, nil}, // log output
	}
	for _, tt := range tests {
		name, m, ok := parseLine(tt.line)
		if ok != tt.ok || name != tt.name {
			t.Errorf("parseLine(%q) = %q, _, %v; want %q, _, %v", tt.line, name, ok, tt.name, tt.ok)
		}
		if diff := cmp.Diff(tt.metric, m); ok && diff != "" {
			t.Errorf("parseLine(%q) metrics (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestRender(t *testing.T) {
	groups, _, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := render(&b, groups[:2]); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	// The summary lines are the contract; the tables are for people.
	for _, want := range []string{
		"Body/1MiB: postwire-stuffer 0.25x, textproto-dotwriter 0.01x, memmove 1.00x (throughput relative to memmove)\n",
		"Send/1rcpt: postwire 1.00x, net/smtp 0.50x, go-smtp 0.33x (throughput relative to postwire)\n",
		"  roundtrips/msg: postwire 2.00, net/smtp 4.00, go-smtp 4.00\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("render output lacks %q; got:\n%s", want, got)
		}
	}
	if strings.Count(got, "roundtrips/msg:") != 1 {
		t.Errorf("want round trips only for the Send group; got:\n%s", got)
	}
	// net/smtp's time ratio: 70000/30000.
	if !strings.Contains(got, "2.33x") {
		t.Errorf("render output lacks net/smtp's time ratio 2.33x; got:\n%s", got)
	}
}

func TestThroughputWithoutMBs(t *testing.T) {
	base := entry{"postwire", map[string]float64{unitNs: 100}}
	e := entry{"netsmtp", map[string]float64{unitNs: 400}}
	if got := throughput(e, base); got != 0.25 {
		t.Errorf("throughput = %v, want 0.25", got)
	}
	if got := throughput(entry{"x", map[string]float64{}}, base); got != 0 {
		t.Errorf("throughput without ns/op = %v, want 0", got)
	}
}
