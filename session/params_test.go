package session_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// sizeParam returns the value of SIZE in MAIL's parameters, or -1.
func sizeParam(params []string) int64 {
	for _, p := range params {
		if v, ok := strings.CutPrefix(strings.ToUpper(p), "SIZE="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// RFC 1870: SIZE is the octets of the message as transmitted, CRLF pairs
// included, stuffing dots and the final dot not. For any body with bare
// CR and LF, of any of the readers whose size is known without reading,
// over DATA and BDAT, the announced SIZE is what the server stored.
func TestSizeIsTransmittedOctets(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		body := rapid.StringMatching(`[a.\r\n]{0,60}`).Draw(t, "body")
		chunking := rapid.Bool().Draw(t, "chunking")
		s := smtptest.NewServer(smtptest.Config{Hostname: serverName, DisableChunking: !chunking, MaxSize: 1 << 20})
		defer s.Close()
		c, err := session.NewClient(context.Background(), s.Pipe(), serverName, opts())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var r io.Reader
		switch rapid.IntRange(0, 3).Draw(t, "reader") {
		case 0:
			r = strings.NewReader(body)
		case 1:
			r = bytes.NewReader([]byte(body))
		case 2:
			r = bytes.NewBufferString(body)
		default:
			r = io.NewSectionReader(strings.NewReader("xx"+body), 2, int64(len(body)))
		}
		sized := []bool{true} // per message stored: SIZE must be announced
		if rapid.Bool().Draw(t, "SendMessage") {
			sized = []bool{false, true}
			// The header read ahead, then the rest of the reader in place.
			hdr := "From: a@x.test\nTo: b@y.test\nBcc: c@y.test\n\n"
			if _, err := c.SendMessage(context.Background(), io.MultiReader(strings.NewReader(hdr), r), nil); err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
			// A MultiReader cannot be read in place: no SIZE, as before.
			if _, err := c.SendMessage(context.Background(), strings.NewReader(hdr+body), nil); err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
		} else if _, err := c.SendMail(context.Background(), "a@x.test", []string{"b@y.test"}, r, nil); err != nil {
			t.Fatalf("SendMail: %v", err)
		}
		msgs := s.Messages()
		if len(msgs) != len(sized) {
			t.Fatalf("%d messages stored, want %d", len(msgs), len(sized))
		}
		for i, m := range msgs {
			want := int64(len(m.Data))
			if !sized[i] {
				want = -1
			}
			if got := sizeParam(m.MailParams); got != want {
				t.Fatalf("body %q, message %d: SIZE=%d announced (-1: none), want %d (%q)", body, i, got, want, m.MailParams)
			}
		}
	})
}

// A caller's parameter equal to one postwire adds is sent once; one that
// contradicts it is refused before anything is sent.
func TestParamsMerged(t *testing.T) {
	const body = "Subject: x\r\n\r\nhi\r\n" // 18 octets
	tests := []struct {
		name       string
		from       string
		opts       session.SendOptions
		wantMail   []string
		wantRcpt   []string
		wantRefuse bool
	}{
		{name: "smtplib mail_options with a non-ASCII sender", from: "jörg@x.test",
			opts:     session.SendOptions{MailParams: []protocol.Param{{Key: "BODY", Value: "8BITMIME"}, {Key: "SMTPUTF8"}}},
			wantMail: []string{"SIZE=18", "BODY=8BITMIME", "SMTPUTF8"}},
		{name: "lower-case keyword and value", from: "jörg@x.test",
			opts:     session.SendOptions{MailParams: []protocol.Param{{Key: "body", Value: "8bitmime"}}},
			wantMail: []string{"SIZE=18", "BODY=8BITMIME", "SMTPUTF8"}},
		{name: "the same SIZE", from: "a@x.test",
			opts:     session.SendOptions{MailParams: []protocol.Param{{Key: "SIZE", Value: "18"}}},
			wantMail: []string{"SIZE=18"}},
		{name: "another SIZE", from: "a@x.test",
			opts:       session.SendOptions{MailParams: []protocol.Param{{Key: "SIZE", Value: "17"}}},
			wantRefuse: true},
		{name: "BODY=7BIT for a message that needs 8BITMIME", from: "jörg@x.test",
			opts:       session.SendOptions{MailParams: []protocol.Param{{Key: "BODY", Value: "7BIT"}}},
			wantRefuse: true},
		{name: "a parameter of the caller's own", from: "a@x.test",
			opts:     session.SendOptions{MailParams: []protocol.Param{{Key: "BODY", Value: "7BIT"}}},
			wantMail: []string{"SIZE=18", "BODY=7BIT"}},
		{name: "NOTIFY twice, the same", from: "a@x.test",
			opts: session.SendOptions{Notify: []session.DSNNotify{session.NotifyFailure},
				RcptParams: []protocol.Param{{Key: "NOTIFY", Value: "FAILURE"}}},
			wantMail: []string{"SIZE=18"}, wantRcpt: []string{"NOTIFY=FAILURE"}},
		{name: "NOTIFY twice, different", from: "a@x.test",
			opts: session.SendOptions{Notify: []session.DSNNotify{session.NotifyFailure},
				RcptParams: []protocol.Param{{Key: "NOTIFY", Value: "NEVER"}}},
			wantRefuse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, smtptest.Config{MaxSize: 1 << 20})
			c := connect(t, transports[0], s, nil)
			ctx := ctxTimeout(t)
			_, err := c.SendMail(ctx, tt.from, []string{"b@y.test"}, strings.NewReader(body), &tt.opts)
			if tt.wantRefuse {
				var ue *protocol.UsageError
				if !errors.As(err, &ue) {
					t.Fatalf("SendMail = %v, want a *protocol.UsageError", err)
				}
				if got := string(s.Received()); strings.Contains(got, "MAIL") {
					t.Fatalf("refused locally, yet sent:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			m := s.Messages()[0]
			if diff := cmp.Diff(tt.wantMail, m.MailParams); diff != "" {
				t.Errorf("MAIL parameters (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRcpt, m.RcptParams[0]); tt.wantRcpt != nil && diff != "" {
				t.Errorf("RCPT parameters (-want +got):\n%s", diff)
			}
		})
	}
}

// An empty body is announced as SIZE=0 (RFC 1870: the size is known).
func TestSizeZero(t *testing.T) {
	s := newServer(t, smtptest.Config{MaxSize: 1 << 20})
	c := connect(t, transports[0], s, nil)
	if _, err := c.SendMail(ctxTimeout(t), "a@x.test", []string{"b@y.test"}, strings.NewReader(""), nil); err != nil {
		t.Fatal(err)
	}
	if got := sizeParam(s.Messages()[0].MailParams); got != 0 {
		t.Fatalf("empty body: SIZE=%d, want 0", got)
	}
}
