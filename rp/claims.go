package rp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// IDClaims are the verified claims of an ID token: the registered ones typed,
// all of them raw (use Decode for profile claims such as name or email).
type IDClaims struct {
	Issuer          string
	Subject         string
	Audience        []string
	AuthorizedParty string // "azp", empty when absent
	Expiry          time.Time
	IssuedAt        time.Time
	AuthTime        time.Time // zero when absent
	Nonce           string
	SID             string // "sid", the provider's session ID (Front/Back-Channel Logout)
	ACR             string
	AMR             []string

	raw json.RawMessage
}

// Decode unmarshals all the token's claims into v, like
// [encoding/json.Unmarshal].
func (c *IDClaims) Decode(v any) error { return json.Unmarshal(c.raw, v) }

// Raw returns the claims as the provider sent them (a JSON object).
func (c *IDClaims) Raw() json.RawMessage { return bytes.Clone(c.raw) }

// StandardClaims are the OpenID Connect Core 5.1 standard claims, for use
// with [IDClaims.Decode] or [Client.UserInfo].
type StandardClaims struct {
	Subject             string `json:"sub"`
	Name                string `json:"name,omitempty"`
	GivenName           string `json:"given_name,omitempty"`
	FamilyName          string `json:"family_name,omitempty"`
	MiddleName          string `json:"middle_name,omitempty"`
	Nickname            string `json:"nickname,omitempty"`
	PreferredUsername   string `json:"preferred_username,omitempty"`
	Profile             string `json:"profile,omitempty"`
	Picture             string `json:"picture,omitempty"`
	Website             string `json:"website,omitempty"`
	Email               string `json:"email,omitempty"`
	EmailVerified       bool   `json:"email_verified,omitempty"`
	Gender              string `json:"gender,omitempty"`
	Birthdate           string `json:"birthdate,omitempty"`
	Zoneinfo            string `json:"zoneinfo,omitempty"`
	Locale              string `json:"locale,omitempty"`
	PhoneNumber         string `json:"phone_number,omitempty"`
	PhoneNumberVerified bool   `json:"phone_number_verified,omitempty"`
	UpdatedAt           int64  `json:"updated_at,omitempty"`
}

// jwtClaims is the wire form of the registered claims rp checks. Times are
// pointers so that "absent" and "zero" differ.
type jwtClaims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	Audience  audience        `json:"aud"`
	Azp       string          `json:"azp"`
	Expiry    *numericDate    `json:"exp"`
	IssuedAt  *numericDate    `json:"iat"`
	NotBefore *numericDate    `json:"nbf"`
	AuthTime  *numericDate    `json:"auth_time"`
	Nonce     optionalString  `json:"nonce"`
	SID       string          `json:"sid"`
	AtHash    string          `json:"at_hash"`
	ACR       string          `json:"acr"`
	AMR       []string        `json:"amr"`
	JTI       string          `json:"jti"`
	TenantID  string          `json:"tid"`
	Events    json.RawMessage `json:"events"`
}

func parseClaims(payload []byte) (*jwtClaims, error) {
	var c jwtClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformedToken, err)
	}
	return &c, nil
}

// optionalString is a string claim that tells "absent" from "null" from
// a value: a logout token must not carry a nonce at all, not even null.
type optionalString struct {
	present bool    // the member is there, null included
	value   *string // nil when absent or null
}

func (o *optionalString) UnmarshalJSON(b []byte) error {
	o.present = true // encoding/json calls this for null too
	if string(b) == "null" {
		return nil
	}
	s, err := jsonString(b)
	if err != nil {
		return err
	}
	o.value = &s
	return nil
}

// jsonString decodes a JSON string value. encoding/json has checked that
// b is one JSON value: a string without escapes or non-ASCII bytes (every
// claim rp reads, in practice) is its bytes between the quotes; anything
// else goes through encoding/json, which unescapes it or refuses a value
// that is not a string.
func jsonString(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		inner := b[1 : len(b)-1]
		plain := true
		for _, c := range inner {
			if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
				plain = false
				break
			}
		}
		if plain {
			return string(inner), nil
		}
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

// audience is "aud": a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if s, err := jsonString(b); err == nil {
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = ss
	return nil
}

// numericDate is a JWT NumericDate: seconds since the epoch, possibly
// fractional (RFC 7519 2).
type numericDate struct{ time.Time }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	var f float64
	var err error
	if len(b) > 0 && (b[0] == '-' || '0' <= b[0] && b[0] <= '9') {
		// encoding/json has checked that b is one JSON value, so this is a
		// JSON number, whose syntax ParseFloat reads exactly.
		f, err = strconv.ParseFloat(string(b), 64)
	} else {
		err = json.Unmarshal(b, &f)
	}
	if err != nil {
		return errors.New("a NumericDate must be a number")
	}
	if math.IsNaN(f) || f < 0 || f > 1<<40 {
		return errors.New("NumericDate out of range")
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

func (d *numericDate) time() time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}

// idClaims returns the typed view of verified (or stored) claims.
func (cl *jwtClaims) idClaims(payload []byte) *IDClaims {
	nonce := ""
	if cl.Nonce.value != nil {
		nonce = *cl.Nonce.value
	}
	return &IDClaims{
		Issuer:          cl.Issuer,
		Subject:         cl.Subject,
		Audience:        cl.Audience,
		AuthorizedParty: cl.Azp,
		Expiry:          cl.Expiry.time(),
		IssuedAt:        cl.IssuedAt.time(),
		AuthTime:        cl.AuthTime.time(),
		Nonce:           nonce,
		SID:             cl.SID,
		ACR:             cl.ACR,
		AMR:             cl.AMR,
		raw:             payload,
	}
}
