package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWants(t *testing.T) {
	tests := []struct {
		only, name string
		want       bool
	}{
		{"", "dovecot-lmtp", true},
		{"loopback", "loopback", true},
		{"loopback", "delay5ms", false},
		{"delay", "delay5ms", true},                  // a prefix of the case
		{"dovecot-lmtp-1rcpt", "dovecot-lmtp", true}, // a case of the target
		{"smtp-sink,dotstuff", "dotstuff", true},
		{"smtp-sink,dotstuff", "loopback", false},
		{",", "loopback", false},
		{"cpu", "cpu-smtp-sink-1rcpt", true}, // every CPU case
		{"cpu-loopback", "cpu-smtp-sink-1rcpt", false},
		{"smtp-sink", "cpu-smtp-sink-1rcpt", false}, // the throughput cases only
	}
	for _, tt := range tests {
		if got := (config{only: tt.only}).wants(tt.name); got != tt.want {
			t.Errorf("-only=%q: wants(%q) = %v, want %v", tt.only, tt.name, got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Millisecond: "delay5ms", 500 * time.Microsecond: "delay500us", time.Second: "delay1s",
	} {
		if got := delayName(d); got != want {
			t.Errorf("delayName(%v) = %q, want %q", d, got, want)
		}
	}
	if got := cpuCase("smtp-sink"); got != "cpu-smtp-sink-1rcpt" {
		t.Errorf("cpuCase(smtp-sink) = %q, want cpu-smtp-sink-1rcpt", got)
	}
	for in, want := range map[string]string{"32768K": "32 MiB", "48K": "48K", "1024K": "1 MiB", "": ""} {
		if got := cacheSize(in); got != want {
			t.Errorf("cacheSize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSourceArgs checks smtp-source's command line: one session, one
// connection for all messages (-d), and a payload length making the
// bench's 1 KiB messages (878 was checked against smtp-source 3.x by
// TestSourceMessages, build tag interop).
func TestSourceArgs(t *testing.T) {
	got := sourceArgs("127.0.0.1:2525", 2000, 1024, "sender@example.org", "rcpt0@example.net")
	want := []string{"-s", "1", "-d", "-m", "2000", "-l", "878", "-M", "bench.example",
		"-f", "sender@example.org", "-t", "rcpt0@example.net", "127.0.0.1:2525"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sourceArgs (-want +got):\n%s", diff)
	}
	for _, tt := range []struct{ size, want int }{
		{1024, 878}, {2048, 1902}, {100, 1}, // smaller than the header: the least it takes
	} {
		if got := sourcePayload(tt.size, "sender@example.org", "rcpt0@example.net"); got != tt.want {
			t.Errorf("sourcePayload(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}
