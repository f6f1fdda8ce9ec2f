package rp

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzClaimsDecode holds the claims' own decoders (jsonString, audience,
// numericDate, optionalString) to encoding/json's reading of the same
// values.
func FuzzClaimsDecode(f *testing.F) {
	for _, s := range []string{`"alice"`, `"a\"b"`, `"é"`, `"\u0041"`, `["a","b"]`, `7`, `-1.5`, `1e3`, `1e400`, `null`, `true`, `{}`, `"a` + "\x01" + `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return // encoding/json never hands a decoder an invalid value
		}
		var want string
		wantErr := json.Unmarshal(b, &want)
		got, err := jsonString(b)
		if (err == nil) != (wantErr == nil) || err == nil && got != want {
			t.Fatalf("jsonString(%q) = %q, %v; want %q, %v", b, got, err, want, wantErr)
		}
		var f64 float64
		wantNumErr := json.Unmarshal(b, &f64)
		var d numericDate
		if err := d.UnmarshalJSON(b); wantNumErr != nil && err == nil {
			t.Fatalf("numericDate accepted %q, which is not a float64", b)
		}
		var a audience
		aErr := a.UnmarshalJSON(b)
		var ss []string
		if wantErr == nil {
			if aErr != nil || !reflect.DeepEqual([]string(a), []string{want}) {
				t.Fatalf("audience(%q) = %q, %v", b, a, aErr)
			}
		} else if json.Unmarshal(b, &ss) == nil && string(b) != "null" && (aErr != nil || !reflect.DeepEqual([]string(a), ss)) {
			t.Fatalf("audience(%q) = %q, %v; want %q", b, a, aErr, ss)
		}
	})
}
