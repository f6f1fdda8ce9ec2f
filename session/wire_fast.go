package session

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
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
// (FuzzUnmarshal, FuzzMarshal) hold them to that, byte for byte.

// unmarshalFast decodes b when it is a record as Marshal writes it, with
// an issuer, a subject and an expiry; else it reports false, and
// encoding/json decides. It returns what unmarshalJSON returns for the
// same bytes, and retains no part of b.
func unmarshalFast(b []byte) (*Session, bool) {
	r := wireReader{b: b}
	s := new(Session)
	r.lit(`{"v":1,"iss":`)
	s.Issuer = r.str()
	r.lit(`,"sub":`)
	s.Subject = r.str()
	r.lit(`,"sid":`)
	s.SID = r.str()
	r.lit(`,"id_token":`)
	s.IDToken = r.str()
	r.lit(`,"claims":`)
	s.Claims = r.raw()
	r.lit(`,"at":`)
	s.AccessToken = r.str()
	r.lit(`,"rt":`)
	s.RefreshToken = r.str()
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
	if r.next(',') {
		r.lit(`"auth_params":{`)
		s.AuthParams = make(map[string]string)
		for !r.bad {
			k := r.str()
			r.lit(":")
			s.AuthParams[k] = r.str()
			if !r.next(',') {
				break
			}
		}
		r.lit("}")
	}
	r.lit("}")
	if r.bad || r.i != len(b) || s.Issuer == "" || s.Subject == "" || s.Expiry.IsZero() {
		return nil, false
	}
	return s, true
}

// wireReader reads b from i on. The first unexpected byte sets bad; from
// then on every method returns a zero value and reads nothing.
type wireReader struct {
	b   []byte
	i   int
	bad bool
}

// lit consumes s.
func (r *wireReader) lit(s string) {
	if r.bad || !bytes.HasPrefix(r.b[r.i:], []byte(s)) {
		r.bad = true
		return
	}
	r.i += len(s)
}

// next consumes c if it comes next, and reports whether it did.
func (r *wireReader) next(c byte) bool {
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
func (r *wireReader) plain() []byte {
	if r.bad || r.i >= len(r.b) || r.b[r.i] != '"' {
		r.bad = true
		return nil
	}
	start := r.i + 1
	n := bytes.IndexByte(r.b[start:], '"')
	if n < 0 {
		r.bad = true
		return nil
	}
	s := r.b[start : start+n]
	if bytes.IndexByte(s, '\\') >= 0 {
		r.bad = true
		return nil
	}
	switch ascii, ok := checkText(s); {
	case !ok, !ascii && !utf8.Valid(s):
		r.bad = true
		return nil
	}
	r.i = start + n + 1
	return s
}

// checkText reports whether s is all ASCII, and whether it holds no
// control character (below 0x20), which JSON strings may not hold.
func checkText(s []byte) (ascii, ok bool) {
	ascii = true
	// Eight bytes at a time: a byte below 0x20 or from 0x80 on sets a
	// high bit of x | (x - 0x20…20); a word that sets none has neither.
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64(s)
		if (x|(x-0x2020202020202020))&0x8080808080808080 != 0 {
			break
		}
		s = s[8:]
	}
	for _, c := range s {
		switch {
		case c < 0x20:
			return false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii, true
}

// str consumes a plain string and returns a copy of it.
func (r *wireReader) str() string { return string(r.plain()) }

// time consumes a time as time.Time's UnmarshalJSON reads it: the string's
// raw bytes in strict RFC 3339.
func (r *wireReader) time() time.Time {
	var t time.Time
	if s := r.plain(); !r.bad && t.UnmarshalText(s) != nil {
		r.bad = true
	}
	return t
}

// uint consumes a JSON integer that fits a uint64.
func (r *wireReader) uint() uint64 {
	start := r.i
	for !r.bad && r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
		r.i++
	}
	digits := r.b[start:r.i]
	if r.bad || len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		r.bad = true
		return 0
	}
	n, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		r.bad = true
	}
	return n
}

// raw consumes a JSON value and returns a copy of its bytes, or nil for
// null, as a json.RawMessage field reads it. The value is delimited by a
// scan that knows only strings and nesting, then checked by json.Valid.
func (r *wireReader) raw() json.RawMessage {
	if r.bad || r.i >= len(r.b) {
		r.bad = true
		return nil
	}
	start, end := r.i, -1
	switch r.b[start] {
	case '{', '[':
		depth := 0
	scan:
		for i := start; i < len(r.b); i++ {
			switch r.b[i] {
			case '"':
				if i = stringEnd(r.b, i); i < 0 {
					break scan
				}
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					end = i + 1
					break scan
				}
			}
		}
	case '"':
		if i := stringEnd(r.b, start); i >= 0 {
			end = i + 1
		}
	case 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		end = start
		for end < len(r.b) && r.b[end] != ',' && r.b[end] != '}' && r.b[end] != ']' &&
			r.b[end] != ' ' && r.b[end] != '\t' && r.b[end] != '\n' && r.b[end] != '\r' {
			end++
		}
	}
	if end < 0 || !json.Valid(r.b[start:end]) {
		r.bad = true
		return nil
	}
	r.i = end
	v := r.b[start:end]
	if string(v) == "null" {
		return nil
	}
	return slices.Clone(json.RawMessage(v))
}

// stringEnd returns the index of the quote that closes the JSON string
// opened at b[i], or -1: the first quote after an even number of
// backslashes. (Whether the string is valid, json.Valid says.)
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; j++ {
		n := bytes.IndexByte(b[j:], '"')
		if n < 0 {
			return -1
		}
		j += n
		k := j
		for k > i+1 && b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return j
		}
	}
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
