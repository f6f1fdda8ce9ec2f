// Package redact turns identifiers that act as capabilities into values
// that logs can carry.
//
// A provider's session ID (sid) is one: anyone who knows it and the issuer
// can end that session through the front-channel logout endpoint, so log
// lines never carry it. They carry its Hash instead, which still lets an
// operator correlate the lines of one provider session.
package redact

import (
	"crypto/sha256"
	"encoding/hex"
)

// Hash returns the first 48 bits of the SHA-256 of s, in hex: enough to
// tell the sessions of one log apart, useless to end one. It is "" for "".
func Hash(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
