package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
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

	// The development provider, when Issuer is empty.
	DevProviderAddr   string        // DEV_PROVIDER_ADDR: where instances share it
	DevAccessTokenTTL time.Duration // DEV_ACCESS_TOKEN_TTL
	DebugMetrics      bool          // DEBUG_METRICS=1: /debug/metrics with a real provider too
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
	if appURL.Path != "" || appURL.RawQuery != "" || appURL.Fragment != "" {
		// Serving under a path prefix is not supported: the routes would be
		// half under it (the provider's redirects) and half not.
		return nil, fmt.Errorf("APP_URL must be an origin without a path, such as http://127.0.0.1:8080 (got %q); serving under a path is not supported", appURL.String())
	}
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
	c.DevProviderAddr = get("DEV_PROVIDER_ADDR", "127.0.0.1:8090")
	if host, port, err := net.SplitHostPort(c.DevProviderAddr); err != nil || !isLoopbackIP(host) || port == "" {
		return nil, fmt.Errorf("DEV_PROVIDER_ADDR must be a loopback IP and port such as 127.0.0.1:8090 (port 0: a provider of this instance's own), not %q", c.DevProviderAddr)
	}
	ttl, err := time.ParseDuration(get("DEV_ACCESS_TOKEN_TTL", "2m"))
	if err != nil || ttl <= 0 {
		return nil, fmt.Errorf("DEV_ACCESS_TOKEN_TTL must be a positive duration such as 2m or 30s, not %q", getenv("DEV_ACCESS_TOKEN_TTL"))
	}
	c.DevAccessTokenTTL = ttl
	switch v := get("DEBUG_METRICS", ""); v {
	case "", "0", "false":
	case "1", "true":
		c.DebugMetrics = true
	default:
		return nil, fmt.Errorf("DEBUG_METRICS must be 1 or 0, not %q", v)
	}
	if s := getenv("COOKIE_SECRETS"); strings.TrimSpace(s) != "" {
		for i, entry := range strings.Split(s, ",") {
			secret, kind := decodeSecret(strings.TrimSpace(entry))
			if len(secret) < 32 {
				return nil, fmt.Errorf("COOKIE_SECRETS entry %d is %d bytes (%s); each needs at least 32: generate one with `openssl rand -hex 32`", i+1, len(secret), kind)
			}
			c.CookieSecrets = append(c.CookieSecrets, secret)
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

// isLoopbackIP reports whether host is a loopback IP address: the
// development provider listens on nothing else, and its issuer is its
// address, so a name such as localhost (which may resolve to ::1 or
// 127.0.0.1) is not accepted.
func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// url returns the app's URL for path.
func (c *config) url(path string) string { return c.AppURL.String() + path }

// decodeSecret reads a COOKIE_SECRETS entry: hex (as `openssl rand -hex 32`
// prints), padded base64 (`openssl rand -base64 32`), or else the text
// itself. It returns the bytes and which form it read.
func decodeSecret(s string) ([]byte, string) {
	if len(s)%2 == 0 && len(s) > 0 && strings.Trim(s, "0123456789abcdefABCDEF") == "" {
		if b, err := hex.DecodeString(s); err == nil {
			return b, "hex"
		}
	}
	if strings.HasSuffix(s, "=") || strings.ContainsAny(s, "+/") {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b, "base64"
		}
	}
	return []byte(s), "text"
}
