// Package randid makes the random identifiers rpkit needs (state, nonce,
// session IDs, jti): 256 bits from crypto/rand, base64url without padding.
package randid

import (
	"crypto/rand"
	"encoding/base64"
)

// New returns 256 random bits as 43 base64url characters. crypto/rand.Read
// never fails: it crashes the program rather than return weak bytes.
func New() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
