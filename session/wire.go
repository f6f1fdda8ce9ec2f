package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidRecord is wrapped by the errors of [Unmarshal]: the bytes are
// not a session record of a version this package reads.
var ErrInvalidRecord = errors.New("session: invalid session record")

// wireVersion is the version of the record format that Marshal writes.
const wireVersion = 1

// wireSession is version 1 of the record format. Times are RFC 3339 with
// nanoseconds, in UTC; the session ID is not part of the record.
type wireSession struct {
	V                 int               `json:"v"`
	Issuer            string            `json:"iss"`
	Subject           string            `json:"sub"`
	SID               string            `json:"sid"`
	IDToken           string            `json:"id_token"`
	Claims            json.RawMessage   `json:"claims"`
	AccessToken       string            `json:"at"`
	RefreshToken      string            `json:"rt"`
	AccessTokenExpiry time.Time         `json:"at_exp"`
	Created           time.Time         `json:"created"`
	LastSeen          time.Time         `json:"last_seen"`
	Expiry            time.Time         `json:"expiry"`
	Version           uint64            `json:"version"`
	AuthParams        map[string]string `json:"auth_params,omitempty"`
	AccessTokenIssued *time.Time        `json:"at_iat,omitempty"`
}

// Marshal encodes s as a versioned JSON record for stores that hold bytes,
// such as Redis:
//
//	{"v":1,"iss":…,"sub":…,"sid":…,"id_token":…,"claims":{…},"at":…,"rt":…,
//	 "at_exp":…,"created":…,"last_seen":…,"expiry":…,"version":…,
//	 "auth_params":{…},"at_iat":…}
//
// auth_params is left out when there are none, and at_iat (the
// session's AccessTokenIssued) when it is zero, so records without them
// are the same bytes as before they existed (and readers that predate
// them ignore them).
//
// It leaves out s.ID: stores key records by [Key] of it. Times are written
// in UTC with nanoseconds, so they come back Equal (though not ==: the
// location and monotonic reading are not kept). Claims are written
// compacted, as a JSON value; empty Claims are written as null. Marshal
// fails when a time's year is outside [0, 9999], and, with an error
// wrapping [ErrInvalidSession], when s lacks what [Unmarshal] requires — an
// Issuer, a Subject and an Expiry — or its Claims are not valid JSON. The
// record holds the tokens in the clear: the store must be trusted with
// them.
//
// Most sessions (those whose strings are printable ASCII without quotes
// or backslashes) are written without reflection, in one allocation; the
// others by encoding/json. The bytes are the same either way.
func Marshal(s *Session) ([]byte, error) {
	if err := validate(s); err != nil {
		return nil, err
	}
	if b, ok := marshalFast(s); ok {
		return b, nil
	}
	return marshalJSON(s)
}

// marshalJSON is Marshal by encoding/json, for every session; marshalFast
// writes the same bytes for most of them.
func marshalJSON(s *Session) ([]byte, error) {
	w := wireSession{
		V:                 wireVersion,
		Issuer:            s.Issuer,
		Subject:           s.Subject,
		SID:               s.SID,
		IDToken:           s.IDToken,
		Claims:            s.Claims,
		AccessToken:       s.AccessToken,
		RefreshToken:      s.RefreshToken,
		AccessTokenExpiry: s.AccessTokenExpiry.UTC(),
		Created:           s.Created.UTC(),
		LastSeen:          s.LastSeen.UTC(),
		Expiry:            s.Expiry.UTC(),
		Version:           s.Version,
		AuthParams:        s.AuthParams,
	}
	if !s.AccessTokenIssued.IsZero() {
		t := s.AccessTokenIssued.UTC()
		w.AccessTokenIssued = &t
	}
	if len(w.Claims) == 0 {
		w.Claims = nil // null: an empty, non-nil RawMessage does not encode
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep claims such as "<" byte for byte
	if err := enc.Encode(&w); err != nil {
		return nil, fmt.Errorf("session: marshal: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Unmarshal decodes a record written by [Marshal]. The returned session has
// an empty ID, for the store to set. Bytes that are not JSON, or trail
// data after the record, or carry an unknown version, or lack the issuer,
// subject or expiry, give an error wrapping [ErrInvalidRecord].
// Unmarshal neither modifies b nor keeps any part of it.
//
// The records that Marshal writes without reflection are read back the
// same way, in one scan of their bytes; anything else (an escape in a
// string, white space, another key order, an unknown field) by
// encoding/json, with the same result and the same errors.
func Unmarshal(b []byte) (*Session, error) {
	if s, ok := unmarshalFast(b); ok {
		return s, nil
	}
	return unmarshalJSON(b)
}

// UnmarshalString is [Unmarshal] of a record held in a string, such as a
// Redis reply, without copying the tokens out of it: the session's
// IDToken, AccessToken and RefreshToken may share rec's memory (and so
// keep it alive as long as any of them lives); its other fields are
// copies.
func UnmarshalString(rec string) (*Session, error) {
	if s, ok := unmarshalFast(rec); ok {
		return s, nil
	}
	return unmarshalJSON([]byte(rec))
}

// unmarshalJSON is Unmarshal by encoding/json, for any bytes; unmarshalFast
// decodes most records Marshal writes, with the same result. A record that
// decodes takes one pass; recordError then tells why one did not.
func unmarshalJSON(b []byte) (*Session, error) {
	var w struct {
		V *int `json:"v"` // shadows wireSession.V: absent is not 0
		wireSession
	}
	if err := json.Unmarshal(b, &w); err != nil || w.V == nil || *w.V != wireVersion {
		return nil, recordError(b)
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

// recordError is the error for bytes that are not a record of this
// version: the version is checked first, so that a record of an unknown
// version says so rather than how its fields fail to decode as version 1.
func recordError(b []byte) error {
	var head struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	switch {
	case head.V == nil:
		return fmt.Errorf("%w: no version", ErrInvalidRecord)
	case *head.V != wireVersion:
		return fmt.Errorf("%w: unknown version %d", ErrInvalidRecord, *head.V)
	}
	var w wireSession
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	return fmt.Errorf("%w: undecodable record", ErrInvalidRecord) // not reached
}
