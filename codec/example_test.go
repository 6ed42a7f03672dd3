package codec_test

import (
	"bytes"
	"fmt"

	"github.com/postwire/postwire/codec"
)

func ExampleStuffer() {
	var wire bytes.Buffer
	w := codec.NewStuffer(&wire)
	fmt.Fprint(w, ".hidden line\n")     // leading dot doubled, bare LF fixed
	fmt.Fprint(w, "split across\r")     // a CR at the end of a write is held...
	fmt.Fprint(w, "\nwrites\r\n.\r\nx") // ...and pairs with this LF
	w.Close()                           // adds CRLF, then ".\r\n"
	fmt.Printf("%q\n", wire.String())
	// Output:
	// "..hidden line\r\nsplit across\r\nwrites\r\n..\r\nx\r\n.\r\n"
}

func ExampleAppendStuffed() {
	out := codec.AppendStuffed(nil, []byte("Hi\n.\rsmuggled?\r\n.\r\n"))
	fmt.Printf("%q\n", out)
	body, _ := codec.Unstuff(out)
	fmt.Printf("%q\n", body)
	// Output:
	// "Hi\r\n..\r\nsmuggled?\r\n..\r\n.\r\n"
	// "Hi\r\n.\r\nsmuggled?\r\n.\r\n"
}

func ExampleStuffState() {
	var s codec.StuffState
	var out []byte
	for _, chunk := range []string{"line one\r", "\n.line two"} {
		out = s.Append(out, []byte(chunk))
	}
	out = s.AppendEnd(out)
	fmt.Printf("%q\n", out)
	// Output:
	// "line one\r\n..line two\r\n.\r\n"
}

func ExampleParseEnvelope() {
	msg := []byte("From: Alice <alice@example.com>\r\n" +
		"To: bob@example.org\r\n" +
		"Bcc: carol@example.net,\r\n" +
		" dave@example.net\r\n" +
		"Subject: lunch\r\n" +
		"\r\n" +
		"Noon?\r\n")
	hdr := codec.SplitHeader(msg)
	env, err := codec.ParseEnvelope(msg[:hdr])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.From)
	fmt.Println(env.To)
	fmt.Printf("%q\n", env.Header)
	// Output:
	// alice@example.com
	// [bob@example.org carol@example.net dave@example.net]
	// "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: lunch\r\n\r\n"
}

func ExampleCheckAddress() {
	for _, a := range []string{"user@example.com", "", "a@x> SIZE=1", "a@x\r\nRSET"} {
		fmt.Printf("%q: %v\n", a, codec.CheckAddress(a))
	}
	// Output:
	// "user@example.com": <nil>
	// "": <nil>
	// "a@x> SIZE=1": codec: angle bracket or space in address: "a@x> SIZE=1"
	// "a@x\r\nRSET": codec: line break in address: "a@x\r\nRSET"
}

func ExampleXtextEncode() {
	enc := codec.XtextEncode("rfc822;jöhn+tag@example.com")
	fmt.Println(enc)
	dec, _ := codec.XtextDecode(enc)
	fmt.Println(dec)
	// Output:
	// rfc822;j+C3+B6hn+2Btag@example.com
	// rfc822;jöhn+tag@example.com
}

// A header smtplib's send_message accepts although net/mail does not: a
// bare local part and a display name with unquoted dots.
func ExampleParseEnvelope_lenient() {
	env, err := codec.ParseEnvelope([]byte("From: John Q. Public <jqp@example.com>\r\n" +
		"Resent-Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n" +
		"Resent-From: <>\r\n" +
		"Resent-To: a@example.com, Jeff\r\n\r\n"))
	fmt.Printf("%q %q %v\n", env.From, env.To, err)
	// Output: "" ["a@example.com" "Jeff"] <nil>
}

func ExampleReversePath() {
	for _, s := range []string{"<>", "<a@example.com>", "a@example.com"} {
		fmt.Printf("MAIL FROM:<%s>\n", codec.ReversePath(s))
	}
	// Output:
	// MAIL FROM:<>
	// MAIL FROM:<a@example.com>
	// MAIL FROM:<a@example.com>
}

func ExampleORCPT() {
	fmt.Println("ORCPT=" + codec.ORCPT("a+b@example.com"))
	fmt.Println("ORCPT=" + codec.ORCPT("jörg@exämple.de"))
	// Output:
	// ORCPT=rfc822;a+2Bb@example.com
	// ORCPT=utf-8;j\x{F6}rg@ex\x{E4}mple.de
}
