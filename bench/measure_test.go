package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{9, 1, 1, 1, 9}, 1},
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if diff := cmp.Diff(in, tt.in); diff != "" {
			t.Errorf("Median changed its input (-before +after):\n%s", diff)
		}
	}
}

// logMailer records its Sends in a shared log.
type logMailer struct {
	name string
	log  *[]string
}

func (m *logMailer) Send(n int) error {
	*m.log = append(*m.log, strings.Repeat(m.name, n))
	return nil
}

func (m *logMailer) Quit() error { return nil }

// TestInterleave checks the schedule: one warm-up Send each, then in every
// round each contender once (a zero round length means one Send), the
// order rotating by one from round to round; and the round records.
func TestInterleave(t *testing.T) {
	var log []string
	var cs []*Contender
	for _, name := range []string{"a", "b", "c"} {
		unit := 1
		if name == "b" {
			unit = 2
		}
		cs = append(cs, &Contender{Name: name, Unit: unit,
			Mailer: &logMailer{name, &log}, Conn: NewTurnConn(nil, 0)})
	}
	if err := Interleave(cs, 4, 0); err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "bb", "c", // warm-up
		"a", "bb", "c", "bb", "c", "a", "c", "a", "bb", "a", "bb", "c"}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("Send order (-want +got):\n%s", diff)
	}
	for _, c := range cs {
		if len(c.rounds) != 4 {
			t.Fatalf("%s: %d rounds recorded, want 4", c.Name, len(c.rounds))
		}
		for i, r := range c.rounds {
			if r.Msgs != c.Unit || r.Turns != 0 || r.Elapsed <= 0 {
				t.Errorf("%s round %d = %+v, want %d msgs, 0 turns, some time", c.Name, i, r, c.Unit)
			}
		}
	}
}

// TestResultAndPrint checks the medians of recorded rounds and the lines
// printed for them: one bench line per client, one ratio line per postwire
// client and peer, the spreads.
func TestResultAndPrint(t *testing.T) {
	rounds := func(rs ...Round) []Round { return rs }
	cs := []*Contender{
		{Name: "postwire", rounds: rounds(
			Round{Msgs: 100, Elapsed: time.Second, Turns: 200, Mallocs: 4000},
			Round{Msgs: 300, Elapsed: time.Second, Turns: 600, Mallocs: 12600},
			Round{Msgs: 200, Elapsed: time.Second, Turns: 400, Mallocs: 8200})},
		{Name: "postwire-batch", rounds: rounds(Round{Msgs: 640, Elapsed: 2 * time.Second, Turns: 20, Mallocs: 6400})},
		{Name: "netsmtp", rounds: rounds(Round{Msgs: 50, Elapsed: time.Second, Turns: 200, Mallocs: 700})},
		{Name: "gosmtp", rounds: rounds(Round{Msgs: 40, Elapsed: time.Second, Turns: 160, Mallocs: 880})},
	}
	var rs []Result
	for _, c := range cs {
		rs = append(rs, c.Result("loopback-1rcpt"))
	}
	var b strings.Builder
	PrintCase(&b, rs)
	want := `bench: loopback-1rcpt postwire msgs_per_s=200.0 rtts_per_msg=2.000 allocs_per_msg=41.0
bench: loopback-1rcpt postwire-batch msgs_per_s=320.0 rtts_per_msg=0.031 allocs_per_msg=10.0
bench: loopback-1rcpt netsmtp msgs_per_s=50.0 rtts_per_msg=4.000 allocs_per_msg=14.0
bench: loopback-1rcpt gosmtp msgs_per_s=40.0 rtts_per_msg=4.000 allocs_per_msg=22.0
ratio: loopback-1rcpt postwire/netsmtp=4.00
ratio: loopback-1rcpt postwire/gosmtp=5.00
ratio: loopback-1rcpt postwire-batch/netsmtp=6.40
ratio: loopback-1rcpt postwire-batch/gosmtp=8.00
# loopback-1rcpt: msgs_per_s spread (fastest/slowest round): postwire 3.00x postwire-batch 1.00x netsmtp 1.00x gosmtp 1.00x
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("printed (-want +got):\n%s", diff)
	}
}
