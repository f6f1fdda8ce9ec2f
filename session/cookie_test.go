package session_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rpkit/rpkit/session"
)

var (
	secretOld   = bytes.Repeat([]byte("old-secret-"), 3)          // 33 bytes
	secretNew   = []byte("new-secret-0123456789abcdefghijkl")     // 32 bytes
	secretOther = bytes.Repeat([]byte{0xA5}, 64)                  // unrelated
	secretShort = []byte("short-secret-0123456789abcdefghi")[:31] // one byte short
)

func mustCodec(t testing.TB, secrets ...[]byte) *session.CookieCodec {
	t.Helper()
	c, err := session.NewCookieCodec(secrets...)
	if err != nil {
		t.Fatalf("NewCookieCodec: %v", err)
	}
	return c
}

type cookieValue struct {
	ID string `json:"id"`
	N  int    `json:"n"`
}

func TestNewCookieCodec(t *testing.T) {
	tests := []struct {
		name    string
		secrets [][]byte
		wantErr error
	}{
		{"one", [][]byte{secretNew}, nil},
		{"rotation", [][]byte{secretNew, secretOld}, nil},
		{"none", nil, session.ErrCookieSecret},
		{"short", [][]byte{secretShort}, session.ErrCookieSecret},
		{"short old", [][]byte{secretNew, secretShort}, session.ErrCookieSecret},
		{"empty", [][]byte{{}}, session.ErrCookieSecret},
		{"nil", [][]byte{nil}, session.ErrCookieSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := session.NewCookieCodec(tt.secrets...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("NewCookieCodec = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if c != nil {
					t.Error("NewCookieCodec returned a codec with its error")
				}
				if !strings.HasPrefix(err.Error(), "session: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
			}
		})
	}
}

// TestCookieCodecKeepsNoSecret checks that changing a secret after
// NewCookieCodec does not change the codec.
func TestCookieCodecKeepsNoSecret(t *testing.T) {
	secret := bytes.Clone(secretNew)
	c := mustCodec(t, secret)
	v, err := c.Encode("sess", cookieValue{ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	clear(secret)
	var got cookieValue
	if err := c.Decode("sess", v, &got); err != nil {
		t.Errorf("Decode after the secret slice was cleared: %v", err)
	}
}

func TestCookieCodec(t *testing.T) {
	want := cookieValue{ID: session.NewID(), N: 42}
	enc := func(name string, secrets ...[]byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			v, err := mustCodec(t, secrets...).Encode(name, want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			return v
		}
	}
	edit := func(base func(*testing.T) string, f func(string) string) func(*testing.T) string {
		return func(t *testing.T) string { return f(base(t)) }
	}
	fixed := func(s string) func(*testing.T) string { return func(*testing.T) string { return s } }

	tests := []struct {
		name    string
		value   func(t *testing.T) string
		decode  [][]byte // the decoding codec's secrets
		as      string   // the cookie name given to Decode
		wantErr bool
	}{
		{"round trip", enc("sess", secretNew), [][]byte{secretNew}, "sess", false},
		{"rotation: old value, new codec", enc("sess", secretOld), [][]byte{secretNew, secretOld}, "sess", false},
		{"rotation: newest encodes", enc("sess", secretNew, secretOld), [][]byte{secretNew}, "sess", false},
		{"rotation: newest encodes, not the old", enc("sess", secretNew, secretOld), [][]byte{secretOld}, "sess", true},
		{"rotation: old secret dropped", enc("sess", secretOld), [][]byte{secretNew}, "sess", true},
		{"unrelated secrets", enc("sess", secretOther), [][]byte{secretNew, secretOld}, "sess", true},
		{"other cookie name", enc("other", secretNew), [][]byte{secretNew}, "sess", true},
		{"name prefix", enc("sess", secretNew), [][]byte{secretNew}, "ses", true},
		{"empty name", enc("sess", secretNew), [][]byte{secretNew}, "", true},
		{"tampered", edit(enc("sess", secretNew), func(v string) string { return flip(v, len(v)/2) }), [][]byte{secretNew}, "sess", true},
		{"truncated", edit(enc("sess", secretNew), func(v string) string { return v[:len(v)-4] }), [][]byte{secretNew}, "sess", true},
		{"truncated to half", edit(enc("sess", secretNew), func(v string) string { return v[:len(v)/2] }), [][]byte{secretNew}, "sess", true},
		{"extended", edit(enc("sess", secretNew), func(v string) string { return v + "AAAA" }), [][]byte{secretNew}, "sess", true},
		{"empty", fixed(""), [][]byte{secretNew}, "sess", true},
		{"garbage", fixed("not a cookie value!"), [][]byte{secretNew}, "sess", true},
		{"base64 without fields", fixed("aGVsbG8gd29ybGQ="), [][]byte{secretNew}, "sess", true},
		{"fields without MAC", fixed("MTIzfGFiY3w="), [][]byte{secretNew}, "sess", true}, // "123|abc|"
		{"oversized", fixed(strings.Repeat("A", 5000)), [][]byte{secretNew}, "sess", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := tt.value(t)
			var got cookieValue
			err := mustCodec(t, tt.decode...).Decode(tt.as, value, &got)
			if tt.wantErr {
				if !errors.Is(err, session.ErrInvalidCookie) {
					t.Fatalf("Decode = %v, want ErrInvalidCookie", err)
				}
				if !strings.HasPrefix(err.Error(), "session: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != want {
				t.Errorf("Decode = %+v, want %+v", got, want)
			}
		})
	}
}

// TestCookieCodecTamperAnywhere flips every character of a value in turn.
func TestCookieCodecTamperAnywhere(t *testing.T) {
	c := mustCodec(t, secretNew)
	v, err := c.Encode("sess", cookieValue{ID: "abc", N: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(v) {
		var got cookieValue
		if err := c.Decode("sess", flip(v, i), &got); !errors.Is(err, session.ErrInvalidCookie) {
			t.Fatalf("Decode with character %d changed = %v (%+v), want ErrInvalidCookie", i, err, got)
		}
	}
}

func TestCookieCodecBadDestination(t *testing.T) {
	c := mustCodec(t, secretNew)
	v, err := c.Encode("sess", cookieValue{ID: "abc", N: 1})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for name, dst := range map[string]any{"nil": nil, "non-pointer": cookieValue{}, "wrong type": &n} {
		if err := c.Decode("sess", v, dst); !errors.Is(err, session.ErrInvalidCookie) {
			t.Errorf("Decode into %s = %v, want ErrInvalidCookie", name, err)
		}
	}
}

func TestCookieCodecEncodeErrors(t *testing.T) {
	c := mustCodec(t, secretNew)
	for name, v := range map[string]any{
		"unserializable": make(chan int),
		"too long":       strings.Repeat("x", 5000),
	} {
		if _, err := c.Encode("sess", v); err == nil || !strings.HasPrefix(err.Error(), "session: ") {
			t.Errorf("Encode of %s = %v, want a session: error", name, err)
		}
	}
	var zero session.CookieCodec
	if _, err := zero.Encode("sess", 1); err == nil {
		t.Error("Encode with a zero CookieCodec succeeded")
	}
	if err := zero.Decode("sess", "x", new(int)); !errors.Is(err, session.ErrInvalidCookie) {
		t.Errorf("Decode with a zero CookieCodec = %v, want ErrInvalidCookie", err)
	}
}

// TestCookieValueIsOpaque checks that the value is encrypted: the session
// ID it carries does not show, in any encoding that might leak it.
func TestCookieValueIsOpaque(t *testing.T) {
	id := session.NewID()
	v, err := mustCodec(t, secretNew).Encode("sess", id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, id) || strings.Contains(v, id[:10]) {
		t.Errorf("encoded value %q shows the session ID", v)
	}
}

func FuzzDecode(f *testing.F) {
	c := mustCodec(f, secretNew, secretOld)
	for _, secrets := range [][][]byte{{secretNew}, {secretOld}, {secretOther}} {
		v, err := mustCodec(f, secrets...).Encode("sess", cookieValue{ID: "abc", N: 7})
		if err != nil {
			f.Fatal(err)
		}
		f.Add("sess", v)
		f.Add("other", v)
		f.Add("sess", v[:len(v)-1])
		f.Add("sess", flip(v, 10))
	}
	f.Add("sess", "")
	f.Add("", "")
	f.Add("sess", "garbage|||")
	f.Add("sess", "MTIzfGFiY3w=")
	f.Fuzz(func(t *testing.T, name, value string) {
		var got cookieValue
		if err := c.Decode(name, value, &got); err != nil && !errors.Is(err, session.ErrInvalidCookie) {
			t.Fatalf("Decode = %v, does not wrap ErrInvalidCookie", err)
		}
		var anything any
		if err := c.Decode(name, value, &anything); err != nil && !errors.Is(err, session.ErrInvalidCookie) {
			t.Fatalf("Decode into any = %v, does not wrap ErrInvalidCookie", err)
		}
	})
}

// flip returns v with its i-th character changed in its most significant
// base64 bit, so that the decoded bytes change too (a change to the unused
// low bits of a final character would decode to the same bytes).
func flip(v string, i int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := []byte(v)
	if j := strings.IndexByte(alphabet, b[i]); j >= 0 {
		b[i] = alphabet[j^0x20]
	} else {
		b[i] = 'A'
	}
	return string(b)
}
