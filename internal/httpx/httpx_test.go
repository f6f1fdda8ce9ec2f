package httpx

import (
	"net/http/httptest"
	"testing"
)

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, 400, "invalid_request", "no <script>")
	if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	if got, want := rec.Body.String(), `{"error":"invalid_request","error_description":"no \u003cscript\u003e"}`+"\n"; got != want {
		t.Fatalf("body %q, want %q", got, want)
	}
}
