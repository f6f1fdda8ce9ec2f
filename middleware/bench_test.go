package middleware_test

import (
	"net/http"
	"testing"
)

// BenchmarkRequireAuth measures an authenticated request in steady state
// (cookie decoding, one store lookup, no refresh), over loopback HTTP.
func BenchmarkRequireAuth(b *testing.B) {
	a := newApp(b, options{})
	br := newBrowser(b)
	a.login(b, br, "")
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("GET", a.srv.URL+"/me", nil)
		req.Header.Set("Accept", "application/json")
		resp, err := br.single.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
