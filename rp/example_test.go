package rp_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"strings"
	"time"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// The whole code flow against oidctest's in-process provider: start a login,
// let the provider authorize, complete the callback.
func Example() {
	ctx := context.Background()
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	client, err := rp.New(ctx, rp.Config{
		Issuer:       op.Issuer(),
		ClientID:     oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret,
		RedirectURL:  "http://127.0.0.1:8080/callback",
		Scopes:       []string{"profile", "email"},
	})
	if err != nil {
		log.Fatal(err)
	}

	// In a web app: keep st in a short-lived encrypted cookie and redirect
	// the browser to authURL.
	authURL, st, err := client.StartLogin(rp.WithReturnTo("/me"))
	if err != nil {
		log.Fatal(err)
	}
	// The browser comes back to /callback with these parameters.
	params, err := op.Authorize(ctx, authURL)
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := client.Callback(ctx, st, params)
	if err != nil {
		log.Fatal(err)
	}
	var profile rp.StandardClaims
	if err := tokens.Claims.Decode(&profile); err != nil {
		log.Fatal(err)
	}
	fmt.Println(tokens.Claims.Subject, profile.Email, st.ReturnTo)
	fmt.Println(tokens.AccessToken) // secrets never print
	// Output:
	// alice alice@example.com /me
	// [redacted]
}

func ExampleClient_Callback_errors() {
	ctx := context.Background()
	op, _ := oidctest.NewProvider(oidctest.Config{})
	defer op.Close()
	client, err := rp.New(ctx, rp.Config{
		Issuer: op.Issuer(), ClientID: oidctest.DefaultClientID, ClientSecret: oidctest.DefaultClientSecret,
		RedirectURL: "http://127.0.0.1:8080/callback",
	})
	if err != nil {
		log.Fatal(err)
	}
	_, st, _ := client.StartLogin()

	// A callback that does not belong to this login attempt.
	_, err = client.Callback(ctx, st, url.Values{"state": {"forged"}, "code": {"x"}})
	fmt.Println(errors.Is(err, rp.ErrStateMismatch))

	// The user refused consent at the provider.
	_, err = client.Callback(ctx, st, url.Values{"state": {st.State}, "error": {"access_denied"}})
	var pe *rp.ProviderError
	if errors.As(err, &pe) {
		fmt.Println(pe.Endpoint, pe.Code)
	}
	// Output:
	// true
	// authorization access_denied
}

func ExampleClient_EndSessionURL() {
	ctx := context.Background()
	op, _ := oidctest.NewProvider(oidctest.Config{})
	defer op.Close()
	client, err := rp.New(ctx, rp.Config{
		Issuer: op.Issuer(), ClientID: oidctest.DefaultClientID, ClientSecret: oidctest.DefaultClientSecret,
		PostLogoutRedirectURL: "http://127.0.0.1:8080/",
	})
	if err != nil {
		log.Fatal(err)
	}
	u, err := client.EndSessionURL(rp.EndSessionParams{IDTokenHint: "eyJ...", State: "xyz"})
	if errors.Is(err, rp.ErrNoEndSession) {
		fmt.Println("local logout only")
		return
	}
	fmt.Println(strings.TrimPrefix(u, op.Issuer()))
	// Output:
	// /end_session?client_id=rpkit-test-client&id_token_hint=eyJ...&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F&state=xyz
}

// A handler that answers "try again later" tells the sender when: the
// instant the key set can be fetched again, in whole seconds.
func ExampleRetryAfterSeconds() {
	err := fmt.Errorf("verifying: %w", &rp.KeyRetryError{
		RetryAfter: 6500 * time.Millisecond,
		Err:        rp.ErrKeyRefetchLimited,
	})
	if secs, ok := rp.RetryAfterSeconds(err); ok {
		fmt.Println("Retry-After:", secs, errors.Is(err, rp.ErrKeyRefetchLimited))
	}
	// Output: Retry-After: 7 true
}
