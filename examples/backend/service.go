package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// maxSessionBody caps the body of POST /sessions.
const maxSessionBody = 16 << 10

// service is the example backend: the provider client, the session table
// and the back-channel logout endpoint that revokes from it.
type service struct {
	cfg     *config
	log     *slog.Logger
	dev     *oidctest.Provider // nil with a real provider
	client  *rp.Client
	table   *table
	logout  *backchannel.Handler
	closers []func()
}

func newService(ctx context.Context, cfg *config, log *slog.Logger) (*service, error) {
	s := &service{cfg: cfg, log: log, table: newTable(nil)}
	if cfg.Issuer == "" {
		if err := s.startDevProvider(); err != nil {
			return nil, err
		}
	}
	discovery, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	client, err := rp.New(discovery, rp.Config{
		Issuer:       cfg.Issuer,
		ClientID:     cfg.ClientID,
		ClientSecret: rp.Secret(cfg.ClientSecret),
		SigningAlgs:  []string{"RS256", "ES256", "PS256"},
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("connecting to the provider %s: %w", cfg.Issuer, err)
	}
	s.client = client
	// Standalone back-channel logout: no session.Store, the service's own
	// table through OnLogout. Replays are refused by the default in-memory
	// cache (one process; the Redis store's Seen and Done across instances).
	s.logout, err = backchannel.New(backchannel.Config{
		Verifier: client,
		OnLogout: s.onLogout,
		Logger:   log,
	})
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// startDevProvider runs oidctest in-process as the development provider,
// with this service's back-channel endpoint registered for its client.
func (s *service) startDevProvider() error {
	op, err := oidctest.NewProvider(oidctest.Config{
		Clients: []oidctest.Client{{
			ID:                   s.cfg.ClientID,
			Secret:               s.cfg.ClientSecret,
			BackchannelLogoutURI: s.cfg.url("/backchannel-logout"),
		}},
	})
	if err != nil {
		return fmt.Errorf("starting the development provider: %w", err)
	}
	s.dev = op
	s.cfg.Issuer = op.Issuer()
	s.closers = append(s.closers, op.Close)
	s.log.Info("no OIDC_ISSUER set: started the development provider", "issuer", op.Issuer(), "client_id", s.cfg.ClientID)
	return nil
}

func (s *service) close() {
	for _, c := range slices.Backward(s.closers) {
		c()
	}
}

// onLogout is the back-channel handler's OnLogout: the token is verified
// and fresh; revoke the API sessions it names.
func (s *service) onLogout(ctx context.Context, t *rp.LogoutToken) error {
	n := s.table.revoke(t.Issuer, t.SID, t.Subject)
	// The token logs its iss, sub, jti and a hash of its sid: a sid in a
	// log would let its readers end that session at a front-channel
	// endpoint.
	s.log.LogAttrs(ctx, slog.LevelInfo, "back-channel logout: API sessions revoked",
		slog.Any("token", t), slog.Int("revoked", n))
	return nil
}

// handler returns the service's routes.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	// Method-less: the handler answers other methods itself (405 with
	// Allow and Cache-Control: no-store), where a "POST /backchannel-logout"
	// pattern would leave them to ServeMux's plain-text 405.
	mux.Handle("/backchannel-logout", s.logout)
	mux.HandleFunc("POST /sessions", s.createSession)
	mux.HandleFunc("GET /sessions", s.listSessions)
	mux.HandleFunc("GET /sessions/{id}", s.getSession)
	mux.HandleFunc("DELETE /session/token", s.signOut)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	if s.dev != nil {
		mux.HandleFunc("POST /dev/logout", s.devLogout)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

// createSession is POST /sessions: it opens an API session for
// {"sub": …, "sid": …}, a stand-in for however the service learns of a
// session (a token exchange, an introspected access token, …).
func (s *service) createSession(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSessionBody)
	sub, sid, err := decodeSessionRequest(r.Body)
	if err != nil {
		if tooBig(err) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", maxSessionBody))
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sess := s.table.create(s.cfg.Issuer, sub, sid)
	s.log.Info("API session created", "sub", sub, "with_sid", sid != "") // never the sid: see onLogout
	w.Header().Set("Location", "/sessions/"+sess.ID)
	writeJSON(w, http.StatusCreated, map[string]string{"id": sess.ID})
}

// decodeSessionRequest reads {"sub": string, "sid": string}: a JSON object
// with no other members and nothing after it; sid is required, sub
// optional. Errors describe the rule broken without echoing the input.
func decodeSessionRequest(body io.Reader) (sub, sid string, err error) {
	const shape = `body must be a JSON object {"sub": string, "sid": string}`
	var in map[string]json.RawMessage
	dec := json.NewDecoder(body)
	if err := dec.Decode(&in); err != nil {
		if tooBig(err) {
			return "", "", err
		}
		return "", "", errors.New(shape)
	}
	if _, err := dec.Token(); err != io.EOF {
		if tooBig(err) {
			return "", "", err
		}
		return "", "", errors.New(shape + ", with nothing after it")
	}
	if in == nil {
		return "", "", errors.New(shape)
	}
	for k := range in {
		if k != "sub" && k != "sid" {
			return "", "", errors.New(shape + ": unknown member")
		}
	}
	str := func(name string) (string, error) {
		raw, ok := in[name]
		if !ok {
			return "", nil
		}
		var v string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
			return "", fmt.Errorf("%s must be a string", name)
		}
		return v, nil
	}
	if sub, err = str("sub"); err != nil {
		return "", "", err
	}
	if sid, err = str("sid"); err != nil {
		return "", "", err
	}
	if sid == "" {
		return "", "", errors.New("sid is required")
	}
	return sub, sid, nil
}

// sessionView is a session as GET /sessions lists it.
type sessionView struct {
	ID  string `json:"id"`
	Sub string `json:"sub"`
	SID string `json:"sid"`
}

// listSessions is GET /sessions.
func (s *service) listSessions(w http.ResponseWriter, r *http.Request) {
	all := s.table.list()
	out := make([]sessionView, len(all))
	for i, sess := range all {
		out[i] = sessionView{sess.ID, sess.Subject, sess.SID}
	}
	writeJSON(w, http.StatusOK, out)
}

// getSession is GET /sessions/{id}.
func (s *service) getSession(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.table.get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such session")
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

// devLogout is POST /dev/logout?sid=…[&sub=…], with the development
// provider only: the provider mints a logout token for sid (with the sub the
// table knows for it) or, without sid, for sub alone, and posts it to this
// service's back-channel endpoint. It answers with the receiver's status
// and body.
func (s *service) devLogout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sid, sub := q.Get("sid"), q.Get("sub")
	if sid == "" && sub == "" {
		writeError(w, http.StatusBadRequest, "sid (or sub) is required")
		return
	}
	if sub == "" {
		sub = s.table.subjectOf(s.cfg.Issuer, sid)
	}
	tok, err := s.dev.LogoutToken(oidctest.LogoutTokenOptions{ClientID: s.cfg.ClientID, Subject: sub, SID: sid})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "minting the logout token failed")
		return
	}
	uri := s.cfg.url("/backchannel-logout")
	resp, err := s.dev.PostLogoutToken(r.Context(), uri, tok)
	if err != nil {
		s.log.Warn("dev logout: posting the logout token failed", "uri", uri, "error", err)
		writeError(w, http.StatusBadGateway, "posting the logout token to "+uri+" failed")
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

// tooBig reports whether err is http.MaxBytesReader's.
func tooBig(err error) bool {
	var e *http.MaxBytesError
	return errors.As(err, &e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// envelope is the sign-out API's answer (shared/seeds/app-sign-out-api-openapi.md):
// code 0 and the end-session URL (or null) as data on success; on failure
// a non-zero code, a message and a correlation ID that the log line of the
// failure carries too.
type envelope struct {
	Data          *string `json:"data"`
	Code          int     `json:"code"`
	Msg           string  `json:"msg"`
	CorrelationID *string `json:"correlation_id,omitempty"`
}

// signOut is DELETE /session/token, the sign-out of a client that holds a
// refresh token and no cookie: JSON body {"refresh_token": "…"}. It revokes
// the token at the provider (and, with it, the tokens issued from it),
// ends the API sessions of the login it came from, and answers the
// provider's end-session URL for the client to send the user to, or null.
func (s *service) signOut(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fail := func(status int, msg string, err error) {
		id := newUUID()
		s.log.LogAttrs(ctx, slog.LevelWarn, "sign-out refused", slog.Int("status", status),
			slog.String("correlation_id", id), slog.String("error", err.Error()))
		writeJSON(w, status, envelope{Code: status, Msg: msg, CorrelationID: &id})
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		fail(http.StatusBadRequest, "the body must be JSON: {\"refresh_token\": \"…\"}", errors.New("Content-Type "+r.Header.Get("Content-Type")))
		return
	}
	var body struct {
		RefreshToken *string `json:"refresh_token"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSessionBody))
	if err := dec.Decode(&body); err != nil || dec.More() {
		if err == nil {
			err = errors.New("data after the JSON object")
		}
		fail(http.StatusBadRequest, "the body must be JSON: {\"refresh_token\": \"…\"}", err)
		return
	}
	if body.RefreshToken == nil || *body.RefreshToken == "" {
		fail(http.StatusBadRequest, "refresh_token is required", errors.New("no refresh_token"))
		return
	}
	out, err := s.client.SignOut(ctx, rp.Secret(*body.RefreshToken), rp.EndSessionParams{})
	switch {
	case errors.Is(err, rp.ErrInactiveToken):
		fail(http.StatusUnauthorized, "unknown or expired refresh token", err)
		return
	case err != nil:
		fail(http.StatusBadGateway, "the identity provider could not sign the token out; try again", err)
		return
	}
	n := 0
	if out.SID != "" || out.Subject != "" {
		n = s.table.revoke(s.cfg.Issuer, out.SID, out.Subject)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "sign-out: refresh token revoked",
		slog.String("sid", out.SID), slog.String("sub", out.Subject), slog.Int("revoked", n))
	var data *string
	if out.EndSessionURL != "" {
		data = &out.EndSessionURL
	}
	writeJSON(w, http.StatusOK, envelope{Data: data})
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
