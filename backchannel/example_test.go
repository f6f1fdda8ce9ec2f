package backchannel_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// A web app's receiver: the provider posts a logout token and the sessions
// of that provider session end in the app's store.
func Example() {
	ctx := context.Background()
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	client, err := rp.New(ctx, rp.Config{Issuer: op.Issuer(), ClientID: oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret, RedirectURL: "http://127.0.0.1:8080/callback"})
	if err != nil {
		log.Fatal(err)
	}
	store := session.NewMemoryStore(session.MemoryConfig{})
	s := &session.Session{Issuer: op.Issuer(), Subject: "alice", SID: "sid-42", Expiry: time.Now().Add(time.Hour)}
	store.Create(ctx, s)

	h, err := backchannel.New(backchannel.Config{Verifier: client, Sessions: store})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/backchannel-logout", h) // method-less: the handler answers 405 itself
	app := httptest.NewServer(mux)
	defer app.Close()

	token, _ := op.LogoutToken(oidctest.LogoutTokenOptions{SID: "sid-42"})
	resp, err := op.PostLogoutToken(ctx, app.URL+"/backchannel-logout", token)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	_, err = store.Get(ctx, s.ID)
	fmt.Println(resp.StatusCode, err)
	// Output:
	// 200 session: not found
}

// A backend service with its own session table uses OnLogout instead of a
// session store.
func ExampleConfig_onLogout() {
	ctx := context.Background()
	op, _ := oidctest.NewProvider(oidctest.Config{})
	defer op.Close()
	client, _ := rp.New(ctx, rp.Config{Issuer: op.Issuer(), ClientID: oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret, RedirectURL: "http://127.0.0.1:8080/callback"})
	h, _ := backchannel.New(backchannel.Config{
		Verifier: client,
		OnLogout: func(ctx context.Context, t *rp.LogoutToken) error {
			fmt.Println("revoke API sessions of sid", t.SID, "sub", t.Subject)
			return nil
		},
	})
	app := httptest.NewServer(h)
	defer app.Close()
	token, _ := op.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice", SID: "sid-7"})
	resp, _ := op.PostLogoutToken(ctx, app.URL, token)
	resp.Body.Close()
	// Output:
	// revoke API sessions of sid sid-7 sub alice
}
