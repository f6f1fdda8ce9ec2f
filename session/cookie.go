package session

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/gorilla/securecookie"
)

// ErrInvalidCookie is wrapped by every error of [CookieCodec.Decode]: a
// value that is tampered with, truncated, made with another secret or for
// another cookie name, empty, too long, or not decodable into the
// destination. Callers treat them all alike, as "no session".
var ErrInvalidCookie = errors.New("session: invalid cookie")

// ErrCookieSecret is wrapped by the error of [NewCookieCodec] when it is
// given no secret or a secret shorter than [MinSecretLen] bytes.
var ErrCookieSecret = errors.New("session: unusable cookie secret")

// MinSecretLen is the least length, in bytes, of a cookie secret.
const MinSecretLen = 32

// Info strings of the HKDF derivations: one key per purpose.
const (
	hashKeyInfo  = "rpkit cookie hash v1"
	blockKeyInfo = "rpkit cookie block v1"
)

// CookieCodec signs and encrypts cookie values with
// github.com/gorilla/securecookie: AES-256-CTR, then HMAC-SHA256 over the
// cookie name and the ciphertext, so a value moved to another cookie name
// does not decode. Values are serialized as JSON.
//
// It holds one codec per secret for key rotation: the newest secret
// encodes, and every secret decodes. It does NOT put an expiry in the
// value (securecookie's timestamp is not checked): the session's lifetime
// is enforced by the [Store], and other values must carry their own.
//
// A CookieCodec is safe for concurrent use.
type CookieCodec struct {
	codecs []securecookie.Codec
}

// NewCookieCodec returns a codec for the secrets, newest first. The first
// encodes, and all decode, so a secret can be rotated by putting a new one
// in front and dropping the old one once its cookies have lapsed. Each
// secret must be at least [MinSecretLen] random bytes; from each, HKDF-SHA256
// derives a 64-byte HMAC key and a 32-byte AES-256 key. The codec keeps no
// reference to the secrets.
func NewCookieCodec(secrets ...[]byte) (*CookieCodec, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: none given", ErrCookieSecret)
	}
	c := &CookieCodec{codecs: make([]securecookie.Codec, 0, len(secrets))}
	for i, secret := range secrets {
		if len(secret) < MinSecretLen {
			return nil, fmt.Errorf("%w: secret %d has %d bytes, need at least %d", ErrCookieSecret, i, len(secret), MinSecretLen)
		}
		hashKey, err := hkdf.Key(sha256.New, secret, nil, hashKeyInfo, 64)
		if err != nil {
			return nil, fmt.Errorf("session: derive cookie hash key: %w", err)
		}
		blockKey, err := hkdf.Key(sha256.New, secret, nil, blockKeyInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("session: derive cookie block key: %w", err)
		}
		sc := securecookie.New(hashKey, blockKey).
			SetSerializer(securecookie.JSONEncoder{}).
			MaxAge(0)
		c.codecs = append(c.codecs, sc)
	}
	return c, nil
}

// Encode serializes v as JSON, encrypts and signs it with the newest
// secret for the cookie called name, and returns the value to set. It fails
// when v cannot be serialized or the result exceeds 4096 bytes.
func (c *CookieCodec) Encode(name string, v any) (string, error) {
	if c == nil || len(c.codecs) == 0 {
		return "", errors.New("session: encode cookie: codec not made by NewCookieCodec")
	}
	s, err := securecookie.EncodeMulti(name, v, c.codecs...)
	if err != nil {
		return "", fmt.Errorf("session: encode cookie: %w", err)
	}
	return s, nil
}

// Decode checks and decrypts value, a cookie called name, with each secret
// in turn, and decodes the JSON it holds into dst, which must be a pointer.
// Every failure returns an error wrapping [ErrInvalidCookie]. On failure dst
// may have been partly written, but only from a value that one of the
// secrets authenticated.
func (c *CookieCodec) Decode(name, value string, dst any) error {
	if c == nil || len(c.codecs) == 0 {
		return fmt.Errorf("%w: codec not made by NewCookieCodec", ErrInvalidCookie)
	}
	if value == "" {
		return fmt.Errorf("%w: empty value", ErrInvalidCookie)
	}
	if err := securecookie.DecodeMulti(name, value, dst, c.codecs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCookie, err)
	}
	return nil
}
