package protocol

import (
	"slices"
	"strconv"
	"strings"
)

// Extensions is what the server advertised in its last successful EHLO or
// LHLO reply (RFC 5321 §4.1.1.1). The zero value means nothing was
// advertised: before EHLO, after HELO, and after STARTTLS until the next
// EHLO. It is a read-only value; copies share storage.
type Extensions struct {
	greeting string
	list     []extension // advertised order; keywords upper-case, each once (see parseExtensions)
	auth     []string    // upper-case mechanisms, deduplicated
}

type extension struct {
	keyword string // upper-case
	params  string // the rest of the line after the keyword and its space(s)
}

// parseExtensions reads a positive EHLO/LHLO reply: the first line is the
// server's greeting text, each later one "keyword[ params]". Only a 250
// lists extensions (RFC 5321 §4.1.1.1 ehlo-ok-rsp); another 2xx is a
// greeting without any, as smtplib takes it. Keywords are matched
// case-insensitively (a lowercase "starttls" counts). A keyword repeated
// keeps its first place and its last parameters, except AUTH, whose
// lines are merged, as smtplib does; the old "AUTH=mech ..." form
// (before RFC 2554 was final) is read as AUTH. Lines whose keyword is
// not an RFC 5321 ehlo-keyword are ignored, except that '_' is accepted
// (Exim advertises PIPE_CONNECT).
func parseExtensions(r Reply) Extensions {
	var e Extensions
	if r.Code != 250 || len(r.Lines) == 0 {
		return e
	}
	lines := r.Lines
	e.greeting = lines[0]
	if len(lines) > 1 {
		e.list = make([]extension, 0, len(lines)-1)
	}
	for _, l := range lines[1:] {
		kw, params, _ := strings.Cut(l, " ")
		params = strings.TrimLeft(params, " ")
		if k, mechs, ok := strings.Cut(kw, "="); ok && strings.EqualFold(k, "AUTH") {
			kw, params = k, strings.TrimLeft(mechs+" "+params, " ")
		}
		if !isKeyword(strings.ReplaceAll(kw, "_", "-")) {
			continue
		}
		kw = strings.ToUpper(kw)
		if kw == "AUTH" {
			e.addAuth(params)
		}
		i := slices.IndexFunc(e.list, func(x extension) bool { return x.keyword == kw })
		switch {
		case i < 0:
			e.list = append(e.list, extension{kw, params})
		case kw == "AUTH":
			e.list[i].params = strings.TrimSpace(e.list[i].params + " " + params)
		default:
			e.list[i].params = params // the last one wins
		}
	}
	return e
}

func (e *Extensions) addAuth(params string) {
	for _, m := range strings.Fields(params) {
		m = strings.ToUpper(m)
		dup := false
		for _, a := range e.auth {
			dup = dup || a == m
		}
		if !dup {
			e.auth = append(e.auth, m)
		}
	}
}

func (e Extensions) find(keyword string) (extension, bool) {
	for _, x := range e.list {
		if strings.EqualFold(x.keyword, keyword) {
			return x, true
		}
	}
	return extension{}, false
}

// Has reports whether keyword was advertised; case-insensitive.
func (e Extensions) Has(keyword string) bool {
	_, ok := e.find(keyword)
	return ok
}

// Param returns the parameters of keyword as the server wrote them (for
// "SIZE 35882577", "35882577"; "" for a keyword without parameters) and
// whether keyword was advertised.
func (e Extensions) Param(keyword string) (string, bool) {
	x, ok := e.find(keyword)
	return x.params, ok
}

// Keywords returns the advertised keywords, upper-case, in the server's
// order, each once ("AUTH" also for an old "AUTH=" line).
func (e Extensions) Keywords() []string {
	ks := make([]string, len(e.list))
	for i, x := range e.list {
		ks[i] = x.keyword
	}
	return ks
}

// Size returns the SIZE limit in bytes (RFC 1870) and whether SIZE was
// advertised. (0, true) means SIZE without a fixed limit: "SIZE", "SIZE 0",
// or a parameter that is not a decimal number.
func (e Extensions) Size() (int64, bool) {
	p, ok := e.Param("SIZE")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(p, 10, 64)
	if err != nil || n < 0 {
		return 0, true
	}
	return n, true
}

// Auth returns the advertised SASL mechanisms, upper-case, "AUTH a b" and
// "AUTH=a b" lines merged in order, each once. Nil when AUTH was not
// advertised.
func (e Extensions) Auth() []string {
	return append([]string(nil), e.auth...)
}

// Greeting returns the text of the first line of the EHLO/LHLO reply
// (usually the server's name and a greeting), "" for the zero value.
func (e Extensions) Greeting() string { return e.greeting }

// paramExtension maps MAIL and RCPT parameters to the extension that
// defines them; a parameter not listed needs the extension of the same name.
var paramExtension = map[string]string{
	"BODY":        "8BITMIME", // RFC 6152; BODY=BINARYMIME: see requiredFor
	"RET":         "DSN",      // RFC 3461
	"ENVID":       "DSN",
	"NOTIFY":      "DSN",
	"ORCPT":       "DSN",
	"BY":          "DELIVERBY", // RFC 2852
	"HOLDFOR":     "FUTURERELEASE",
	"HOLDUNTIL":   "FUTURERELEASE",
	"SIZE":        "SIZE",
	"SMTPUTF8":    "SMTPUTF8",
	"REQUIRETLS":  "REQUIRETLS",
	"AUTH":        "AUTH", // RFC 4954 §5 MAIL FROM AUTH=
	"MT-PRIORITY": "MT-PRIORITY",
}

// RequiredExtension returns the extension keyword that the MAIL or RCPT
// parameter p needs (BODY=8BITMIME: 8BITMIME, NOTIFY: DSN, ...); a
// parameter no RFC assigns elsewhere needs the extension of its own name.
func RequiredExtension(p Param) string {
	k := strings.ToUpper(p.Key)
	if k == "BODY" && strings.EqualFold(p.Value, "BINARYMIME") {
		return "BINARYMIME" // RFC 3030 §3
	}
	if x, ok := paramExtension[k]; ok {
		return x
	}
	return k
}

// Permits checks that the server advertised what cmd needs: STARTTLS,
// AUTH, CHUNKING for BDAT, and the extension behind every MAIL and RCPT
// parameter (RequiredExtension); and that the line is within the limit
// the advertised extensions set (MaxLine). It is the check Send makes,
// exported so that a caller can refuse a whole transaction before its
// first command goes out. The error is a *NotAdvertisedError, or one
// wrapping ErrCommandTooLong.
func (e Extensions) Permits(cmd Command) error {
	if err := cmd.checkLength(e.Has); err != nil {
		return err
	}
	need := ""
	switch cmd.Verb {
	case VerbStartTLS:
		need = "STARTTLS"
	case VerbAuth:
		need = "AUTH"
	case VerbBdat:
		need = "CHUNKING"
	case VerbMail, VerbRcpt:
		for _, p := range cmd.Params {
			if x := RequiredExtension(p); !e.Has(x) {
				return &NotAdvertisedError{Extension: x, Param: p.Key}
			}
		}
	}
	if need != "" && !e.Has(need) {
		return &NotAdvertisedError{Extension: need}
	}
	return nil
}
