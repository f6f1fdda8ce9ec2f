package rp

import "log/slog"

// Secret holds a credential or token: a client secret, an access, refresh or
// ID token, a PKCE verifier. Its String, GoString and LogValue methods print
// "[redacted]" so that it cannot leak through fmt or log/slog by accident.
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
