package session

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The fast paths below read and write exactly the bytes that
// encoding/json gives for a wireSession: its keys in their order, compact,
// with HTML characters unescaped. Whatever they do not expect — an escape
// in a string, a byte outside printable ASCII (on the write side), white
// space, another key order, an unknown field, a time out of range — makes
// them decline, and Unmarshal and Marshal take encoding/json instead, so
// that results and errors are encoding/json's in every case. The tests
// (FuzzUnmarshal, FuzzMarshal, FuzzScanValue) hold them to that, byte for
// byte.

// wireBytes is what unmarshalFast reads: Unmarshal's bytes, or
// UnmarshalString's string.
type wireBytes interface{ []byte | string }

// unmarshalFast decodes rec when it is a record as Marshal writes it, with
// an issuer, a subject and an expiry; else it reports false, and
// encoding/json decides. It returns what unmarshalJSON returns for the
// same bytes, and keeps no part of rec but this: when rec is a string, the
// session's IDToken, AccessToken and RefreshToken are substrings of it.
// Its other strings are copies, so that keeping a subject, say, does not
// keep the record.
func unmarshalFast[T wireBytes](rec T) (*Session, bool) {
	r := wireReader[T]{b: rec}
	s := new(Session)
	r.lit(`{"v":1,"iss":`)
	s.Issuer = r.copy()
	r.lit(`,"sub":`)
	s.Subject = r.copy()
	r.lit(`,"sid":`)
	s.SID = r.copy()
	r.lit(`,"id_token":`)
	s.IDToken = string(r.plain())
	r.lit(`,"claims":`)
	s.Claims = r.raw()
	r.lit(`,"at":`)
	s.AccessToken = string(r.plain())
	r.lit(`,"rt":`)
	s.RefreshToken = string(r.plain())
	r.lit(`,"at_exp":`)
	s.AccessTokenExpiry = r.time()
	r.lit(`,"created":`)
	s.Created = r.time()
	r.lit(`,"last_seen":`)
	s.LastSeen = r.time()
	r.lit(`,"expiry":`)
	s.Expiry = r.time()
	r.lit(`,"version":`)
	s.Version = r.uint()
	if r.peek(`,"auth_params":{`) {
		s.AuthParams = make(map[string]string)
		for !r.bad {
			k := r.copy()
			r.lit(":")
			s.AuthParams[k] = r.copy()
			if !r.next(',') {
				break
			}
		}
		r.lit("}")
	}
	if r.peek(`,"at_iat":`) {
		s.AccessTokenIssued = r.time()
	}
	r.lit("}")
	if r.bad || r.i != len(rec) || s.Issuer == "" || s.Subject == "" || s.Expiry.IsZero() {
		return nil, false
	}
	return s, true
}

// wireReader reads b from i on. The first unexpected byte sets bad; from
// then on every method returns a zero value and reads nothing.
type wireReader[T wireBytes] struct {
	b   T
	i   int
	bad bool
}

// lit consumes s.
func (r *wireReader[T]) lit(s string) {
	if r.bad || len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		r.bad = true
		return
	}
	r.i += len(s)
}

// peek consumes s if it comes next, and reports whether it did.
func (r *wireReader[T]) peek(s string) bool {
	if r.bad || len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		return false
	}
	r.i += len(s)
	return true
}

// next consumes c if it comes next, and reports whether it did.
func (r *wireReader[T]) next(c byte) bool {
	if r.bad || r.i >= len(r.b) || r.b[r.i] != c {
		return false
	}
	r.i++
	return true
}

// plain consumes a JSON string without escapes and returns its contents,
// still in b. Anything encoding/json would read differently from its bytes
// (an escape, which it unquotes; invalid UTF-8, which it replaces) or
// refuse (a control character) sets bad.
func (r *wireReader[T]) plain() T {
	var zero T
	if r.bad || r.i >= len(r.b) || r.b[r.i] != '"' {
		r.bad = true
		return zero
	}
	start := r.i + 1
	n := indexByte(r.b[start:], '"')
	if n < 0 {
		r.bad = true
		return zero
	}
	s := r.b[start : start+n]
	if indexByte(s, '\\') >= 0 {
		r.bad = true
		return zero
	}
	switch ascii, ok := checkText(s); {
	case !ok, !ascii && !validUTF8(s):
		r.bad = true
		return zero
	}
	r.i = start + n + 1
	return s
}

// checkText reports whether s is all ASCII, and whether it holds no
// control character (below 0x20), which JSON strings may not hold.
func checkText[T wireBytes](s T) (ascii, ok bool) {
	ascii = true
	// Eight bytes at a time: a byte below 0x20 or from 0x80 on sets its
	// high bit in x | (x - 0x20…20); a word that sets none has neither.
	i := 0
	for ; len(s)-i >= 8; i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if (x|(x-0x2020202020202020))&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20:
			return false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii, true
}

// indexByte is bytes.IndexByte or strings.IndexByte.
func indexByte[T wireBytes](s T, c byte) int {
	switch s := any(s).(type) {
	case string:
		return strings.IndexByte(s, c)
	case []byte:
		return bytes.IndexByte(s, c)
	}
	panic("unreachable")
}

// validUTF8 is utf8.Valid or utf8.ValidString.
func validUTF8[T wireBytes](s T) bool {
	switch s := any(s).(type) {
	case string:
		return utf8.ValidString(s)
	case []byte:
		return utf8.Valid(s)
	}
	panic("unreachable")
}

// copy consumes a plain string and returns a copy of it.
func (r *wireReader[T]) copy() string {
	s := r.plain()
	if _, shared := any(s).(string); shared {
		return strings.Clone(string(s))
	}
	return string(s) // copies the bytes
}

// time consumes a time as time.Time's UnmarshalJSON reads it: the string's
// raw bytes in strict RFC 3339.
func (r *wireReader[T]) time() time.Time {
	var t time.Time
	s := r.plain()
	if r.bad {
		return t
	}
	var buf [len(time.RFC3339Nano)]byte
	b := buf[:0]
	if len(s) > len(buf) {
		b = nil // longer than Marshal writes, but may still be a time
	}
	if t.UnmarshalText(append(b, s...)) != nil {
		r.bad = true
	}
	return t
}

// uint consumes a JSON integer that fits a uint64.
func (r *wireReader[T]) uint() uint64 {
	start := r.i
	for !r.bad && r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
		r.i++
	}
	digits := r.b[start:r.i]
	if r.bad || len(digits) == 0 || len(digits) > 20 || len(digits) > 1 && digits[0] == '0' {
		r.bad = true
		return 0
	}
	var n uint64
	for i := 0; i < len(digits); i++ {
		d := uint64(digits[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			r.bad = true // does not fit
			return 0
		}
		n = n*10 + d
	}
	return n
}

// raw consumes a JSON value and returns a copy of its bytes, or nil for
// null, as a json.RawMessage field reads it.
func (r *wireReader[T]) raw() json.RawMessage {
	if r.bad {
		return nil
	}
	end := scanValue(r.b, r.i)
	if end < 0 {
		r.bad = true
		return nil
	}
	v := r.b[r.i:end]
	r.i = end
	if string(v) == "null" {
		return nil
	}
	return append(json.RawMessage(nil), v...) // a copy, from bytes too
}

// marshalFast writes s as Marshal does, when every string of s is
// printable ASCII without a quote or a backslash (strings encoding/json
// copies as they are) and every time is within RFC 3339; else it reports
// false, and encoding/json decides. s has passed validate.
func marshalFast(s *Session) ([]byte, bool) {
	strs := [...]string{s.Issuer, s.Subject, s.SID, s.IDToken, s.AccessToken, s.RefreshToken}
	n := len(s.Claims) + 300 // the keys, four times, a version and the braces
	for _, v := range strs {
		if !isPlain(v) {
			return nil, false
		}
		n += len(v)
	}
	for k, v := range s.AuthParams {
		if !isPlain(k) || !isPlain(v) {
			return nil, false
		}
		n += len(k) + len(v) + 6
	}
	var buf bytes.Buffer
	buf.Grow(n)
	b := buf.AvailableBuffer()
	b = append(b, `{"v":1,"iss":"`...)
	b = append(b, s.Issuer...)
	b = append(b, `","sub":"`...)
	b = append(b, s.Subject...)
	b = append(b, `","sid":"`...)
	b = append(b, s.SID...)
	b = append(b, `","id_token":"`...)
	b = append(b, s.IDToken...)
	b = append(b, `","claims":`...)
	if len(s.Claims) == 0 {
		b = append(b, "null"...)
		buf.Write(b)
	} else {
		// As encoding/json writes a json.RawMessage with HTML escaping
		// off: compacted, and nothing else changed.
		buf.Write(b)
		if err := json.Compact(&buf, s.Claims); err != nil {
			return nil, false
		}
	}
	b = buf.AvailableBuffer()
	b = append(b, `,"at":"`...)
	b = append(b, s.AccessToken...)
	b = append(b, `","rt":"`...)
	b = append(b, s.RefreshToken...)
	b = append(b, `","at_exp":`...)
	for i, t := range [...]time.Time{s.AccessTokenExpiry, s.Created, s.LastSeen, s.Expiry} {
		b = append(b, [...]string{``, `,"created":`, `,"last_seen":`, `,"expiry":`}[i]...)
		b = append(b, '"')
		var err error
		if b, err = t.UTC().AppendText(b); err != nil {
			return nil, false
		}
		b = append(b, '"')
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, s.Version, 10)
	if len(s.AuthParams) > 0 {
		b = append(b, `,"auth_params":{`...)
		keys := make([]string, 0, len(s.AuthParams))
		for k := range s.AuthParams {
			keys = append(keys, k)
		}
		slices.Sort(keys) // as encoding/json orders map keys
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, k...)
			b = append(b, `":"`...)
			b = append(b, s.AuthParams[k]...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	if !s.AccessTokenIssued.IsZero() {
		b = append(b, `,"at_iat":"`...)
		var err error
		if b, err = s.AccessTokenIssued.UTC().AppendText(b); err != nil {
			return nil, false
		}
		b = append(b, '"')
	}
	b = append(b, '}')
	buf.Write(b)
	return buf.Bytes(), true
}

// isPlain reports whether encoding/json writes s as it is between quotes:
// printable ASCII (and DEL) but the quote and the backslash.
func isPlain(s string) bool {
	if strings.IndexByte(s, '"') >= 0 || strings.IndexByte(s, '\\') >= 0 {
		return false
	}
	// Eight bytes at a time, as in checkText.
	for len(s) >= 8 {
		x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		if (x|(x-0x2020202020202020))&0x8080808080808080 != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
