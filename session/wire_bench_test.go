package session_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/session"
)

// realisticSession is a session of the size a provider gives: a 1 KB ID
// token, a 1 KB access token, a 700 B refresh token, about 200 B of
// claims, a sid and the four times.
func realisticSession() *session.Session {
	tok := func(n int, seed byte) string {
		raw := make([]byte, n*3/4)
		for i := range raw {
			raw[i] = seed + byte(i*7)
		}
		s := base64.RawURLEncoding.EncodeToString(raw)[:n]
		return s[:n/5] + "." + s[n/5+1:n*4/5] + "." + s[n*4/5+1:]
	}
	created := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
	return &session.Session{
		Issuer:       "https://login.example.com/realms/main",
		Subject:      "248289761001",
		SID:          "08a5019c-17e1-4977-8f42-65a12843ea02",
		IDToken:      tok(1024, 1),
		Claims:       json.RawMessage(`{"iss":"https://login.example.com/realms/main","sub":"248289761001","aud":"app","exp":1741068367,"iat":1741064767,"auth_time":1741064760,"sid":"08a5019c-17e1-4977-8f42-65a12843ea02","email":"jane@example.com","name":"Jane Doe"}`),
		AccessToken:  tok(1024, 2),
		RefreshToken: tok(700, 3),
		// Times as a refresh leaves them: nanoseconds.
		AccessTokenExpiry: created.Add(5*time.Minute + 987654321),
		Created:           created,
		LastSeen:          created.Add(17*time.Minute + 1234),
		Expiry:            created.Add(12 * time.Hour),
		Version:           42,
	}
}

func TestRealisticSessionSize(t *testing.T) {
	b, err := session.Marshal(realisticSession())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2900 || len(b) > 3500 {
		t.Errorf("record is %d bytes, want about 3 KB", len(b))
	}
	if strings.Contains(string(b), `\`) {
		t.Error("record has an escape")
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	rec, err := session.Marshal(realisticSession())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := session.Unmarshal(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalString(b *testing.B) {
	rec, err := session.Marshal(realisticSession())
	if err != nil {
		b.Fatal(err)
	}
	s := string(rec)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := session.UnmarshalString(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	s := realisticSession()
	rec, err := session.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := session.Marshal(s); err != nil {
			b.Fatal(err)
		}
	}
}
