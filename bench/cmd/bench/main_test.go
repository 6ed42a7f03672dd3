package main

import (
	"testing"
	"time"
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
	for in, want := range map[string]string{"32768K": "32 MiB", "48K": "48K", "1024K": "1 MiB", "": ""} {
		if got := cacheSize(in); got != want {
			t.Errorf("cacheSize(%q) = %q, want %q", in, got, want)
		}
	}
}
