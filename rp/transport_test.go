package rp

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/internal/eventtest"
)

// answer is a RoundTripper that answers every request with a fixed body,
// or fails.
type answer struct {
	body string
	err  error
}

func (a answer) RoundTrip(*http.Request) (*http.Response, error) {
	if a.err != nil {
		return nil, a.err
	}
	return &http.Response{StatusCode: 201, Body: io.NopCloser(strings.NewReader(a.body)), Header: http.Header{}}, nil
}

// TestProviderCallOnce: whatever the caller does with the body (read it to
// its end and close it, close it twice, close it unread, fail reading it),
// one request is one event, made when the answer has been read.
func TestProviderCallOnce(t *testing.T) {
	t.Parallel()
	readFails := errors.New("connection reset")
	tests := []struct {
		name    string
		base    http.RoundTripper
		use     func(body io.ReadCloser)
		status  int
		wantErr error
	}{
		{"read to EOF, then closed twice", answer{body: "hello"}, func(b io.ReadCloser) {
			io.ReadAll(b)
			b.Close()
			b.Close()
		}, 201, nil},
		{"closed unread, twice", answer{body: "hello"}, func(b io.ReadCloser) { b.Close(); b.Close() }, 201, nil},
		{"read fails, then closed", failingBody{readFails}, nil, 201, readFails},
		{"no answer", answer{err: readFails}, nil, 0, readFails},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &eventtest.Recorder{}
			tr := &deadlineTransport{base: tc.base, timeout: time.Second, observer: rec, issuer: "https://op.example",
				name: func(u *url.URL) string {
					return nameOf(endpointList("https://op.example", &Metadata{TokenEndpoint: "https://op.example/token"}), u)
				}}
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://op.example/token?x=1", nil)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				if n := len(rec.Events()); n != 0 {
					t.Fatalf("%d events before the body was read", n)
				}
				use := tc.use
				if use == nil {
					use = func(b io.ReadCloser) { io.ReadAll(b); b.Close() }
				}
				use(resp.Body)
			}
			evs := rec.Events()
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1: %+v", len(evs), evs)
			}
			ev := evs[0]
			if ev.Kind != event.ProviderCall || ev.Endpoint != "token" || ev.Status != tc.status ||
				!errors.Is(ev.Err, tc.wantErr) || (tc.wantErr == nil && ev.Err != nil) || ev.Issuer != "https://op.example" || ev.Duration <= 0 {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

// failingBody answers with a body whose reading fails.
type failingBody struct{ err error }

func (f failingBody) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 201, Body: io.NopCloser(errReader{f.err}), Header: http.Header{}}, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestEndpointNames: requests are named by endpoint, whatever their query,
// and "other" when they go anywhere else.
func TestEndpointNames(t *testing.T) {
	t.Parallel()
	m := &Metadata{
		TokenEndpoint: "https://op.example/oauth2/token", JWKSURI: "https://keys.example/jwks?tenant=a",
		UserInfoEndpoint: "https://op.example/userinfo", RevocationEndpoint: "https://op.example/revoke",
		IntrospectionEndpoint: "https://op.example/introspect",
	}
	list := endpointList("https://op.example/tenant/", m)
	for raw, want := range map[string]string{
		"https://op.example/tenant/.well-known/openid-configuration": "discovery",
		"https://OP.example/oauth2/token":                            "token",
		"https://keys.example/jwks?tenant=b":                         "jwks",
		"https://op.example/userinfo":                                "userinfo",
		"https://op.example/revoke":                                  "revocation",
		"https://op.example/introspect":                              "introspection",
		"https://op.example/oauth2/token/x":                          "other",
		"http://op.example/oauth2/token":                             "other",
		"https://elsewhere.example/userinfo":                         "other",
	} {
		u, _ := url.Parse(raw)
		if got := nameOf(list, u); got != want {
			t.Errorf("%s is %q, want %q", raw, got, want)
		}
	}
}
