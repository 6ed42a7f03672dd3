package fuzz

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/postwire/postwire/auth"
	"github.com/postwire/postwire/internal/saslserver"
)

// scramClientNonce is the RFC 5802 section 5 client nonce; its 18 decoded
// bytes are what the fuzzed mechanism reads as randomness.
const scramClientNonce = "fyko+d2lbbFgONRv9qkxdawL"

var scramNonceBytes, _ = base64.StdEncoding.DecodeString(scramClientNonce)

var scramExporter = make([]byte, 32)

// scramKnown maps (mechanism, server-first) to the client-final and the
// valid server-final computed independently (Python hashlib) for user "user",
// password "pencil"; the seed corpus holds these exchanges.
var scramKnown = map[string][2]string{
	"0 r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096": {
		"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	"1 r=fyko+d2lbbFgONRv9qkxdawL%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096": {
		"c=biws,r=fyko+d2lbbFgONRv9qkxdawL%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=2FUSN0pPcS7P8hBhsxBJOiUDbRoW4KVNGZT0LxVnSek=",
		"v=zJZjsVp2g+W9jd01vgbsshippfH1sM0tLdBvs+e3DF4=",
	},
	"2 r=fyko+d2lbbFgONRv9qkxdawLsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=16": {
		"c=cD10bHMtZXhwb3J0ZXIsLAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,r=fyko+d2lbbFgONRv9qkxdawLsrv,p=m2imZKaL4xGqiH+RjeCJXuzM6aBU3dDCbgEGVE13yHQ=",
		"v=hGGuDCLUO9kiB/pcYsnykI5CQABT0dYbGViAYkIdVLE=",
	},
}

// slowIterations reports whether msg carries an iteration count the client
// accepts but that would make one fuzz execution slow (PBKDF2 rounds).
// Counts above auth.MaxSCRAMIterations are refused before any hashing, so
// they are still fuzzed.
func slowIterations(msg []byte) bool {
	for _, f := range strings.Split(string(msg), ",") {
		if v, ok := strings.CutPrefix(f, "i="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 4096 && n <= auth.MaxSCRAMIterations {
				return true
			}
		}
	}
	return false
}

// FuzzSCRAM feeds arbitrary server-first and server-final messages to the
// SCRAM client (mech%3: SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-256-PLUS). It
// must answer or fail with an error, never panic; an accepted server-final
// gets an empty response and makes Done succeed, anything else makes Done
// fail with ErrServerSignature.
func FuzzSCRAM(f *testing.F) {
	f.Add(uint8(0), []byte("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"), []byte("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="))
	f.Add(uint8(1), []byte("e=other-error"), []byte(""))
	f.Fuzz(func(t *testing.T, mech uint8, first, final []byte) {
		if slowIterations(first) {
			return
		}
		var m auth.Mechanism
		switch mech % 3 {
		case 0:
			m = auth.SCRAMSHA1("user", "pencil")
		case 1:
			m = auth.SCRAMSHA256("user", "pencil")
		default:
			m = auth.SCRAMSHA256Plus("user", "pencil")
		}
		m = auth.WithRand(m, bytes.NewReader(scramNonceBytes))
		info := auth.ServerInfo{TLS: true, TLSExporter: scramExporter, Mechanisms: []string{m.Name(), "SCRAM-SHA-256-PLUS"}}
		ex, ir, err := auth.Begin(m, info)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		if !bytes.HasSuffix(ir, []byte("n=user,r="+scramClientNonce)) {
			t.Fatalf("client-first %q", ir)
		}
		resp, err := ex.Challenge(first)
		if err != nil {
			if resp != nil {
				t.Fatalf("response %q with error %v", resp, err)
			}
			if err := ex.Done(); !errors.Is(err, auth.ErrServerSignature) {
				t.Fatalf("Done after a refused server-first = %v", err)
			}
			return
		}
		if len(first) == 0 { // an empty challenge re-sends client-first
			if !bytes.Equal(resp, ir) {
				t.Fatalf("empty challenge answered %q, want client-first %q", resp, ir)
			}
			return
		}
		known, isKnown := scramKnown[strconv.Itoa(int(mech%3))+" "+string(first)]
		if isKnown && string(resp) != known[0] {
			t.Fatalf("client-final %q, want %q", resp, known[0])
		}
		if !bytes.HasPrefix(resp, []byte("c=")) || !bytes.Contains(resp, []byte(",p=")) {
			t.Fatalf("client-final %q", resp)
		}
		resp, err = ex.Challenge(final)
		doneErr := ex.Done()
		if isKnown && string(final) == known[1] && (err != nil || doneErr != nil) {
			t.Fatalf("valid server-final %q refused: %v, Done %v", final, err, doneErr)
		}
		if isKnown && err == nil && string(final) != known[1] && !strings.HasPrefix(string(final), known[1]+",") {
			t.Fatalf("server-final %q accepted, only %q (plus extensions) is valid", final, known[1])
		}
		if err != nil {
			if resp != nil || !errors.Is(doneErr, auth.ErrServerSignature) {
				t.Fatalf("refused server-final: response %q, Done %v", resp, doneErr)
			}
			return
		}
		if resp == nil || len(resp) != 0 || doneErr != nil {
			t.Fatalf("accepted server-final: response %q, Done %v", resp, doneErr)
		}
	})
}

// TestSCRAMServerFirstModel builds server-first messages from parts that are
// each valid or broken in a known way, and checks the client accepts exactly
// the messages whose parts are all valid: a structured complement to
// FuzzSCRAM's byte-level search.
func TestSCRAMServerFirstModel(t *testing.T) {
	accepted := 0
	defer func() {
		if accepted == 0 {
			t.Error("no generated server-first was accepted: the generator is broken")
		}
	}()
	rapid.Check(t, func(t *rapid.T) {
		type part struct {
			text string
			ok   bool
		}
		suffix := rapid.StringMatching(`[!-+\--~]{1,12}`).Draw(t, "suffix")
		saltBytes := rapid.SliceOfN(rapid.Byte(), 1, 12).Draw(t, "salt")
		iter := rapid.IntRange(1, 64).Draw(t, "iter")
		// pick returns the valid part most of the time, else a broken one.
		pick := func(name string, valid part, broken ...part) part {
			if rapid.IntRange(0, 3).Draw(t, name+" broken") > 0 {
				return valid
			}
			return rapid.SampledFrom(broken).Draw(t, name)
		}
		r := pick("r", part{"r=" + scramClientNonce + suffix, true},
			part{"r=" + scramClientNonce, false},
			part{"r=X" + scramClientNonce[1:] + suffix, false},
			part{"r=" + scramClientNonce + suffix + " ", false})
		s := pick("s", part{"s=" + base64.StdEncoding.EncodeToString(saltBytes), true},
			part{"s=" + base64.RawStdEncoding.EncodeToString(saltBytes) + "!", false},
			part{"s=", false})
		i := pick("i", part{"i=" + strconv.Itoa(iter), true},
			part{"i=0", false},
			part{"i=-" + strconv.Itoa(iter), false},
			part{"i=" + strconv.Itoa(auth.MaxSCRAMIterations+iter), false},
			part{"i=x" + strconv.Itoa(iter), false})
		ext := rapid.SampledFrom([]part{{"", true}, {",x=ext", true}, {",m=ext", false}}).Draw(t, "ext")
		parts := []part{r, s, i}
		order := []int{0, 1, 2}
		if rapid.IntRange(0, 3).Draw(t, "shuffle") == 0 {
			order = rapid.Permutation(order).Draw(t, "order")
		}
		var texts []string
		want := ext.ok
		for k, idx := range order {
			texts = append(texts, parts[idx].text)
			want = want && parts[idx].ok && k == idx // RFC 5802 fixes the order r, s, i
		}
		if rapid.IntRange(0, 5).Draw(t, "drop first") == 0 {
			texts = texts[1:]
			want = false
		}
		msg := strings.Join(texts, ",") + ext.text

		m := auth.WithRand(auth.SCRAMSHA256("user", "pencil"), bytes.NewReader(scramNonceBytes))
		ex, _, err := auth.Begin(m, auth.ServerInfo{})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ex.Challenge([]byte(msg))
		if err == nil {
			accepted++
		}
		if got := err == nil; got != want {
			t.Fatalf("server-first %q: accepted %v (err %v), want %v", msg, got, err, want)
		}
		if err != nil && !errors.Is(err, auth.ErrMalformedChallenge) {
			t.Fatalf("server-first %q: err %v is not ErrMalformedChallenge", msg, err)
		}
		if err == nil && !bytes.HasPrefix(resp, []byte("c=biws,r="+scramClientNonce+suffix+",p=")) {
			t.Fatalf("client-final %q", resp)
		}
	})
}

// FuzzSASLServer feeds arbitrary client responses to the test server in
// internal/saslserver (session/smtptest parses untrusted client input with
// it): every step answers with a challenge, done or one of its sentinel
// errors, never a panic, and a finished exchange stays finished.
func FuzzSASLServer(f *testing.F) {
	f.Add(uint8(3), []byte("\x00tim\x00tanstaaftanstaaf"), []byte{}, []byte{})
	f.Add(uint8(4), []byte("n,,n=user,r=abc"), []byte("c=biws,r=abcAAAAAAAAAAAAAAAAAAAAAAAA,p=AAAA"), []byte{})
	f.Add(uint8(6), []byte("p=tls-exporter,,n=user,r=abc"), []byte("c=cD10bHMtZXhwb3J0ZXIsLA==,r=x,p="), []byte{})
	f.Add(uint8(2), []byte("n,a=user,\x01host=h\x01auth=Bearer t\x01\x01"), []byte("\x01"), []byte{})
	f.Add(uint8(7), []byte("user=u\x01auth=Bearer t\x01\x01"), []byte{}, []byte{})
	f.Add(uint8(0), []byte{}, []byte("tim 00000000000000000000000000000000"), []byte{})
	f.Add(uint8(1), []byte("tim"), []byte("pw"), []byte("more"))
	mechs := saslserver.Mechanisms()
	lookup := func(u string) (string, bool) { return "pencil", u == "user" || u == "tim" }
	f.Fuzz(func(t *testing.T, mech uint8, r1, r2, r3 []byte) {
		name := mechs[int(mech)%len(mechs)]
		srv, err := saslserver.NewWithOptions(name, lookup, saslserver.Options{
			TLSExporter: make([]byte, 32),
			Rand:        bytes.NewReader(make([]byte, 64)),
			Iterations:  1,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(r1) == 0 {
			r1 = nil // no initial response
		}
		finished := false
		for _, r := range [][]byte{r1, r2, r3} {
			_, done, err := srv.Next(r)
			switch {
			case finished:
				if !errors.Is(err, saslserver.ErrFinished) {
					t.Fatalf("%s: Next after the end: %v", name, err)
				}
			case err != nil:
				if !errors.Is(err, saslserver.ErrAuthFailed) && !errors.Is(err, saslserver.ErrMalformed) {
					t.Fatalf("%s: unexpected error %v", name, err)
				}
				if srv.User() != "" {
					t.Fatalf("%s: User() = %q after failure", name, srv.User())
				}
				finished = true
			case done:
				if u := srv.User(); u != "user" && u != "tim" {
					t.Fatalf("%s: done as %q", name, u)
				}
				finished = true
			}
		}
	})
}
