package session

import "io"

// poolBody wraps a message's Body so that the pool knows whether the
// session read it. A message is sent again only if its body is unread, or
// can be put back where it started (an io.Seeker): with PIPELINING and
// CHUNKING the body goes out with MAIL, so a 421 to MAIL may come after
// the body was read.
type poolBody struct {
	r     io.Reader
	read  bool
	start int64 // the Seeker's offset before the first read
}

func newPoolBody(r io.Reader) *poolBody {
	b := &poolBody{r: r}
	if s, ok := r.(io.Seeker); ok {
		if off, err := s.Seek(0, io.SeekCurrent); err == nil {
			b.start = off
		} else {
			b.start = -1
		}
	} else {
		b.start = -1
	}
	return b
}

func (b *poolBody) Read(p []byte) (int, error) {
	b.read = true
	return b.r.Read(p)
}

// rewind reports whether the body can be sent again from its start.
func (b *poolBody) rewind() bool {
	if !b.read {
		return true
	}
	s, ok := b.r.(io.Seeker)
	if !ok || b.start < 0 {
		return false
	}
	if _, err := s.Seek(b.start, io.SeekStart); err != nil {
		return false
	}
	b.read = false
	return true
}
