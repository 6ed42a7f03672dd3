package session_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// buildMessage writes a multipart/mixed message: a multipart/alternative
// (plain text and HTML, quoted-printable) and a CSV attachment (base64),
// with a non-ASCII subject and sender name, using only the standard
// library. The boundaries are fixed so the example's output is stable;
// leave them random (the default) in real code.
func buildMessage() (*bytes.Buffer, error) {
	var msg bytes.Buffer
	from := mail.Address{Name: "Zoë Müller", Address: "zoe@example.com"}
	to := mail.Address{Name: "Team", Address: "team@example.net"}
	mixed := multipart.NewWriter(&msg)
	if err := mixed.SetBoundary("mixed-boundary-1"); err != nil {
		return nil, err
	}
	fmt.Fprintf(&msg, "From: %s\r\n", from.String()) // net/mail Q-encodes the name
	fmt.Fprintf(&msg, "To: %s\r\n", to.String())
	fmt.Fprintf(&msg, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", "Grüße: the Q3 report"))
	fmt.Fprintf(&msg, "Date: %s\r\n", time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC).Format(time.RFC1123Z))
	fmt.Fprintf(&msg, "Message-ID: <q3-report@example.com>\r\n")
	fmt.Fprintf(&msg, "MIME-Version: 1.0\r\n")
	fmt.Fprintf(&msg, "Content-Type: multipart/mixed; boundary=%s\r\n\r\n", mixed.Boundary())

	// The alternative part holds its own multipart body.
	const altBoundary = "alt-boundary-1"
	altPart, err := mixed.CreatePart(textproto.MIMEHeader{
		"Content-Type": {"multipart/alternative; boundary=" + altBoundary},
	})
	if err != nil {
		return nil, err
	}
	alt := multipart.NewWriter(altPart)
	if err := alt.SetBoundary(altBoundary); err != nil {
		return nil, err
	}
	for _, p := range []struct{ ctype, text string }{
		{"text/plain; charset=utf-8", "Hallo Team,\r\nthe Q3 figures are attached. Grüße, Zoë\r\n"},
		{"text/html; charset=utf-8", "<p>Hallo Team,</p><p>the Q3 figures are attached. Grüße, Zoë</p>\r\n"},
	} {
		w, err := alt.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := io.WriteString(qp, p.text); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := alt.Close(); err != nil {
		return nil, err
	}

	att, err := mixed.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {`text/csv; name="q3.csv"`},
		"Content-Disposition":       {`attachment; filename="q3.csv"`},
		"Content-Transfer-Encoding": {"base64"},
	})
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString([]byte("region,revenue\r\nnorth,1200\r\nsouth,950\r\n"))
	for len(b64) > 76 { // RFC 2045: lines of at most 76 characters
		fmt.Fprintf(att, "%s\r\n", b64[:76])
		b64 = b64[76:]
	}
	fmt.Fprintf(att, "%s\r\n", b64)
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	return &msg, nil
}

// A MIME message built with the standard library, sent with SendMessage
// (the envelope comes from its From and To). Any builder that produces an
// io.Reader works the same way; SendMessage streams everything after the
// header block.
func ExampleClient_SendMessage_mime() {
	ctx := context.Background()
	srv := smtptest.NewServer(smtptest.Config{})
	defer srv.Close()
	c, err := session.NewClient(ctx, srv.Pipe(), "mx.example", &session.Options{LocalName: "client.example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	msg, err := buildMessage()
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.SendMessage(ctx, msg, nil); err != nil {
		fmt.Println(err)
		return
	}
	c.Quit(ctx)

	// Read back what the server stored, with the standard library again.
	m := srv.Messages()[0]
	fmt.Println("envelope:", m.From, "->", m.To)
	stored, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Subject on the wire:", stored.Header.Get("Subject"))
	subject, _ := new(mime.WordDecoder).DecodeHeader(stored.Header.Get("Subject"))
	fmt.Println("Subject decoded:", subject)
	printParts(stored.Header.Get("Content-Type"), stored.Body, "")
	// Output:
	// envelope: zoe@example.com -> [team@example.net]
	// Subject on the wire: =?utf-8?q?Gr=C3=BC=C3=9Fe:_the_Q3_report?=
	// Subject decoded: Grüße: the Q3 report
	// multipart/mixed
	//   multipart/alternative
	//     text/plain: "Hallo Team,\r\nthe Q3 figures are attached. Grüße, Zoë\r\n"
	//     text/html: "<p>Hallo Team,</p><p>the Q3 figures are attached. Grüße, Zoë</p>\r\n"
	//   text/csv (attachment q3.csv): "region,revenue\r\nnorth,1200\r\nsouth,950\r\n"
}

// printParts prints the MIME tree of a multipart body, decoding each leaf
// (mime/multipart undoes quoted-printable itself; base64 is decoded here).
func printParts(ctype string, body io.Reader, indent string) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(indent + mt)
	r := multipart.NewReader(body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err != nil {
			return // io.EOF after the last part
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if strings.HasPrefix(pt, "multipart/") {
			printParts(p.Header.Get("Content-Type"), p, indent+"  ")
			continue
		}
		var content io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			content = base64.NewDecoder(base64.StdEncoding, p)
		}
		data, _ := io.ReadAll(content)
		label := pt
		if name := p.FileName(); name != "" {
			label += " (attachment " + name + ")"
		}
		fmt.Printf("%s  %s: %q\n", indent, label, data)
	}
}
