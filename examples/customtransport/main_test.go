package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/transport/v3/test"
)

func runCustom(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

var tripsLine = regexp.MustCompile(`(?m)^PIPELINING (true|false) +(\d+) round trips `)

func TestCustomTransport(t *testing.T) {
	defer test.CheckRoutines(t)()
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			code, out, errOut := runCustom("-rtt", "0s", "-n", strconv.Itoa(n))
			if code != 0 || errOut != "" {
				t.Fatalf("exit status %d, stderr %q; stdout:\n%s", code, errOut, out)
			}

			trips := map[string]int{}
			for _, m := range tripsLine.FindAllStringSubmatch(out, -1) {
				trips[m[1]], _ = strconv.Atoi(m[2])
			}
			if len(trips) != 2 {
				t.Fatalf("round trips not reported for both runs:\n%s", out)
			}
			// RFC 2920: a pipelined batch costs about one round trip per
			// message plus one; without pipelining every command waits.
			if trips["true"] > n+1 {
				t.Errorf("with PIPELINING: %d round trips for %d messages, want at most %d", trips["true"], n, n+1)
			}
			if trips["false"] <= trips["true"] {
				t.Errorf("without PIPELINING: %d round trips, want more than with it (%d)", trips["false"], trips["true"])
			}

			wantInOrder := []string{
				fmt.Sprintf("--- 1. %d messages over an in-memory pipe", n),
				"--- 2. through a caller's dialer\n",
				"dialer: tcp 127.0.0.1:",
				"dialer: connected to 127.0.0.1:",
				"S: 220 mx.example ESMTP",
				"C: EHLO client.example\n",
				"C: MAIL FROM:<sender@example.com>\n",
				"C: RCPT TO:<c@example.net>\n",
				"S: 250 2.0.0 OK: message queued\n",
				"C: QUIT\n",
				fmt.Sprintf("--- the server stored %d messages\n", 2*n+1),
			}
			rest := out
			for _, w := range wantInOrder {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-n", "0"}, {"-rtt", "-1s"}} {
		code, out, errOut := runCustom(args...)
		type result struct {
			Code           int
			Stdout, Stderr string
		}
		want := result{2, "", "customtransport: -n must be at least 1 and -rtt not negative\n"}
		if diff := cmp.Diff(want, result{code, out, errOut}); diff != "" {
			t.Errorf("%v: mismatch (-want +got):\n%s", args, diff)
		}
	}
}
