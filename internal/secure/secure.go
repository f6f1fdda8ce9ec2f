// Package secure holds the comparison every check of a secret value
// (a state, a cookie's state, an issuer named by an unauthenticated
// request) uses.
package secure

import "crypto/subtle"

// Equal reports whether a and b are equal, in time that depends on their
// lengths only, not on where they first differ.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
