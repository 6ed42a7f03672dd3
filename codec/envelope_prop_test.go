package codec_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/codec"
)

// TestParseEnvelopeModel builds header blocks from random fields (address
// fields possibly folded over several lines, in any case, with CRLF or bare
// LF) and checks ParseEnvelope against a model: recipients in field order,
// the sender from Sender or From, Bcc fields gone, every other byte kept.
func TestParseEnvelopeModel(t *testing.T) {
	names := []string{"From", "Sender", "To", "Cc", "Bcc", "Resent-Bcc", "Subject", "X-Bcc", "Bccx"}
	addrGen := rapid.StringMatching(`[a-z]{1,6}@[a-z]{1,6}\.example`)
	rapid.Check(t, func(t *rapid.T) {
		eol := rapid.SampledFrom([]string{"\r\n", "\n"}).Draw(t, "eol")
		nFields := rapid.IntRange(0, 8).Draw(t, "fields")
		var in, wantHeader strings.Builder
		var wantTo []string
		from, sender := "", ""
		for range nFields {
			name := rapid.SampledFrom(names).Draw(t, "name")
			spelled := name
			if rapid.Bool().Draw(t, "recase") {
				spelled = strings.ToUpper(name)
			}
			var field string
			var addrs []string
			switch name {
			case "Subject", "X-Bcc", "Bccx":
				field = spelled + ": " + rapid.StringMatching(`[a-z ]{0,10}`).Draw(t, "text") + eol
			default:
				addrs = rapid.SliceOfN(addrGen, 1, 3).Draw(t, "addrs")
				field = spelled + ":"
				for i, a := range addrs {
					if i > 0 {
						field += ","
						if rapid.Bool().Draw(t, "fold") {
							field += eol + rapid.SampledFrom([]string{" ", "\t", "  "}).Draw(t, "wsp")
						}
					}
					field += " " + a
				}
				field += eol
			}
			in.WriteString(field)
			switch name {
			case "Bcc", "Resent-Bcc":
			default:
				wantHeader.WriteString(field)
			}
			switch name {
			case "To", "Cc", "Bcc":
				wantTo = append(wantTo, addrs...)
			case "From":
				if from == "" {
					from = addrs[0]
				}
			case "Sender":
				if sender == "" {
					sender = addrs[0]
				}
			}
		}
		in.WriteString(eol)
		wantHeader.WriteString(eol)
		if sender != "" {
			from = sender
		}

		got, err := codec.ParseEnvelope([]byte(in.String() + "body" + eol))
		var wantErr error
		switch {
		case from == "":
			wantErr = codec.ErrNoSender
		case len(wantTo) == 0:
			wantErr = codec.ErrNoRecipients
		}
		if diff := cmp.Diff(wantErr, err, cmpopts.EquateErrors()); diff != "" {
			t.Fatalf("header %q: error mismatch (-want +got):\n%s", in.String(), diff)
		}
		if wantErr != nil {
			return
		}
		want := codec.Envelope{From: from, To: wantTo, Header: []byte(wantHeader.String())}
		if diff := cmp.Diff(want, got, cmp.Transformer("string", func(b []byte) string { return string(b) })); diff != "" {
			t.Fatalf("header %q: envelope mismatch (-want +got):\n%s", in.String(), diff)
		}
	})
}
