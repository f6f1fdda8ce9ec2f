package session_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rpkit/rpkit/session"
)

func ExampleNewMemoryStore() {
	ctx := context.Background()
	store := session.NewMemoryStore(session.MemoryConfig{})

	// Two browsers of one user in the same provider session, and a third
	// browser in another provider session.
	for _, sid := range []string{"sid-1", "sid-1", "sid-2"} {
		s := &session.Session{
			Issuer:  "https://op.example",
			Subject: "alice",
			SID:     sid,
			Expiry:  time.Now().Add(12 * time.Hour),
		}
		if err := store.Create(ctx, s); err != nil {
			fmt.Println(err)
			return
		}
	}

	// A back-channel logout for sid-1 ends both of its sessions, and a
	// login to that provider session completing afterwards is refused.
	n, err := store.Logout(ctx, session.Logout{Issuer: "https://op.example", SID: "sid-1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ended", n, "sessions")
	late := &session.Session{Issuer: "https://op.example", Subject: "alice", SID: "sid-1", Expiry: time.Now().Add(time.Hour)}
	fmt.Println("late login refused:", errors.Is(store.Create(ctx, late), session.ErrLoggedOut))

	n, _ = store.DeleteBySubject(ctx, "https://op.example", "alice")
	fmt.Println("then", n, "more")
	// Output:
	// ended 2 sessions
	// late login refused: true
	// then 1 more
}

func ExampleNewCookieCodec() {
	// In production, secrets are 32 or more random bytes from configuration,
	// newest first.
	newest := []byte("0123456789abcdef0123456789abcdef")
	previous := []byte("fedcba9876543210fedcba9876543210")
	codec, err := session.NewCookieCodec(newest, previous)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The session cookie: the ID and a MAC of it, checked on every request.
	value, err := codec.EncodeID("rpkit", "the-session-id")
	if err != nil {
		fmt.Println(err)
		return
	}
	id, err := codec.DecodeID("rpkit", value)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(id)

	// The value is bound to its cookie name.
	_, err = codec.DecodeID("other", value)
	fmt.Println(errors.Is(err, session.ErrInvalidCookie))
	// Output:
	// the-session-id
	// true
}
