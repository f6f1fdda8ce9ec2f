package session_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/session"
)

func wireSession() *session.Session {
	loc := time.FixedZone("UTC+7", 7*3600)
	created := time.Date(2025, 3, 4, 5, 6, 7, 123456789, loc)
	return &session.Session{
		ID:                session.NewID(),
		Issuer:            "https://op.example",
		Subject:           "alice",
		SID:               "sid-1",
		IDToken:           "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
		Claims:            json.RawMessage(`{"sub":"alice","html":"<b>&</b>","n":[1,2.5e3,null,true],"u":"é` + "\u2028" + `"}`),
		AccessToken:       "at",
		RefreshToken:      "rt",
		AccessTokenExpiry: created.Add(time.Hour + 1),
		Created:           created,
		LastSeen:          time.Now(), // carries a monotonic reading
		Expiry:            created.Add(12 * time.Hour).In(time.UTC),
		Version:           1<<63 + 5,
	}
}

func TestWireRoundTrip(t *testing.T) {
	want := wireSession()
	b, err := session.Marshal(want)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if bytes.Contains(b, []byte(want.ID)) {
		t.Error("the record holds the session ID")
	}
	got, err := session.Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal(%s): %v", b, err)
	}
	if got.ID != "" {
		t.Errorf("ID = %q, want empty", got.ID)
	}
	checkSame(t, got, want)

	// Marshal is deterministic: the same session gives the same bytes.
	b2, err := session.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("Marshal(Unmarshal(b)) = %s, want %s", b2, b)
	}
}

func TestWireMinimal(t *testing.T) {
	want := &session.Session{Issuer: "i", Subject: "s", Expiry: time.Unix(1e9, 1)}
	b, err := session.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := session.Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal(%s): %v", b, err)
	}
	if got.Claims != nil {
		t.Errorf("Claims = %q, want nil", got.Claims)
	}
	for name, tm := range map[string]time.Time{"AccessTokenExpiry": got.AccessTokenExpiry, "Created": got.Created, "LastSeen": got.LastSeen} {
		if !tm.IsZero() {
			t.Errorf("%s = %v, want zero", name, tm)
		}
	}
	checkSame(t, got, want)
}

// TestWireFields pins the field names: other implementations (and Lua
// scripts) may read records.
func TestWireFields(t *testing.T) {
	b, err := session.Marshal(wireSession())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"at", "at_exp", "claims", "created", "expiry", "id_token", "iss", "last_seen", "rt", "sid", "sub", "v", "version"}
	if !slices.Equal(keys, want) {
		t.Errorf("record fields = %q, want %q", keys, want)
	}
	if string(m["v"]) != "1" {
		t.Errorf(`"v" = %s, want 1`, m["v"])
	}
	if !bytes.HasPrefix(m["claims"], []byte("{")) {
		t.Errorf(`"claims" = %s, want an object`, m["claims"])
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	good, err := session.Marshal(wireSession())
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("record %s lacks %s", good, old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"garbage", []byte("garbage")},
		{"null", []byte("null")},
		{"array", []byte("[1]")},
		{"empty object", []byte("{}")},
		{"version 0", replace(`"v":1`, `"v":0`)},
		{"version 2", replace(`"v":1`, `"v":2`)},
		{"version as string", replace(`"v":1`, `"v":"1"`)},
		{"version fraction", replace(`"v":1`, `"v":1.5`)},
		{"version huge", replace(`"v":1`, `"v":1e100`)},
		{"no version", replace(`"v":1,`, ``)},
		{"no issuer", replace(`"iss":"https://op.example"`, `"iss":""`)},
		{"no subject", replace(`"sub":"alice"`, `"sub":""`)},
		{"no expiry", replace(`"expiry":`, `"expiry_":`)},
		{"bad time", replace(`"created":"2025`, `"created":"x2025`)},
		{"bad version type", replace(`"version":`, `"version":-1,"_":`)},
		{"truncated", good[:len(good)-1]},
		{"trailing data", append(bytes.Clone(good), "{}"...)},
		{"two records", append(bytes.Clone(good), good...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := session.Unmarshal(tt.b)
			if !errors.Is(err, session.ErrInvalidRecord) {
				t.Fatalf("Unmarshal(%s) = %v, %v; want ErrInvalidRecord", tt.b, s, err)
			}
			if s != nil {
				t.Error("Unmarshal returned a session with its error")
			}
			if !strings.HasPrefix(err.Error(), "session: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestMarshalRefuses(t *testing.T) {
	bad := func(f func(*session.Session)) *session.Session {
		s := wireSession()
		f(s)
		return s
	}
	tests := []struct {
		name    string
		s       *session.Session
		invalid bool // the error wraps ErrInvalidSession
	}{
		{"nil", nil, true},
		{"invalid claims", bad(func(s *session.Session) { s.Claims = json.RawMessage(`{"a":`) }), true},
		{"trailing claims", bad(func(s *session.Session) { s.Claims = json.RawMessage(`{} {}`) }), true},
		{"no issuer", bad(func(s *session.Session) { s.Issuer = "" }), true},
		{"no subject", bad(func(s *session.Session) { s.Subject = "" }), true},
		{"no expiry", bad(func(s *session.Session) { s.Expiry = time.Time{} }), true},
		{"year 10000", bad(func(s *session.Session) { s.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := session.Marshal(tt.s)
			if err == nil {
				t.Fatalf("Marshal = %s, want an error", b)
			}
			if !strings.HasPrefix(err.Error(), "session: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if got := errors.Is(err, session.ErrInvalidSession); got != tt.invalid {
				t.Errorf("Marshal = %v; wraps ErrInvalidSession: %v, want %v", err, got, tt.invalid)
			}
		})
	}
}

// TestMarshalEmptyClaims: empty but non-nil Claims are no claims, as for
// the memory store, not an encoding error.
func TestMarshalEmptyClaims(t *testing.T) {
	s := wireSession()
	s.Claims = json.RawMessage{}
	b, err := session.Marshal(s)
	if err != nil {
		t.Fatalf("Marshal with empty Claims: %v", err)
	}
	got, err := session.Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal(%s): %v", b, err)
	}
	if got.Claims != nil {
		t.Errorf("Claims = %q, want nil", got.Claims)
	}
}

// wireSeeds are records for the fuzzers to start from: what Marshal
// writes for sessions of every shape (fast and slow paths), and edits of
// them that each path must handle as encoding/json does.
func wireSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	withParams := wireSession()
	withParams.AuthParams = map[string]string{"session_id": "gluu-1", "b": "2", "a": ""}
	escaped := wireSession()
	escaped.Subject = "a\"b\\c\u2028<d>\x01"
	escaped.IDToken = "é"
	var seeds [][]byte
	for _, s := range []*session.Session{
		wireSession(),
		realisticSession(),
		withParams,
		escaped,
		{Issuer: "i", Subject: "s", Expiry: time.Unix(1e9, 1)},
	} {
		b, err := session.Marshal(s)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	good := seeds[0]
	for _, edit := range [][2]string{
		{`"v":1`, `"v":2`},
		{`"v":1`, `"V":1`},
		{`"v":1,`, `"v":1,"v":null,`},
		{`"iss":`, `"iss" :`},
		{`"sub":"alice"`, `"sub":"al\u0069ce"`},
		{`"sub":"alice"`, "\"sub\":\"al\xffce\""},
		{`"sub":"alice"`, "\"sub\":\"al\tce\""},
		{`"sub":"alice"`, `"sub":"al\tce"`},
		{`"sid":"sid-1"`, `"sid":null`},
		{`"claims":{`, `"claims": {`},
		{`"claims":{`, `"claims":"x","y":{`},
		{`"at":"at"`, `"at":"at","extra":1`},
		{`"created":"2025`, `"created":"x2025`},
		{`"created":"`, `"created":null,"_":"`},
		{`"version":`, `"version":0`},
		{`"version":`, `"version":-`},
		{`"version":`, `"version":1e1,"_":`},
	} {
		seeds = append(seeds, bytes.Replace(good, []byte(edit[0]), []byte(edit[1]), 1))
	}
	return append(seeds,
		[]byte(`{"v":1,"iss":"i","sub":"s","expiry":"2030-01-01T00:00:00Z"}`),
		[]byte(`{"v":1,"iss":"i","sub":"s","sid":"","id_token":"","claims":[1,{"a":"\"}"}],"at":"","rt":"","at_exp":"0001-01-01T00:00:00Z","created":"0001-01-01T00:00:00Z","last_seen":"0001-01-01T00:00:00Z","expiry":"2030-01-01T00:00:00+01:00","version":18446744073709551615,"auth_params":{"k":"v","k":"w"}}`),
		[]byte(`{"v":2}`),
		[]byte("garbage"),
		append(bytes.Clone(good), ' '),
	)
}

// FuzzUnmarshal holds Unmarshal to the encoding/json decoding it had
// before its fast path (UnmarshalV1), for any bytes: the same session, or
// the same error. Where the fast path decodes, it gives that session too.
func FuzzUnmarshal(f *testing.F) {
	for _, b := range wireSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := checkUnmarshal(t, b)
		if err != nil {
			if !errors.Is(err, session.ErrInvalidRecord) {
				t.Fatalf("Unmarshal = %v, does not wrap ErrInvalidRecord", err)
			}
			return
		}
		// What Unmarshal accepts, Marshal writes back, and its output is a
		// fixed point. (Marshal may refuse a time that is in range only
		// with its offset, such as 0000-01-01T00:00:00+01:00.)
		b2, err := session.Marshal(s)
		if err != nil {
			return
		}
		s2, err := session.Unmarshal(b2)
		if err != nil {
			t.Fatalf("Unmarshal(%s): %v", b2, err)
		}
		if s.Claims != nil { // Marshal compacts them
			var c bytes.Buffer
			if err := json.Compact(&c, s.Claims); err != nil {
				t.Fatal(err)
			}
			s.Claims = c.Bytes()
		}
		checkSame(t, s2, s)
		b3, err := session.Marshal(s2)
		if err != nil || !bytes.Equal(b3, b2) {
			t.Fatalf("Marshal(Unmarshal(%s)) = %s, %v", b2, b3, err)
		}
	})
}

// checkUnmarshal decodes b every way there is — Unmarshal, UnmarshalString,
// both fast paths, the slow path — and fails t unless each gives what
// UnmarshalV1 gives (a fast path may only decline). It returns Unmarshal's
// result.
func checkUnmarshal(t *testing.T, b []byte) (*session.Session, error) {
	t.Helper()
	want, wantErr := session.UnmarshalV1(bytes.Clone(b))
	same := func(s *session.Session, err error) bool {
		if err != nil || wantErr != nil {
			return err != nil && wantErr != nil && err.Error() == wantErr.Error()
		}
		return reflect.DeepEqual(s, want)
	}
	in := bytes.Clone(b)
	s, err := session.Unmarshal(in)
	for i := range in {
		in[i] = 'x' // the session holds none of its input
	}
	if !same(s, err) {
		t.Fatalf("Unmarshal(%q) = %+v, %v; want %+v, %v", b, s, err, want, wantErr)
	}
	if s, err := session.UnmarshalString(string(b)); !same(s, err) {
		t.Fatalf("UnmarshalString(%q) = %+v, %v; want %+v, %v", b, s, err, want, wantErr)
	}
	if s, err := session.UnmarshalSlow(b); !same(s, err) {
		t.Fatalf("slow path of %q: %+v, %v; want %+v, %v", b, s, err, want, wantErr)
	}
	fastBytes, okBytes := session.UnmarshalFastBytes(b)
	fast, ok := session.UnmarshalFast(string(b))
	switch {
	case ok != okBytes:
		t.Fatalf("the fast paths of bytes (%v) and of a string (%v) disagree on %q", okBytes, ok, b)
	case ok && !same(fast, nil):
		t.Fatalf("fast path of %q: %+v; want %+v, %v", b, fast, want, wantErr)
	case ok && !same(fastBytes, nil):
		t.Fatalf("fast path of bytes %q: %+v; want %+v, %v", b, fastBytes, want, wantErr)
	}
	return s, err
}

// FuzzMarshal holds Marshal's fast path to encoding/json: where it writes,
// it writes the same bytes, and those bytes take Unmarshal's fast path.
// It also feeds every record Marshal writes to checkUnmarshal: valid
// records of any content, which byte mutations of FuzzUnmarshal's seeds
// seldom are.
func FuzzMarshal(f *testing.F) {
	f.Add("https://op.example", "alice", "sid-1", "h.p.s", []byte(`{"sub":"alice","html":"<b>&</b>"}`), "at", "rt",
		int64(1741064767), int64(123456789), int64(-62135596800), uint64(1<<63+5), "session_id", "x")
	f.Add("i", "s", "", "", []byte(nil), "", "", int64(253402300800), int64(0), int64(0), uint64(0), "", "")
	f.Add("i\x7f", "s\"", "\u2028", "é", []byte(" [ 1 , 2 ] "), "a\\", "\x00", int64(-62167219200), int64(-1), int64(1), uint64(1), "<", ">")
	f.Fuzz(func(t *testing.T, iss, sub, sid, idt string, claims []byte, at, rt string, sec, nsec, sec2 int64, version uint64, k, v string) {
		s := &session.Session{
			Issuer: iss, Subject: sub, SID: sid, IDToken: idt, Claims: claims, AccessToken: at, RefreshToken: rt,
			AccessTokenExpiry: time.Unix(sec2, nsec),
			Created:           time.Unix(sec, 0),
			LastSeen:          time.Unix(sec, nsec).In(time.FixedZone("", int(nsec%86400))),
			Expiry:            time.Unix(sec, nsec),
			Version:           version,
		}
		if k != "" || v != "" {
			s.AuthParams = map[string]string{k: v, k + "2": v}
		}
		if version%2 == 1 { // at_iat in half the records, from the seed's times
			s.AccessTokenIssued = time.Unix(sec2, nsec/2)
		}
		if session.Validate(s) != nil {
			return
		}
		want, wantErr := session.MarshalSlow(s)
		b, err := session.Marshal(s)
		if !bytes.Equal(b, want) || (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("Marshal = %s, %v; want %s, %v", b, err, want, wantErr)
		}
		if err == nil {
			checkUnmarshal(t, b) // a valid record of any content, for the decoders
		}
		fast, ok := session.MarshalFast(s)
		if !ok {
			return
		}
		if wantErr != nil || !bytes.Equal(fast, want) {
			t.Fatalf("fast path: %s; want %s, %v", fast, want, wantErr)
		}
		if _, ok := session.UnmarshalFast(string(fast)); !ok {
			t.Fatalf("Unmarshal's fast path declines what Marshal's wrote: %s", fast)
		}
	})
}

// FuzzScanValue holds the fast path's JSON scanner to json.Valid: what it
// scans is valid, and it scans every valid value that has no white space
// around it and nests no deeper than its limit.
func FuzzScanValue(f *testing.F) {
	for _, s := range []string{
		`{"sub":"alice","html":"<b>&</b>","n":[1,2.5e3,null,true],"u":"\u00e9"}`,
		`{ "a" : [ 1 , -0.5E+2 , { } , [ ] , "\"\\\/\b\f\n\r\t" ] }`,
		`"x"`, `0`, `-1.0e-7`, `true`, `false`, `null`, `01`, `1.`, `.5`, `1e`, `-`, `tru`, `{"a":1,}`, `[1,]`,
		`{"a" 1}`, `{1:2}`, `"\x"`, `"\u12"`, "\"\x01\"", "\"\xff\"", `[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := session.ScanValue(b, 0)
		if s := session.ScanValueString(string(b), 0); s != end {
			t.Fatalf("ScanValue(%q) = %d of bytes, %d of a string", b, end, s)
		}
		if end >= 0 && !json.Valid(b[:end]) {
			t.Fatalf("ScanValue(%q) = %d, but %q is not valid JSON", b, end, b[:end])
		}
		space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
		if json.Valid(b) && !space(b[0]) && !space(b[len(b)-1]) && jsonDepth(b) <= session.JSONMaxDepth && end != len(b) {
			t.Fatalf("ScanValue(%q) = %d, want %d", b, end, len(b))
		}
	})
}

// jsonDepth is the deepest nesting of valid JSON b.
func jsonDepth(b []byte) int {
	depth, max, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if depth++; depth > max {
				max = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return max
}

// TestWireFastPaths: the records of ordinary sessions take both fast
// paths (the fuzzers only check that the paths agree where they are
// taken).
func TestWireFastPaths(t *testing.T) {
	withParams := realisticSession()
	withParams.AuthParams = map[string]string{"session_id": "gluu-1"}
	for name, s := range map[string]*session.Session{
		"test":        wireSession(),
		"realistic":   realisticSession(),
		"auth params": withParams,
		"minimal":     {Issuer: "i", Subject: "s", Expiry: time.Unix(1e9, 1)},
	} {
		b, ok := session.MarshalFast(s)
		if !ok {
			t.Errorf("%s: Marshal takes encoding/json", name)
			continue
		}
		if _, ok := session.UnmarshalFast(string(b)); !ok {
			t.Errorf("%s: Unmarshal takes encoding/json for %s", name, b)
		}
	}
}

// TestUnmarshalKeepsNoBytes: the session Unmarshal returns shares no
// memory with its input, on either path, so callers may reuse the buffer.
func TestUnmarshalKeepsNoBytes(t *testing.T) {
	slow := wireSession()
	slow.Subject = "al\"ice"
	for _, s := range []*session.Session{wireSession(), slow} {
		b, err := session.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := session.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = 'x'
		}
		checkSame(t, got, s)
	}
}

// checkSame compares every field but ID: times with Equal, Claims as bytes.
func checkSame(t *testing.T, got, want *session.Session) {
	t.Helper()
	for _, f := range []struct{ name, got, want string }{
		{"Issuer", got.Issuer, want.Issuer},
		{"Subject", got.Subject, want.Subject},
		{"SID", got.SID, want.SID},
		{"IDToken", got.IDToken, want.IDToken},
		{"Claims", string(got.Claims), string(want.Claims)},
		{"AccessToken", got.AccessToken, want.AccessToken},
		{"RefreshToken", got.RefreshToken, want.RefreshToken},
	} {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"AccessTokenExpiry", got.AccessTokenExpiry, want.AccessTokenExpiry},
		{"Created", got.Created, want.Created},
		{"LastSeen", got.LastSeen, want.LastSeen},
		{"Expiry", got.Expiry, want.Expiry},
		{"AccessTokenIssued", got.AccessTokenIssued, want.AccessTokenIssued},
	} {
		if !f.got.Equal(f.want) {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if got.Version != want.Version {
		t.Errorf("Version = %d, want %d", got.Version, want.Version)
	}
}

// TestWireAccessTokenIssued: at_iat is written after everything else when
// the session has an AccessTokenIssued, read back by every decoder, and
// left out when it is zero, so that such records keep their bytes.
func TestWireAccessTokenIssued(t *testing.T) {
	without := wireSession()
	old, err := session.Marshal(without)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(old, []byte("at_iat")) {
		t.Fatalf("a zero AccessTokenIssued is written: %s", old)
	}
	with := wireSession()
	with.AuthParams = map[string]string{"session_id": "gluu"}
	with.AccessTokenIssued = with.Created.Add(time.Minute)
	b, err := session.Marshal(with)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte(`,"at_iat":"2025-03-03T22:07:07.123456789Z"}`)) {
		t.Fatalf("record %s", b)
	}
	if fast, ok := session.MarshalFast(with); !ok || !bytes.Equal(fast, b) {
		t.Fatalf("fast path: %v, %s", ok, fast)
	}
	if slow, err := session.MarshalSlow(with); err != nil || !bytes.Equal(slow, b) {
		t.Fatalf("encoding/json path: %v, %s", err, slow)
	}
	if _, ok := session.UnmarshalFast(string(b)); !ok {
		t.Fatal("the fast path declines a record with at_iat")
	}
	got, err := checkUnmarshal(t, b)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, got, with)
}
