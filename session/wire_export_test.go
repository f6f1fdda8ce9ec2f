package session

import (
	"encoding/json"
	"fmt"
)

// The two ways of each codec, for the tests that hold them to each other.
var (
	UnmarshalFast      = unmarshalFast[string]
	UnmarshalFastBytes = unmarshalFast[[]byte]
	UnmarshalSlow      = unmarshalJSON
	MarshalFast        = marshalFast
	MarshalSlow        = marshalJSON
	Validate           = validate
	ScanValue          = scanValue[[]byte]
	ScanValueString    = scanValue[string]
	JSONMaxDepth       = jsonMaxDepth
)

// UnmarshalV1 is Unmarshal as it was before it had a fast path, kept
// verbatim as the reference that Unmarshal must agree with on every input,
// errors included: a head decode for the version, then the full decode.
// Only at_iat (AccessTokenIssued), which came later, is added.
func UnmarshalV1(b []byte) (*Session, error) {
	var head struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	switch {
	case head.V == nil:
		return nil, fmt.Errorf("%w: no version", ErrInvalidRecord)
	case *head.V != wireVersion:
		return nil, fmt.Errorf("%w: unknown version %d", ErrInvalidRecord, *head.V)
	}
	var w wireSession
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	switch {
	case w.Issuer == "":
		return nil, fmt.Errorf("%w: no issuer", ErrInvalidRecord)
	case w.Subject == "":
		return nil, fmt.Errorf("%w: no subject", ErrInvalidRecord)
	case w.Expiry.IsZero():
		return nil, fmt.Errorf("%w: no expiry", ErrInvalidRecord)
	}
	claims := w.Claims
	if string(claims) == "null" {
		claims = nil
	}
	s := &Session{
		Issuer:            w.Issuer,
		Subject:           w.Subject,
		SID:               w.SID,
		IDToken:           w.IDToken,
		Claims:            claims,
		AccessToken:       w.AccessToken,
		RefreshToken:      w.RefreshToken,
		AccessTokenExpiry: w.AccessTokenExpiry,
		Created:           w.Created,
		LastSeen:          w.LastSeen,
		Expiry:            w.Expiry,
		Version:           w.Version,
		AuthParams:        w.AuthParams,
	}
	if w.AccessTokenIssued != nil {
		s.AccessTokenIssued = *w.AccessTokenIssued
	}
	return s, nil
}
