// Command backend is rpkit's example backend service: an API with no
// browser and its own session table, which receives OpenID Connect
// Back-Channel Logout 1.0 posts and revokes the API sessions they name.
//
// It shows the standalone use of package backchannel: a
// [github.com/rpkit/rpkit/backchannel.Handler] whose Verifier is an
// [github.com/rpkit/rpkit/rp.Client] and whose OnLogout callback revokes
// sessions in the service's own table — no session.Store.
// The table keys API sessions by the provider's session ID (sid) and
// subject, so a logout token finds its sessions without a scan: by (iss,
// sid) when the token has a sid, else every session of (iss, sub), the rule
// package backchannel applies to a session.Store.
//
//	go run ./examples/backend
//
// With no environment it starts an in-process development provider
// (oidctest) whose client has APP_URL/backchannel-logout registered as its
// back-channel logout URI, prints its issuer, and listens on
// http://127.0.0.1:8081. Then try:
//
//	# API sessions: how the service learns of a session is up to it; here it is told.
//	curl -s -H 'Content-Type: application/json' -d '{"sub":"alice","sid":"A"}' http://127.0.0.1:8081/sessions
//	curl -s -H 'Content-Type: application/json' -d '{"sub":"alice","sid":"B"}' http://127.0.0.1:8081/sessions
//	curl -s -H 'Content-Type: application/json' -d '{"sub":"bob","sid":"C"}' http://127.0.0.1:8081/sessions
//	curl -s http://127.0.0.1:8081/sessions
//
//	# The development provider posts a logout token for sid A: alice's session A ends.
//	curl -si -X POST 'http://127.0.0.1:8081/dev/logout?sid=A'
//	curl -s http://127.0.0.1:8081/sessions
//
//	# A token with only a sub ends every session of that subject.
//	curl -si -X POST 'http://127.0.0.1:8081/dev/logout?sub=alice'
//	curl -s http://127.0.0.1:8081/sessions
//
//	# Anything not signed by the provider is refused with 400.
//	curl -si -d 'logout_token=eyJhbGciOiJub25lIn0.e30.' http://127.0.0.1:8081/backchannel-logout
//
// With a real provider, register APP_URL/backchannel-logout as the client's
// backchannel_logout_uri (with backchannel_logout_session_required, so
// tokens carry a sid), then:
//
//	OIDC_ISSUER=https://op.example.com OIDC_CLIENT_ID=my-api OIDC_CLIENT_SECRET=… \
//	APP_URL=https://api.example.com go run ./examples/backend
//
// Environment: OIDC_ISSUER (empty: the development provider),
// OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (the development provider's by
// default; OIDC_CLIENT_ID is required with OIDC_ISSUER), APP_URL (default
// http://127.0.0.1:8081), LISTEN_ADDR (default: host:port of APP_URL).
//
// Routes:
//
//	POST /backchannel-logout  the Back-Channel Logout 1.0 endpoint (form post of logout_token)
//	POST /sessions            create an API session from {"sub": "…", "sid": "…"}; 201 {"id": "…"}
//	GET  /sessions            list the API sessions
//	GET  /sessions/{id}       one API session, or 404
//	DELETE /session/token     sign out a client holding a refresh token (JSON {"refresh_token": "…"}):
//	                          the token is revoked, the API sessions of its login (by sid, else subject)
//	                          end, and {"data": <end-session URL or null>, "code": 0, "msg": ""} answers;
//	                          failures answer {"data": null, "code": <status>, "msg", "correlation_id"}
//	GET  /healthz             200
//	POST /dev/logout?sid=…    development provider only: post a logout token for sid (and/or sub)
//
// The /sessions routes are demonstration stand-ins with no authentication
// of their own; a real service opens API sessions from tokens it verified
// and never lists them to anyone who asks.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, os.Getenv); err != nil {
		log.Error("backend stopped", "error", err)
		os.Exit(1)
	}
}

// run reads the configuration from getenv, starts the service and serves
// until ctx is done, then shuts down gracefully.
func run(ctx context.Context, log *slog.Logger, getenv func(string) string) error {
	cfg, err := configFromEnv(getenv)
	if err != nil {
		return err
	}
	// Listen first: the development provider posts to APP_URL.
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	s, err := newService(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer s.close()
	if s.dev != nil {
		fmt.Fprintf(os.Stderr, "\nrpkit backend: development provider at %s\n", cfg.Issuer)
	}
	fmt.Fprintf(os.Stderr, "rpkit backend: back-channel logout endpoint %s\n\n", cfg.url("/backchannel-logout"))
	log.Info("listening", "addr", ln.Addr().String(), "app_url", cfg.AppURL.String(), "issuer", cfg.Issuer, "client_id", cfg.ClientID)
	return serve(ctx, ln, s.handler())
}

// serve serves h on ln until ctx is done, then shuts the server down,
// letting requests in progress finish (up to five seconds).
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
