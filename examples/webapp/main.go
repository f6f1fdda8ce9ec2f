// Command webapp is rpkit's example browser application: log in with
// OpenID Connect, see the profile, stay logged in through refreshes, log
// out — and, with the embedded development provider, watch back-channel and
// front-channel logouts end the session.
//
//	go run ./examples/webapp
//
// With no environment it starts an in-process development provider and
// listens on http://127.0.0.1:8080. Point it at a real provider with
// OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET; see the README for
// every variable.
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
	// Debug: rpkit logs what ends a session (a back- or front-channel
	// logout) at Debug, and this example is there to show the lifecycle.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := run(log, os.Getenv); err != nil {
		log.Error("webapp stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, getenv func(string) string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := configFromEnv(getenv)
	if err != nil {
		return err
	}
	// Listen first: the embedded provider registers the app's URLs.
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s is in use: stop what listens there, or set LISTEN_ADDR (and APP_URL's port) to a free address", cfg.ListenAddr)
	}
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer a.close()
	handler, err := a.handler()
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "\nrpkit webapp: open %s in a browser\n\n", cfg.AppURL)
	log.Info("listening", "addr", ln.Addr().String(), "app_url", cfg.AppURL.String(), "issuer", cfg.Issuer, "store", cfg.SessionStore)
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
