package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/rpkit/rpkit/oidctest"
)

// config is the service's environment; every variable has a default, so the
// service runs with none.
type config struct {
	Issuer       string   // OIDC_ISSUER; empty: the development provider
	ClientID     string   // OIDC_CLIENT_ID
	ClientSecret string   // OIDC_CLIENT_SECRET
	AppURL       *url.URL // APP_URL, without a trailing slash
	ListenAddr   string   // LISTEN_ADDR
}

func configFromEnv(getenv func(string) string) (*config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := &config{Issuer: get("OIDC_ISSUER", "")}
	if c.Issuer == "" {
		// The development provider registers its default client.
		c.ClientID = get("OIDC_CLIENT_ID", oidctest.DefaultClientID)
		c.ClientSecret = get("OIDC_CLIENT_SECRET", oidctest.DefaultClientSecret)
	} else {
		c.ClientID = get("OIDC_CLIENT_ID", "")
		c.ClientSecret = get("OIDC_CLIENT_SECRET", "")
		if c.ClientID == "" {
			return nil, errors.New("OIDC_CLIENT_ID is required with OIDC_ISSUER")
		}
	}
	appURL, err := url.Parse(get("APP_URL", "http://127.0.0.1:8081"))
	if err != nil || (appURL.Scheme != "http" && appURL.Scheme != "https") || appURL.Host == "" ||
		appURL.User != nil || appURL.RawQuery != "" || appURL.Fragment != "" {
		return nil, fmt.Errorf("APP_URL must be an http(s) URL such as http://127.0.0.1:8081")
	}
	appURL.Path = strings.TrimSuffix(appURL.Path, "/")
	appURL.RawPath = ""
	c.AppURL = appURL
	c.ListenAddr = get("LISTEN_ADDR", hostPort(appURL))
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

// url returns the service's public URL for path.
func (c *config) url(path string) string { return c.AppURL.String() + path }
