package auth

// WithNonceLen makes a SCRAM mechanism read n random bytes for its nonce
// instead of 18, so that RFC test vectors with other nonce lengths can be
// reproduced through WithRand.
func WithNonceLen(m Mechanism, n int) Mechanism {
	s := *m.(*scram)
	s.nonceLen = n
	return &s
}
