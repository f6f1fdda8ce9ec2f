package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// config is the app's environment (see the README and the contract in
// docs): every variable has a default, so the app runs with none.
type config struct {
	Issuer        string   // OIDC_ISSUER; empty: embedded development provider
	ClientID      string   // OIDC_CLIENT_ID
	ClientSecret  string   // OIDC_CLIENT_SECRET
	Scopes        []string // OIDC_SCOPES
	AppURL        *url.URL // APP_URL
	ListenAddr    string   // LISTEN_ADDR
	SessionStore  string   // SESSION_STORE: memory or redis
	RedisURL      string   // REDIS_URL
	CookieSecrets [][]byte // COOKIE_SECRETS
}

func configFromEnv(getenv func(string) string) (*config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := &config{
		Issuer:       get("OIDC_ISSUER", ""),
		ClientID:     get("OIDC_CLIENT_ID", ""),
		ClientSecret: get("OIDC_CLIENT_SECRET", ""),
		Scopes:       strings.Fields(get("OIDC_SCOPES", "openid profile email offline_access")),
		SessionStore: get("SESSION_STORE", "memory"),
		RedisURL:     get("REDIS_URL", "redis://127.0.0.1:6379/0"),
	}
	appURL, err := url.Parse(get("APP_URL", "http://127.0.0.1:8080"))
	if err != nil || (appURL.Scheme != "http" && appURL.Scheme != "https") || appURL.Host == "" {
		return nil, fmt.Errorf("APP_URL must be an http(s) URL such as http://127.0.0.1:8080")
	}
	appURL.Path = strings.TrimSuffix(appURL.Path, "/")
	c.AppURL = appURL
	c.ListenAddr = get("LISTEN_ADDR", hostPort(appURL))
	if c.Issuer != "" && c.ClientID == "" {
		return nil, errors.New("OIDC_CLIENT_ID is required with OIDC_ISSUER")
	}
	switch c.SessionStore {
	case "memory", "redis":
	default:
		return nil, fmt.Errorf("SESSION_STORE must be memory or redis, not %q", c.SessionStore)
	}
	if s := getenv("COOKIE_SECRETS"); strings.TrimSpace(s) != "" {
		for _, secret := range strings.Split(s, ",") {
			secret = strings.TrimSpace(secret)
			if len(secret) < 32 {
				return nil, errors.New("each COOKIE_SECRETS entry must be at least 32 bytes")
			}
			c.CookieSecrets = append(c.CookieSecrets, []byte(secret))
		}
	}
	return c, nil
}

// hostPort returns the host:port of u, with the scheme's default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// url returns the app's URL for path.
func (c *config) url(path string) string { return c.AppURL.String() + path }
