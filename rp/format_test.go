package rp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// verbs are the fmt directives a careless log line might use. %T and %p are
// handled by fmt itself and print no value.
var verbs = []string{
	"%v", "%+v", "%#v", "%s", "%q", "%+q", "%#q", "%d", "%x", "%X", "% x", "%#x",
	"%o", "%b", "%e", "%f", "%g", "%t", "%c", "%U", "%10v", "%-30s", "%.40s", "%z",
}

// leaks reports which of the secrets appears in out, in plain text or hex.
func leaks(out string, secrets ...string) string {
	for _, s := range secrets {
		for _, form := range []string{s, fmt.Sprintf("%x", s), fmt.Sprintf("%X", s), fmt.Sprintf("% x", s)} {
			if form != "" && strings.Contains(out, form) {
				return s
			}
		}
	}
	return ""
}

// TestClientDoesNotPrintCredentials prints a *rp.Client (and a Client
// value, and a struct holding one) with every verb and through slog's text
// and JSON handlers: neither the client secret nor the private key appears,
// and issuer, client ID and auth method do.
func TestClientDoesNotPrintCredentials(t *testing.T) {
	t.Parallel()
	key := rsaKey(t)
	tests := []struct {
		name    string
		op      func(*oidctest.Config)
		cfg     func(*rp.Config)
		secrets []string
		method  rp.AuthMethod
	}{
		{"client secret", nil, nil, []string{oidctest.DefaultClientSecret}, rp.AuthClientSecretBasic},
		{"private key",
			func(c *oidctest.Config) {
				c.Clients = []oidctest.Client{{ID: "app", AuthMethod: string(rp.AuthPrivateKeyJWT), PublicKey: &key.PublicKey}}
			},
			func(c *rp.Config) { c.ClientID, c.ClientSecret, c.PrivateKey, c.PrivateKeyID = "app", "", key, "key-1" },
			[]string{key.D.String(), key.D.Text(16), key.Primes[0].String(), key.Primes[0].Text(16)},
			rp.AuthPrivateKeyJWT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, tc.op, tc.cfg)
			c := e.c
			args := map[string]any{
				"pointer":   c,
				"value":     *c,
				"in struct": struct{ C *rp.Client }{c},
				"in slice":  []*rp.Client{c},
			}
			for argName, arg := range args {
				for _, verb := range verbs {
					out := fmt.Sprintf(verb, arg)
					if s := leaks(out, tc.secrets...); s != "" {
						t.Errorf("%s of the client (%s) prints a credential: %s", verb, argName, out)
					}
				}
			}
			if got := fmt.Sprint((*rp.Client)(nil)); got != "<nil>" {
				t.Errorf("a nil *rp.Client prints %q", got)
			}
			for _, verb := range []string{"%v", "%+v", "%s", "%d", "%x"} {
				out := fmt.Sprintf(verb, c)
				for _, want := range []string{c.Issuer(), c.ClientID(), string(tc.method)} {
					if !strings.Contains(out, want) {
						t.Errorf("%s of the client = %s, want it to name %q", verb, out, want)
					}
				}
			}
			for _, h := range []struct {
				name string
				new  func(*bytes.Buffer) slog.Handler
			}{
				{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
				{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
			} {
				var buf bytes.Buffer
				log := slog.New(h.new(&buf))
				log.Info("client", "client", c, "value", *c, slog.Any("any", c))
				log.Info("printf", "str", fmt.Sprint(c))
				out := buf.String()
				if s := leaks(out, tc.secrets...); s != "" {
					t.Errorf("slog %s handler prints a credential: %s", h.name, out)
				}
				for _, want := range []string{"issuer", c.ClientID(), string(tc.method)} {
					if !strings.Contains(out, want) {
						t.Errorf("slog %s handler: %s, want it to name %q", h.name, out, want)
					}
				}
			}
		})
	}
}

// TestSecretFormatRedacts prints a Secret, and structs holding one, with
// every verb: the value never appears, and JSON still carries it.
func TestSecretFormatRedacts(t *testing.T) {
	t.Parallel()
	const value = "hunter2-very-secret-value"
	s := rp.Secret(value)
	type holder struct {
		Token rp.Secret
		N     int
	}
	args := map[string]any{
		"secret":           s,
		"pointer":          &s,
		"struct":           holder{Token: s, N: 1},
		"pointer-struct":   &holder{Token: s},
		"slice":            []rp.Secret{s, s},
		"map":              map[string]rp.Secret{"k": s},
		"tokens":           rp.Tokens{AccessToken: s, RefreshToken: s, IDToken: s},
		"anonymous struct": struct{ S any }{s},
	}
	for name, arg := range args {
		for _, verb := range verbs {
			if out := fmt.Sprintf(verb, arg); leaks(out, value) != "" {
				t.Errorf("%s of %s prints the secret: %s", verb, name, out)
			}
		}
	}
	for _, tc := range []struct{ verb, want string }{
		{"%v", "[redacted]"},
		{"%s", "[redacted]"},
		{"%d", "[redacted]"},
		{"%x", "[redacted]"},
		{"%q", `"[redacted]"`},
		{"%#v", `rp.Secret("[redacted]")`},
		{"%12s", "  [redacted]"},
		{"%-12v|", "[redacted]  |"},
	} {
		if got := fmt.Sprintf(tc.verb, s); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.verb, got, tc.want)
		}
	}
	if got := fmt.Sprintf("%v|%q|%d", rp.Secret(""), rp.Secret(""), rp.Secret("")); got != `|""|` {
		t.Errorf("empty secret prints %q", got)
	}
	// The session codec persists the real value.
	b, err := json.Marshal(holder{Token: s})
	if err != nil || !strings.Contains(string(b), value) {
		t.Fatalf("JSON %s, %v: want the real value", b, err)
	}
}
