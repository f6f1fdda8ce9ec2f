package session_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rpkit/rpkit/session"
)

// TestSessionIDCookie: EncodeID's values decode to their ID under the same
// name with any of the codec's secrets; every change to the value, the
// name or the secrets fails with ErrInvalidCookie; values Encode made
// before EncodeID existed still decode.
func TestSessionIDCookie(t *testing.T) {
	oldSecret, newSecret := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))
	old, err := session.NewCookieCodec(oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := session.NewCookieCodec(newSecret, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	onlyNew, err := session.NewCookieCodec(newSecret)
	if err != nil {
		t.Fatal(err)
	}
	id := session.NewID()
	redisID := "0a1b2c3d." + session.NewID() // a redisstore ID, with a '.'
	v, err := old.EncodeID("rpkit", id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(v, ".") != 1 || !strings.HasPrefix(v, id+".") {
		t.Fatalf("value %q", v)
	}
	for _, tc := range []struct {
		name  string
		codec *session.CookieCodec
		id    string
	}{{"same secret", old, id}, {"old secret after rotation", rotated, id}, {"an ID with a dot", old, redisID}} {
		v, err := old.EncodeID("rpkit", tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tc.codec.DecodeID("rpkit", v); err != nil || got != tc.id {
			t.Errorf("%s: DecodeID = %q, %v", tc.name, got, err)
		}
	}
	legacy, err := old.Encode("rpkit", id)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.DecodeID("rpkit", legacy); err != nil || got != id {
		t.Errorf("a value made by Encode: DecodeID = %q, %v", got, err)
	}

	tag := v[strings.LastIndexByte(v, '.')+1:]
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, cookie, value string
		codec               *session.CookieCodec
	}{
		{"another cookie name", "other", v, old},
		{"a secret dropped", "rpkit", v, onlyNew},
		{"a changed ID", "rpkit", flip(id, 3) + "." + tag, old},
		{"a changed tag", "rpkit", id + "." + flip(tag, 5), old},
		{"a short tag", "rpkit", id + "." + tag[:21], old},
		{"no ID", "rpkit", "." + tag, old},
		{"another ID's tag", "rpkit", session.NewID() + "." + tag, old},
		{"empty", "rpkit", "", old},
		{"garbage", "rpkit", "not a cookie", old},
	} {
		if got, err := tc.codec.DecodeID(tc.cookie, tc.value); !errors.Is(err, session.ErrInvalidCookie) {
			t.Errorf("%s: DecodeID = %q, %v; want ErrInvalidCookie", tc.name, got, err)
		}
	}
	for _, bad := range []string{"", "a b", "a;b", `a"b`, strings.Repeat("a", 257)} {
		if _, err := old.EncodeID("rpkit", bad); err == nil {
			t.Errorf("EncodeID(%q) succeeded", bad)
		}
	}
}

// BenchmarkDecodeID compares the session ID cookie's check with the
// securecookie decoding it replaces on every request.
func BenchmarkDecodeID(b *testing.B) {
	c, err := session.NewCookieCodec([]byte(strings.Repeat("s", 32)))
	if err != nil {
		b.Fatal(err)
	}
	id := session.NewID()
	v, _ := c.EncodeID("rpkit", id)
	legacy, _ := c.Encode("rpkit", id)
	b.Run("impl=DecodeID", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.DecodeID("rpkit", v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=securecookie", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got string
			if err := c.Decode("rpkit", legacy, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}
