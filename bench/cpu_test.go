package bench

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeMeter returns a meter whose rounds report the given CPU times per
// round (microseconds, for msgs messages), recording its calls in log.
func fakeMeter(name string, log *[]string, msgs int, us ...int) CPUMeter {
	i := 0
	return CPUMeter{Name: name, Round: func() (time.Duration, int, error) {
		*log = append(*log, name)
		d := time.Duration(us[i%len(us)]) * time.Microsecond
		i++
		return d, msgs, nil
	}}
}

// TestInterleaveCPU checks the schedule (a warm-up round each, then the
// order rotating by one per round), that the warm-up is not counted, and
// the medians and spreads of CPU per message.
func TestInterleaveCPU(t *testing.T) {
	var log []string
	ms := []CPUMeter{
		fakeMeter("postwire", &log, 100, 99999, 1000, 3000, 2000), // warm-up 99999 left out
		fakeMeter("smtp-source", &log, 10, 0, 400, 400, 800),
	}
	rs, err := InterleaveCPU("cpu-x", ms, 3)
	if err != nil {
		t.Fatal(err)
	}
	wantLog := []string{"postwire", "smtp-source", // warm-up
		"postwire", "smtp-source", "smtp-source", "postwire", "postwire", "smtp-source"}
	if diff := cmp.Diff(wantLog, log); diff != "" {
		t.Errorf("Round order (-want +got):\n%s", diff)
	}
	want := []CPUResult{
		{Case: "cpu-x", Client: "postwire", USPerMsg: 20, Spread: 3},
		{Case: "cpu-x", Client: "smtp-source", USPerMsg: 40, Spread: 2},
	}
	if diff := cmp.Diff(want, rs); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

func TestInterleaveCPUErrors(t *testing.T) {
	var log []string
	none := []CPUMeter{fakeMeter("empty", &log, 0, 5)}
	if _, err := InterleaveCPU("cpu-x", none, 1); err == nil || !strings.Contains(err.Error(), "empty: round 1 sent no messages") {
		t.Errorf("a round of no messages: err = %v, want one naming it", err)
	}
	boom := errors.New("boom")
	failing := []CPUMeter{{Name: "bad", Round: func() (time.Duration, int, error) { return 0, 0, boom }}}
	if _, err := InterleaveCPU("cpu-x", failing, 1); !errors.Is(err, boom) || !strings.Contains(err.Error(), "bad: warm-up") {
		t.Errorf("a failing warm-up: err = %v, want it wrapped and named", err)
	}
}

func TestPrintCPU(t *testing.T) {
	rs := []CPUResult{
		{Case: "cpu-x", Client: "postwire", USPerMsg: 12.5, Spread: 1.2},
		{Case: "cpu-x", Client: "postwire-batch", USPerMsg: 5, Spread: 1.5},
		{Case: "cpu-x", Client: "smtp-source", USPerMsg: 25, Spread: 1.1},
	}
	var b strings.Builder
	PrintCPU(&b, rs, "smtp-source")
	want := `bench: cpu-x postwire cpu_us_per_msg=12.50
bench: cpu-x postwire-batch cpu_us_per_msg=5.00
bench: cpu-x smtp-source cpu_us_per_msg=25.00
# cpu-x: CPU per message over smtp-source's: lower is better
ratio: cpu-x postwire/smtp-source=0.50
ratio: cpu-x postwire-batch/smtp-source=0.20
# cpu-x: cpu_us_per_msg spread (costliest/cheapest round): postwire 1.20x postwire-batch 1.50x smtp-source 1.10x
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("printed (-want +got):\n%s", diff)
	}

	// Without the baseline (smtp-source not installed): no ratios.
	b.Reset()
	PrintCPU(&b, rs[:2], "smtp-source")
	want = `bench: cpu-x postwire cpu_us_per_msg=12.50
bench: cpu-x postwire-batch cpu_us_per_msg=5.00
# cpu-x: cpu_us_per_msg spread (costliest/cheapest round): postwire 1.20x postwire-batch 1.50x
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("printed without the baseline (-want +got):\n%s", diff)
	}
}

// TestMailerCPU checks that a round sends whole Sends covering the count
// asked for and reports them, with a CPU time that is not negative.
func TestMailerCPU(t *testing.T) {
	for _, tt := range []struct{ unit, msgs, sends int }{
		{1, 5, 5}, {32, 100, 4}, {32, 64, 2}, {32, 0, 1},
	} {
		var log []string
		m := MailerCPU("x", &logMailer{"m", &log}, tt.unit, tt.msgs)
		cpu, n, err := m.Round()
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != tt.sends || n != tt.sends*tt.unit || cpu < 0 {
			t.Errorf("unit %d, %d msgs: %d Sends, %d msgs, cpu %v; want %d Sends, %d msgs, cpu >= 0",
				tt.unit, tt.msgs, len(log), n, cpu, tt.sends, tt.sends*tt.unit)
		}
	}
}
