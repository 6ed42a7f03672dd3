package interop

// The Received headers that Dovecot, smtp-sink, Postfix and Exim prepend (and Exim's
// Delivery-date), as patterns. This file has no
// build tag, so `make test` runs the pinned samples below on every machine and every day:
// the date of a run must never decide whether the header check passes (smtp-sink pads a
// one-digit day with a space, which broke the check on the 1st to the 9th of each month).

import (
	"regexp"
	"strings"
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

// receivedCheck returns the pattern an MTA's Received header must match, after unfolding,
// for a message from sender; rcpt is the recipient when the transaction had one, else "".
type receivedCheck func(sender, rcpt string) *regexp.Regexp

// postfixReceived is smtpd's Received header (smtpd_peername_lookup = no, so the client is
// "unknown"), proto as Postfix names it: ESMTP, then S for TLS and A for AUTH; UTF8SMTP...
// with SMTPUTF8. Postfix does not name the envelope sender.
func postfixReceived(proto string) receivedCheck {
	return func(_, rcpt string) *regexp.Regexp {
		p := `^Received: from client\.postwire\.test \(unknown \[127\.0\.0\.1\]\) ` +
			`by postfix\.interop \(Postfix\) with ` + regexp.QuoteMeta(proto) + ` id [0-9A-F]+`
		if rcpt != "" {
			p += ` for <` + regexp.QuoteMeta(rcpt) + `>`
		}
		return regexp.MustCompile(p + `; ` + dateTime + `$`)
	}
}

// eximReceived is Exim's default Received header (host_lookup and ident off, so the client
// is "[127.0.0.1]"), proto as Exim names it: esmtp, then s for TLS and a for AUTH, "utf8"
// in front with SMTPUTF8; over TLS the version and cipher follow.
func eximReceived(proto string) receivedCheck {
	tls := ""
	if strings.HasSuffix(proto, "esmtps") || strings.HasSuffix(proto, "esmtpsa") {
		tls = ` \(TLS1\.[23]\) tls [A-Z0-9_]+`
	}
	return func(sender, rcpt string) *regexp.Regexp {
		p := `^Received: from \[127\.0\.0\.1\] \(helo=client\.postwire\.test\) by exim\.interop with ` +
			regexp.QuoteMeta(proto) + tls + ` \(Exim [0-9.]+\) \(envelope-from <` + regexp.QuoteMeta(sender) + `>\) ` +
			`id [0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}`
		if rcpt != "" {
			p += ` for ` + regexp.QuoteMeta(rcpt)
		}
		return regexp.MustCompile(p + `; ` + dateTime + `$`)
	}
}

// deliveryDate is the value of Exim's Delivery-date field.
var deliveryDate = regexp.MustCompile(`^` + dateTime + `$`)

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
	// Postfix and Exim, as the maildir readers unfold them.
	postfix := func(date string) string {
		return "Received: from client.postwire.test (unknown [127.0.0.1]) by postfix.interop (Postfix) " +
			"with ESMTPSA id B3CA4985325 for <u@postwire.test>; " + date
	}
	exim := func(date string) string {
		return "Received: from [127.0.0.1] (helo=client.postwire.test) by exim.interop with esmtpsa " +
			"(TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <s@postwire.test>) " +
			"id 1xYQSU-0004kN-0g for u@postwire.test; " + date
	}
	postfixRE := postfixReceived("ESMTPSA")("s@postwire.test", "u@postwire.test")
	eximRE := eximReceived("esmtpsa")("s@postwire.test", "u@postwire.test")
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
		if !postfixRE.MatchString(postfix(d)) || !eximRE.MatchString(exim(d)) || !deliveryDate.MatchString(d) {
			t.Errorf("Postfix or Exim Received, or Delivery-date, with date %q: refused, want accepted", d)
		}
	}
	for _, d := range bad {
		if sinkRE.MatchString(sink(d)) || sinkTCPRE.MatchString(sinkTCP(d)) {
			t.Errorf("smtp-sink Received with date %q: accepted, want refused", d)
		}
		if dovecotRE.MatchString(dovecot(d)) {
			t.Errorf("Dovecot Received with date %q: accepted, want refused", d)
		}
		if postfixRE.MatchString(postfix(d)) || eximRE.MatchString(exim(d)) || deliveryDate.MatchString(d) {
			t.Errorf("Postfix or Exim Received, or Delivery-date, with date %q: accepted, want refused", d)
		}
	}
	// Over TCP the client must be 127.0.0.1; the other protocol name must not pass.
	if sinkTCPRE.MatchString(sink(good[0])) {
		t.Error("smtp-sink TCP pattern accepted a client not named [127.0.0.1]")
	}
	if sinkReceived("LMTP", true).MatchString(sinkTCP(good[0])) {
		t.Error("smtp-sink pattern for LMTP accepted a header saying ESMTP")
	}
	// Postfix and Exim name the recipient only with one; the protocol and sender must match.
	samples := []struct {
		re     *regexp.Regexp
		header string
		want   bool
	}{
		{postfixReceived("ESMTP")("s@postwire.test", ""), "Received: from client.postwire.test (unknown [127.0.0.1]) " +
			"by postfix.interop (Postfix) with ESMTP id 4F2B1A1234; Tue,  1 Dec 2026 16:11:13 +0000 (UTC)", true},
		{postfixReceived("ESMTP")("s@postwire.test", ""), postfix(good[0]), false},
		{postfixReceived("UTF8SMTPSA")("s@postwire.test", "u@postwire.test"), postfix(good[0]), false},
		{eximReceived("esmtp")("s@postwire.test", ""), "Received: from [127.0.0.1] (helo=client.postwire.test) " +
			"by exim.interop with esmtp (Exim 4.96) (envelope-from <s@postwire.test>) id 1xYQSU-0004kN-0f; " +
			"Tue, 01 Dec 2026 16:11:58 +0000", true},
		{eximReceived("esmtp")("s@postwire.test", ""), exim(good[0]), false},
		{eximReceived("esmtpsa")("other@postwire.test", "u@postwire.test"), exim(good[0]), false},
	}
	for _, s := range samples {
		if got := s.re.MatchString(s.header); got != s.want {
			t.Errorf("%q matching %q: %v, want %v", s.header, s.re, got, s.want)
		}
	}
}
