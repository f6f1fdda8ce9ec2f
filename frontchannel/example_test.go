package frontchannel_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/session"
)

// The provider's logout page loads the app's front-channel URL in an
// iframe; the session with that sid ends without any cookie.
func Example() {
	ctx := context.Background()
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	store := session.NewMemoryStore(session.MemoryConfig{})
	s := &session.Session{Issuer: op.Issuer(), Subject: "alice", SID: "sid-42", Expiry: time.Now().Add(time.Hour)}
	store.Create(ctx, s)

	h, err := frontchannel.New(frontchannel.Config{Issuer: op.Issuer(), Sessions: store})
	if err != nil {
		log.Fatal(err)
	}
	app := httptest.NewServer(h)
	defer app.Close()
	op.AddClient(oidctest.Client{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret,
		FrontchannelLogoutURI: app.URL + "/frontchannel-logout"})

	u, _ := op.FrontchannelLogoutURL(oidctest.DefaultClientID, "sid-42")
	resp, err := http.Get(u) // no cookie: third-party cookies are blocked in the iframe
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	_, err = store.Get(ctx, s.ID)
	fmt.Println(resp.StatusCode, resp.Header.Get("Cache-Control"), err)
	// Output:
	// 200 no-cache, no-store session: not found
}
