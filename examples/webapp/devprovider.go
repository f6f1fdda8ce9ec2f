package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/rpkit/rpkit/oidctest"
)

// The development provider (no OIDC_ISSUER) is oidctest, run in-process by
// the first instance on DEV_PROVIDER_ADDR (default 127.0.0.1:8090). An
// instance that finds that address already served by a development provider
// that knows its client uses that one instead of starting its own: every
// instance of a two-instance setup then has the same issuer, signing keys
// and client, and any of them can refresh a session that another one made.
// (With a provider each, B refreshed A's sessions at B's provider, which
// answered invalid_grant and so ended them.)
//
// The client is one client, "rpkit-webapp", for every instance. Its secret
// is derived from the first COOKIE_SECRETS entry, which instances sharing a
// store share anyway to read each other's cookies; without COOKIE_SECRETS
// it is random, and a second instance, unable to use the first one's
// provider, starts one of its own on a free port. The provider accepts any
// loopback http redirect URI for it, so instances on other ports need no
// registration; an instance whose APP_URL is not on loopback registers its
// exact URLs. The back- and front-channel logout URIs are those of the
// instance that serves the provider, whose profile page also carries the
// buttons that make the provider end a session.

// devClientID is the development provider's client, the same for every
// instance that shares it.
const devClientID = "rpkit-webapp"

// startDevProvider serves the development provider on DEV_PROVIDER_ADDR,
// or uses the one another instance serves there, and sets the issuer and
// client credentials of the configuration.
func (a *app) startDevProvider(ctx context.Context) error {
	a.cfg.ClientID = devClientID
	a.cfg.ClientSecret = devClientSecret(a.cfg.CookieSecrets)
	host, port, _ := net.SplitHostPort(a.cfg.DevProviderAddr) // checked by configFromEnv
	op, err := a.newDevProvider(a.cfg.DevProviderAddr)
	if errors.Is(err, syscall.EADDRINUSE) {
		issuer := "http://" + net.JoinHostPort(host, port)
		perr := probeDevProvider(ctx, issuer, a.cfg.ClientID, a.cfg.ClientSecret)
		if perr == nil {
			a.cfg.Issuer, a.devIssuer = issuer, issuer
			a.log.Info("no OIDC_ISSUER set: using the development provider that another instance serves on DEV_PROVIDER_ADDR", "issuer", issuer, "user", "alice")
			return nil
		}
		a.log.Warn("DEV_PROVIDER_ADDR is in use, but not by a development provider this instance can use: starting one of its own on a free port, which other instances do not share",
			"addr", a.cfg.DevProviderAddr, "reason", perr.Error())
		op, err = a.newDevProvider(net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return fmt.Errorf("starting the development provider on %s (DEV_PROVIDER_ADDR): %w", a.cfg.DevProviderAddr, err)
	}
	a.dev = op
	a.cfg.Issuer, a.devIssuer = op.Issuer(), op.Issuer()
	a.closers = append(a.closers, op.Close)
	msg := "no OIDC_ISSUER set: started the development provider; instances with the same DEV_PROVIDER_ADDR and COOKIE_SECRETS use it too"
	if port == "0" || !strings.HasSuffix(op.Issuer(), ":"+port) {
		msg = "no OIDC_ISSUER set: started a development provider of this instance's own"
	}
	a.log.Info(msg, "issuer", op.Issuer(), "user", "alice", "access_token_ttl", a.cfg.DevAccessTokenTTL.String())
	return nil
}

// newDevProvider starts oidctest on addr with this app's client and the
// demo user.
func (a *app) newDevProvider(addr string) (*oidctest.Provider, error) {
	c := oidctest.Client{
		ID:                    a.cfg.ClientID,
		Secret:                a.cfg.ClientSecret,
		BackchannelLogoutURI:  a.cfg.url("/backchannel-logout"),
		FrontchannelLogoutURI: a.cfg.url("/frontchannel-logout"),
	}
	if !onLoopback(a.cfg.AppURL) {
		// Only loopback URLs are accepted without registration.
		c.RedirectURIs = []string{a.cfg.url("/callback")}
		c.PostLogoutRedirectURIs = []string{a.cfg.url("/")}
	}
	return oidctest.NewProvider(oidctest.Config{
		Addr:    addr,
		Clients: []oidctest.Client{c},
		Users: []oidctest.User{{Subject: "alice", Claims: map[string]any{
			"name": "Alice Example", "given_name": "Alice", "email": "alice@example.com", "email_verified": true,
		}}},
		AccessTokenTTL: a.cfg.DevAccessTokenTTL, // short, so a refresh can be watched
	})
}

// onLoopback reports whether u is an http URL on a loopback host, which
// the development provider accepts as a redirect URI of its client without
// registration.
func onLoopback(u *url.URL) bool {
	return u.Scheme == "http" && (u.Hostname() == "localhost" || isLoopbackIP(u.Hostname()))
}

// devClientSecret is the development client's secret: derived from the
// newest cookie secret, so that instances that share COOKIE_SECRETS share
// it, else random.
func devClientSecret(cookieSecrets [][]byte) string {
	if len(cookieSecrets) == 0 {
		return rand.Text() + rand.Text()
	}
	mac := hmac.New(sha256.New, cookieSecrets[0])
	mac.Write([]byte("rpkit examples/webapp: the development provider's client secret"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// probeDevProvider reports why the provider at issuer cannot serve as this
// instance's development provider, or nil when it can: its discovery must
// name that issuer, and its token endpoint must accept the client's
// credentials (a refresh grant with a token that names nothing answers
// invalid_grant to a client that authenticated, invalid_client to one that
// did not).
func probeDevProvider(ctx context.Context, issuer, clientID, secret string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, issuer+"/.well-known/openid-configuration", nil)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("its discovery: %w", err)
	}
	var doc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc)
	resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusOK || err != nil:
		return fmt.Errorf("it is no OpenID provider (discovery answered %s)", resp.Status)
	case doc.Issuer != issuer || !strings.HasPrefix(doc.TokenEndpoint, issuer+"/"):
		return fmt.Errorf("it is the provider of issuer %q, not %q", doc.Issuer, issuer)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"probe-" + rand.Text()}}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, doc.TokenEndpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err = c.Do(req)
	if err != nil {
		return fmt.Errorf("its token endpoint: %w", err)
	}
	var answer struct {
		Error string `json:"error"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer)
	resp.Body.Close()
	switch answer.Error {
	case "invalid_grant":
		return nil
	case "invalid_client":
		return errors.New("it does not know this instance's client: another instance with other COOKIE_SECRETS (or none) started it")
	}
	return fmt.Errorf("its token endpoint answered %s %q to the client check", resp.Status, answer.Error)
}
