package interop

// The Received headers that Dovecot and smtp-sink prepend, as patterns. This file has no
// build tag, so `make test` runs the pinned samples below on every machine and every day:
// the date of a run must never decide whether the header check passes (smtp-sink pads a
// one-digit day with a space, which broke the check on the 1st to the 9th of each month).

import (
	"regexp"
	"testing"
)

// dateTime is RFC 5322's date-time (§3.3) as servers write it on one line: an optional day
// of the week and comma, a one- or two-digit day, the month, a four-digit year, the time
// with optional seconds and a numeric zone, every token separated by spaces or tabs (folding
// white space without the fold, which the callers unfold first), then an optional zone
// comment such as "(UTC)". Obsolete forms (two-digit years, alphabetic zones) are refused.
const dateTime = `(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t]*)?` +
	`(?:0?[1-9]|[12][0-9]|3[01])[ \t]+` +
	`(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t]+` +
	`[0-9]{4}[ \t]+` +
	`(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?[ \t]+` +
	`[+-][0-9]{4}` +
	`(?:[ \t]+\([A-Za-z0-9+-]+\))?`

// dovecotReceived matches Dovecot's Received header after unfolding (every run of white
// space one space). rcpt is "" when the transaction had more than one recipient.
func dovecotReceived(sender, rcpt string) *regexp.Regexp {
	p := `^Received: from \S+( \(\[127\.0\.0\.1\]\))? by dovecot\.interop with LMTP id \S+ ` +
		`\(envelope-from <` + regexp.QuoteMeta(sender) + `>\)`
	if rcpt != "" {
		p += ` for <` + regexp.QuoteMeta(rcpt) + `>`
	}
	return regexp.MustCompile(p + `; ` + dateTime + `$`)
}

// sinkReceived matches smtp-sink's three-line Received header (lines ended by LF, as it
// dumps them). A client over TCP is named by its address; one over a Unix socket by
// whatever smtp-sink makes of the socket's peer.
func sinkReceived(proto string, tcp bool) *regexp.Regexp {
	from := `\(\[[^\]\n]*\]\)`
	if tcp {
		from = `\(\[127\.0\.0\.1\]\)`
	}
	return regexp.MustCompile(`^Received: from \S+ ` + from + `\n\tby smtp-sink\.interop \(smtp-sink\) with ` +
		regexp.QuoteMeta(proto) + ` id [0-9a-f]+;\n\t` + dateTime + `\n$`)
}

func TestReceivedDates(t *testing.T) {
	sink := func(date string) string {
		return "Received: from client.example ([unknown])\n" +
			"\tby smtp-sink.interop (smtp-sink) with ESMTP id 1a2b;\n\t" + date + "\n"
	}
	sinkTCP := func(date string) string {
		return "Received: from client.example ([127.0.0.1])\n" +
			"\tby smtp-sink.interop (smtp-sink) with ESMTP id 1a2b;\n\t" + date + "\n"
	}
	dovecot := func(date string) string {
		return "Received: from client.example ([127.0.0.1]) by dovecot.interop with LMTP id Xy7 " +
			"(envelope-from <s@postwire.test>) for <u@postwire.test>; " + date
	}
	good := []string{
		"Tue,  1 Dec 2026 15:16:15 +0000 (UTC)", // smtp-sink's padded one-digit day
		"Wed,  9 Dec 2026 00:00:00 +0000 (UTC)",
		"Thu, 10 Dec 2026 23:59:59 +0000 (UTC)",
		"Thu, 31 Dec 2026 12:00:00 -0500 (EST)",
		"Tue, 1 Dec 2026 15:16:15 +0000",   // Dovecot: no padding, no comment
		"1 Dec 2026 15:16 +0100",           // no day of the week, no seconds
		"Mon,\t09 Feb 2026 08:07:06 +0000", // a tab, a zero-padded day
	}
	bad := []string{
		"Tue, 32 Dec 2026 15:16:15 +0000",
		"Tue, 1 Dek 2026 15:16:15 +0000",
		"Tue, 1 Dec 26 15:16:15 +0000",
		"Tue, 1 Dec 2026 15:16:15 UTC",
		"Tue, 1 Dec 2026 25:16:15 +0000",
		"Tue, 1 Dec 2026 15:16:15 +0000 (UTC) X-Injected: yes",
		"Tue, 1 Dec 2026 15:16:15 +0000 (UTC)\nX-Extra: 1",
		"",
	}
	sinkRE := sinkReceived("ESMTP", false)
	sinkTCPRE := sinkReceived("ESMTP", true)
	dovecotRE := dovecotReceived("s@postwire.test", "u@postwire.test")
	for _, d := range good {
		if !sinkRE.MatchString(sink(d)) || !sinkTCPRE.MatchString(sinkTCP(d)) {
			t.Errorf("smtp-sink Received with date %q: refused, want accepted", d)
		}
		if !dovecotRE.MatchString(dovecot(d)) {
			t.Errorf("Dovecot Received with date %q: refused, want accepted", d)
		}
	}
	for _, d := range bad {
		if sinkRE.MatchString(sink(d)) || sinkTCPRE.MatchString(sinkTCP(d)) {
			t.Errorf("smtp-sink Received with date %q: accepted, want refused", d)
		}
		if dovecotRE.MatchString(dovecot(d)) {
			t.Errorf("Dovecot Received with date %q: accepted, want refused", d)
		}
	}
	// Over TCP the client must be 127.0.0.1; the other protocol name must not pass.
	if sinkTCPRE.MatchString(sink(good[0])) {
		t.Error("smtp-sink TCP pattern accepted a client not named [127.0.0.1]")
	}
	if sinkReceived("LMTP", true).MatchString(sinkTCP(good[0])) {
		t.Error("smtp-sink pattern for LMTP accepted a header saying ESMTP")
	}
}
