package rp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// verifyJWS checks a compact JWS: size, algorithm against the allow-list
// and signature (HMAC with the client secret, anything else with the
// provider's key set). It returns the payload and the protected header.
func (c *Client) verifyJWS(ctx context.Context, p *provider, raw string) ([]byte, jose.Header, error) {
	if raw == "" {
		return nil, jose.Header{}, fmt.Errorf("%w: empty", ErrMalformedToken)
	}
	if len(raw) > maxTokenBytes {
		return nil, jose.Header{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedToken, maxTokenBytes)
	}
	// One parse, with every algorithm rp knows; the allow-list is checked
	// on go-jose's reading of the header. Only a token go-jose refuses is
	// looked at again, to tell a disallowed algorithm ("none", which go-jose
	// does not parse) from a malformed token.
	jws, err := jose.ParseSignedCompact(raw, supportedAlgs)
	if err != nil {
		if alg, perr := peekAlg(raw); perr == nil && !slices.Contains(p.algs, jose.SignatureAlgorithm(alg)) {
			return nil, jose.Header{}, fmt.Errorf("%w: %q (allowed: %q)", ErrAlgorithm, alg, p.algs)
		}
		return nil, jose.Header{}, fmt.Errorf("%w: %v", ErrMalformedToken, err)
	}
	hdr := jws.Signatures[0].Protected
	if !slices.Contains(p.algs, jose.SignatureAlgorithm(hdr.Algorithm)) {
		return nil, jose.Header{}, fmt.Errorf("%w: %q (allowed: %q)", ErrAlgorithm, hdr.Algorithm, p.algs)
	}
	if isHMAC(string(hdr.Algorithm)) {
		payload, err := jws.Verify([]byte(c.cfg.ClientSecret))
		if err != nil {
			return nil, jose.Header{}, fmt.Errorf("%w: %v", ErrSignature, err)
		}
		return payload, hdr, nil
	}
	// Errors come classified: ErrSignature for a key that does not verify
	// the token; ErrKeyRefetchLimited, ErrProviderUnavailable or the
	// context's error when the keys could not be fetched (now), which
	// callers answer with "try again later", not "invalid".
	payload, err := p.keys.verify(ctx, jws)
	if err != nil {
		return nil, jose.Header{}, err
	}
	return payload, hdr, nil
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
