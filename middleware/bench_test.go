package middleware_test

import (
	"net/http"
	"net/http/httptest"
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

// BenchmarkRequireAuthInProcess measures the same without the network: a
// recorded request through RequireAuth to a handler that does nothing,
// next to the bare handler (impl=bare), so that the difference is the
// middleware's cost per authenticated request.
func BenchmarkRequireAuthInProcess(b *testing.B) {
	a := newApp(b, options{})
	br := newBrowser(b)
	a.login(b, br, "")
	req := httptest.NewRequest("GET", a.srv.URL+"/private", nil)
	for _, c := range a.cookies(br) {
		req.AddCookie(c)
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, impl := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"rpkit", a.m.RequireAuth(bare)}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				impl.h.ServeHTTP(w, req)
				if w.Code != http.StatusNoContent {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
