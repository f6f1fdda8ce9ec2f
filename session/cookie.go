package session

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"

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
	idKeyInfo    = "rpkit session id mac v1"
)

// CookieCodec signs and encrypts cookie values with
// github.com/gorilla/securecookie: AES-256-CTR, then HMAC-SHA256 over the
// cookie name and the ciphertext, so a value moved to another cookie name
// does not decode. Values are serialized as JSON. The session cookie,
// which carries only a random session ID and is read on every request,
// has a cheaper form of its own: [CookieCodec.EncodeID] and
// [CookieCodec.DecodeID].
//
// It holds one codec per secret for key rotation: the newest secret
// encodes, and every secret decodes. It does NOT put an expiry in the
// value (securecookie's timestamp is not checked): the session's lifetime
// is enforced by the [Store], and other values must carry their own.
//
// A CookieCodec is safe for concurrent use.
type CookieCodec struct {
	codecs []securecookie.Codec
	idMACs []*idMAC // one per secret, newest first (EncodeID, DecodeID)
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
		idKey, err := hkdf.Key(sha256.New, secret, nil, idKeyInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("session: derive session ID key: %w", err)
		}
		c.idMACs = append(c.idMACs, newIDMAC(idKey))
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

// A session ID cookie is the ID, a '.', and a MAC of the cookie's name and
// the ID: HMAC-SHA256 under a key derived from the secret, cut to 128 bits,
// base64url. The ID is not encrypted: it is 256 random bits that the
// browser holding the cookie has anyway, and nothing else is in the value.
// The MAC means that a value made without the secret — from a store dump,
// whose keys are hashes of IDs, or by guessing — never reaches the store,
// that a value moved to another cookie name does not verify, and that
// dropping a secret ends its sessions, as with [CookieCodec.Encode].
// Checking it costs one HMAC of a few dozen bytes and no allocation, where
// Decode decrypts and decodes JSON: it runs on every request.
const (
	idTagBytes = 16
	idTagLen   = 22 // base64url of idTagBytes, unpadded
	maxIDLen   = 256
)

// idMAC computes one secret's session ID MACs, with pooled HMAC states.
type idMAC struct{ pool sync.Pool }

type idMACState struct {
	h   hash.Hash
	buf []byte // name, 0, id: the MAC's input
	sum [sha256.Size]byte
}

func newIDMAC(key []byte) *idMAC {
	m := &idMAC{}
	m.pool.New = func() any { return &idMACState{h: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)} }
	return m
}

// tag writes the base64url tag of (name, id) into dst.
func (m *idMAC) tag(dst *[idTagLen]byte, name, id string) {
	st := m.pool.Get().(*idMACState)
	st.buf = append(append(append(st.buf[:0], name...), 0), id...)
	st.h.Reset()
	st.h.Write(st.buf)
	sum := st.h.Sum(st.sum[:0])
	base64.RawURLEncoding.Encode(dst[:], sum[:idTagBytes])
	m.pool.Put(st)
}

// EncodeID returns the value of the session cookie called name that
// carries the session ID id, authenticated with the newest secret (see
// [CookieCodec.DecodeID]). id must be at most 256 bytes of cookie-safe
// characters (letters, digits and -._~), as every store's IDs are.
func (c *CookieCodec) EncodeID(name, id string) (string, error) {
	if c == nil || len(c.idMACs) == 0 {
		return "", errors.New("session: encode session ID: codec not made by NewCookieCodec")
	}
	if id == "" || len(id) > maxIDLen || !cookieSafe(id) {
		return "", errors.New("session: encode session ID: not a session ID")
	}
	var t [idTagLen]byte
	c.idMACs[0].tag(&t, name, id)
	return id + "." + string(t[:]), nil
}

// DecodeID returns the session ID carried by value, a session cookie
// called name made by [CookieCodec.EncodeID] with any of the codec's
// secrets. A value that Encode made from the ID (the format before
// EncodeID existed) is read too, so that sessions survive an upgrade.
// Every failure returns an error wrapping [ErrInvalidCookie]. It does not
// allocate for a valid EncodeID value: the ID is a substring of value.
func (c *CookieCodec) DecodeID(name, value string) (string, error) {
	if c == nil || len(c.idMACs) == 0 {
		return "", fmt.Errorf("%w: codec not made by NewCookieCodec", ErrInvalidCookie)
	}
	dot := strings.LastIndexByte(value, '.')
	if dot < 0 {
		// securecookie's values have no '.': an Encode(name, id) cookie.
		var id string
		if err := c.Decode(name, value, &id); err != nil {
			return "", err
		}
		if id == "" {
			return "", fmt.Errorf("%w: empty session ID", ErrInvalidCookie)
		}
		return id, nil
	}
	id, got := value[:dot], value[dot+1:]
	if id == "" || len(id) > maxIDLen || len(got) != idTagLen {
		return "", fmt.Errorf("%w: not a session ID cookie", ErrInvalidCookie)
	}
	var want [idTagLen]byte
	for _, m := range c.idMACs {
		m.tag(&want, name, id)
		if hmac.Equal(want[:], []byte(got)) {
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: session ID cookie not authenticated by any secret", ErrInvalidCookie)
}

// cookieSafe reports whether s has only characters that every store's IDs
// are made of and that a cookie value may carry unquoted.
func cookieSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
		default:
			return false
		}
	}
	return true
}
