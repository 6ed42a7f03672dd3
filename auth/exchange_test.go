package auth_test

import (
	"errors"
	"testing"

	"github.com/postwire/postwire/auth"
)

// echo answers every challenge with itself and counts the calls.
type echo struct {
	calls    int
	finished bool
	finalErr error
}

func (*echo) Name() string                          { return "X-ECHO" }
func (*echo) Start(auth.ServerInfo) ([]byte, error) { return nil, nil }
func (e *echo) Next(c []byte) ([]byte, error)       { e.calls++; return c, nil }

type finishing struct{ echo }

func (f *finishing) Finish() error { f.finished = true; return f.finalErr }

func TestExchangeTooManyChallenges(t *testing.T) {
	m := &echo{}
	ex, ir, err := auth.Begin(m, auth.ServerInfo{})
	if err != nil || ir != nil {
		t.Fatalf("Begin = %q, %v", ir, err)
	}
	for i := 1; i <= auth.MaxChallenges; i++ {
		if _, err := ex.Challenge([]byte("again")); err != nil {
			t.Fatalf("challenge %d: %v", i, err)
		}
	}
	if got := ex.Challenges(); got != auth.MaxChallenges {
		t.Errorf("Challenges() = %d, want %d", got, auth.MaxChallenges)
	}
	if _, err := ex.Challenge([]byte("again")); !errors.Is(err, auth.ErrTooManyChallenges) {
		t.Fatalf("challenge %d: err = %v, want ErrTooManyChallenges", auth.MaxChallenges+1, err)
	}
	if m.calls != auth.MaxChallenges {
		t.Errorf("mechanism saw %d challenges, want %d", m.calls, auth.MaxChallenges)
	}
	if ex.Mechanism() != auth.Mechanism(m) {
		t.Error("Mechanism() is not the one begun")
	}
	if err := ex.Done(); err != nil {
		t.Errorf("Done without Finisher = %v", err)
	}
}

func TestExchangeDoneRunsFinisher(t *testing.T) {
	boom := errors.New("boom")
	for _, want := range []error{nil, boom} {
		m := &finishing{echo{finalErr: want}}
		ex, _, err := auth.Begin(m, auth.ServerInfo{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ex.Done(); err != want || !m.finished {
			t.Errorf("Done = %v (finished %v), want %v", err, m.finished, want)
		}
	}
}

func TestBeginPassesStartError(t *testing.T) {
	ex, ir, err := auth.Begin(auth.Plain("", "u", "p"), auth.ServerInfo{})
	if !errors.Is(err, auth.ErrInsecure) || ex != nil || ir != nil {
		t.Fatalf("Begin = %v, %q, %v; want ErrInsecure", ex, ir, err)
	}
}

func TestWithRandLeavesOthersAlone(t *testing.T) {
	p := auth.Plain("", "u", "p")
	if auth.WithRand(p, nil) != p {
		t.Error("WithRand changed a mechanism without randomness")
	}
}
