package rp

import (
	"fmt"
	"log/slog"
)

// Secret holds a credential or token: a client secret, an access, refresh or
// ID token, a PKCE verifier. Its String, GoString, Format and LogValue
// methods print "[redacted]" so that it cannot leak through fmt (under any
// verb) or log/slog by accident.
// Convert it with string(s) where the real value is needed. JSON encoding is
// not redacted: stores and cookies must persist the real value.
type Secret string

const redacted = "[redacted]"

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns the same as String, so %#v does not reveal the value.
func (s Secret) GoString() string { return `rp.Secret("` + s.String() + `")` }

// LogValue makes log/slog print "[redacted]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format implements fmt.Formatter, so that every verb redacts: without it
// %d, %x, %q, and the %v of a struct holding a Secret, print the string.
// %#v prints GoString, %q the quoted String, and every other verb String,
// with the directive's width, precision and flags.
func (s Secret) Format(f fmt.State, verb rune) { formatSafe(f, verb, s.String(), s.GoString()) }
