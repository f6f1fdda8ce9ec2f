package middleware_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"

	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// An application with a public home page and a page that needs a login,
// against oidctest's in-process provider.
func Example() {
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	appURL := "http://" + ln.Addr().String()

	client, err := rp.New(context.Background(), rp.Config{
		Issuer:                op.Issuer(),
		ClientID:              oidctest.DefaultClientID,
		ClientSecret:          oidctest.DefaultClientSecret,
		RedirectURL:           appURL + "/callback",
		PostLogoutRedirectURL: appURL + "/",
	})
	if err != nil {
		log.Fatal(err)
	}
	// Zero values: in-memory store, random cookie secret, /login,
	// /callback and /logout.
	m, err := middleware.New(middleware.Config{Client: client})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	// The login, callback and logout routes at m.Paths(); pass the
	// back- and front-channel receivers here too.
	if err := m.Mount(mux, middleware.Receivers{}); err != nil {
		log.Fatal(err)
	}
	mux.Handle("GET /{$}", m.PostLogoutLanding(m.OptionalAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "home")
	}))))
	mux.Handle("GET /private", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := middleware.SessionFromContext(r.Context())
		fmt.Fprintln(w, "hello", s.Subject)
	})))
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	// A browser asks for the private page: it goes through /login, the
	// provider and /callback, and comes back logged in.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(appURL + "/private")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.Request.URL.Path, ": ", string(body))
	// Output:
	// /private: hello alice
}
