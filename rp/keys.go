package rp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// jwksTransport carries the JWKS requests of go-oidc's RemoteKeySet, which
// caches the provider's keys and refetches them when a token names an
// unknown key ID (rotation). It adds what go-oidc leaves out: a minimum
// interval between two fetches, since a back-channel logout endpoint accepts
// JWTs from anyone and each forged kid would otherwise cost a request to the
// provider; and a typed error when the provider cannot be reached.
type jwksTransport struct {
	base     http.RoundTripper
	interval time.Duration // <= 0: no limit
	now      func() time.Time

	mu      sync.Mutex
	fetched bool
	last    time.Time
}

func (t *jwksTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.interval > 0 {
		t.mu.Lock()
		now := t.now()
		if t.fetched && now.Sub(t.last) < t.interval {
			next := t.last.Add(t.interval)
			t.mu.Unlock()
			return nil, fmt.Errorf("%w until %s", ErrKeyRefetchLimited, next.UTC().Format(time.RFC3339))
		}
		t.fetched, t.last = true, now
		t.mu.Unlock()
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, unavailable(err)
	}
	if resp.StatusCode != http.StatusOK {
		// A key set that cannot be fetched is not the token's fault.
		resp.Body.Close()
		return nil, fmt.Errorf("%w: JWKS answered HTTP %d", ErrProviderUnavailable, resp.StatusCode)
	}
	// go-oidc reads the whole body: bound it (a longer key set fails to
	// parse rather than exhaust memory).
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxResponseBytes), resp.Body}
	return resp, nil
}

// verifyJWS checks a compact JWS: size, algorithm against the allow-list
// and signature (HMAC with the client secret, anything else with the
// provider's key set). It returns the payload and the protected header.
func (c *Client) verifyJWS(ctx context.Context, raw string) ([]byte, jose.Header, error) {
	if raw == "" {
		return nil, jose.Header{}, fmt.Errorf("%w: empty", ErrMalformedToken)
	}
	if len(raw) > maxTokenBytes {
		return nil, jose.Header{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedToken, maxTokenBytes)
	}
	alg, err := peekAlg(raw)
	if err != nil {
		return nil, jose.Header{}, err
	}
	if !slices.Contains(c.algs, jose.SignatureAlgorithm(alg)) {
		return nil, jose.Header{}, fmt.Errorf("%w: %q (allowed: %q)", ErrAlgorithm, alg, c.algs)
	}
	jws, err := jose.ParseSignedCompact(raw, c.algs)
	if err != nil {
		return nil, jose.Header{}, fmt.Errorf("%w: %v", ErrMalformedToken, err)
	}
	hdr := jws.Signatures[0].Protected
	var payload []byte
	if isHMAC(string(hdr.Algorithm)) { // go-jose's reading of the header, not peekAlg's
		payload, err = jws.Verify([]byte(c.cfg.ClientSecret))
	} else {
		payload, err = c.keys.VerifySignature(ctx, raw)
	}
	switch {
	case err == nil:
		return payload, hdr, nil
	case errors.Is(err, ErrProviderUnavailable), errors.Is(err, ErrKeyRefetchLimited), ctx.Err() != nil:
		// Not the token's fault: the keys could not be fetched (now).
		// Callers answer "try again later", not "invalid".
		return nil, jose.Header{}, fmt.Errorf("rp: fetching the provider's keys for key %q: %w", hdr.KeyID, err)
	}
	return nil, jose.Header{}, fmt.Errorf("%w: %v", ErrSignature, err)
}

// peekAlg reads the "alg" header member so that a disallowed algorithm
// (including "none", which go-jose does not parse) gets its own error.
func peekAlg(raw string) (string, error) {
	seg, _, ok := strings.Cut(raw, ".")
	if !ok {
		return "", fmt.Errorf("%w: not a compact JWS", ErrMalformedToken)
	}
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", fmt.Errorf("%w: header: %v", ErrMalformedToken, err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", fmt.Errorf("%w: header: %v", ErrMalformedToken, err)
	}
	return h.Alg, nil
}
