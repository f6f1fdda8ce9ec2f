package oidctest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strings"

	"github.com/rpkit/rpkit/oidctest"
)

// Example logs the default user in at the default client without a browser
// and redeems the code at the token endpoint.
func Example() {
	p, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	const redirectURI = "http://127.0.0.1:8080/callback" // any loopback URL is accepted
	auth := url.Values{
		"response_type": {"code"},
		"client_id":     {oidctest.DefaultClientID},
		"redirect_uri":  {redirectURI},
		"scope":         {"openid email"},
		"state":         {"xyz"},
	}
	params, err := p.Authorize(context.Background(), p.URL("/authorize?"+auth.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", params.Get("state"))

	form := url.Values{"grant_type": {"authorization_code"}, "code": {params.Get("code")}, "redirect_uri": {redirectURI}}
	req, err := http.NewRequest(http.MethodPost, p.URL("/token"), strings.NewReader(form.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(oidctest.DefaultClientID, oidctest.DefaultClientSecret)
	resp, err := p.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		TokenType string `json:"token_type"`
		ExpiresIn int    `json:"expires_in"`
		IDToken   string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status, tok.TokenType, tok.ExpiresIn, tok.IDToken != "")
	fmt.Println("sessions:", len(p.Sessions()), "subject:", p.Sessions()[0].Subject)
	// Output:
	// state: xyz
	// 200 OK Bearer 3600 true
	// sessions: 1 subject: alice
}

// ExampleProvider_SetTokenHook mints an unsigned logout token, to prove
// that a relying party refuses alg "none".
func ExampleProvider_SetTokenHook() {
	p, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	p.SetTokenHook(oidctest.LogoutToken, func(m *oidctest.Mint) {
		m.Header = map[string]any{"alg": "none"}
	})
	tok, err := p.LogoutToken(oidctest.LogoutTokenOptions{SID: "sid-1"})
	if err != nil {
		log.Fatal(err)
	}
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(header), strings.HasSuffix(tok, "."))
	// Output:
	// {"alg":"none"} true
}
