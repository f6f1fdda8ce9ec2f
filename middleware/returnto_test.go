package middleware

import (
	"net/url"
	"testing"
)

func TestSafeReturnTo(t *testing.T) {
	for p, want := range map[string]bool{
		"/":                      true,
		"/me":                    true,
		"/a/b?c=d&e=%2F#frag":    true,
		"/path//double":          true,
		"":                       false,
		"me":                     false,
		"//evil.example":         false,
		"//evil.example/me":      false,
		"/\\evil.example":        false,
		"/\\/evil.example":       false,
		"\\\\evil.example":       false,
		"https://evil.example":   false,
		"javascript:alert(1)":    false,
		"/\t/evil.example":       false,
		"/\n/evil.example":       false,
		"/%2F/evil.example":      false,
		"/%5cevil.example":       false,
		"/me\\..\\..":            false,
		"http:/evil.example":     false,
		"/" + string(rune(0x7f)): false,
	} {
		if got := safeReturnTo(p); got != want {
			t.Errorf("safeReturnTo(%q) = %v, want %v", p, got, want)
		}
	}
}

func FuzzSafeReturnTo(f *testing.F) {
	f.Add("/me")
	f.Add("//evil")
	f.Fuzz(func(t *testing.T, p string) {
		if !safeReturnTo(p) {
			return
		}
		// Whatever is accepted must resolve to the same origin.
		base := mustParse(t, "https://app.example/x")
		ref := mustParse(t, p)
		if got := base.ResolveReference(ref); got.Host != "app.example" || got.Scheme != "https" {
			t.Fatalf("%q resolves to %s", p, got)
		}
	})
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Skip("unparsable")
	}
	return u
}
