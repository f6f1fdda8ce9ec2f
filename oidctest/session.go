package oidctest

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Session is a provider session: one user logged in at the provider in one
// browser, and the clients that took part in it.
type Session struct {
	SID       string
	Subject   string
	AuthTime  time.Time
	ClientIDs []string // in order of first login
}

// session is the provider's record of a Session.
type session struct {
	Session
	seq     uint64 // creation order
	browser string // the value of the browser's session cookie
}

// A provider session belongs to the browser that logged in: the
// authorization endpoint sets a session cookie on the provider's own origin
// (host-only, HttpOnly, SameSite=Lax), named after the provider's port
// (cookies are not isolated by port, and two providers on one host must not
// overwrite each other's), whose value is an opaque random ID that maps to
// the session, never the sid itself. A browser without the cookie, or whose
// cookie names an ended session or another user's, gets a new session with
// a new sid. [Provider.Authorize] keeps one cookie per user, as one browser
// per user would.

// sessionCookieName returns the name of the provider's session cookie.
func (p *Provider) sessionCookieName() string {
	return "oidctest_session_" + p.issuer[strings.LastIndexByte(p.issuer, ':')+1:]
}

// browserOf returns the session cookie's value of r, "" without one.
func (p *Provider) browserOf(r *http.Request) string {
	c, err := r.Cookie(p.sessionCookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

// sessionCookie returns the cookie that makes a browser's value its own.
func (p *Provider) sessionCookie(browser string) *http.Cookie {
	return &http.Cookie{Name: p.sessionCookieName(), Value: browser, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// Sessions returns the live provider sessions, oldest first.
func (p *Provider) Sessions() []Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := make([]*session, 0, len(p.sessions))
	for _, s := range p.sessions {
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b *session) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]Session, len(all))
	for i, s := range all {
		out[i] = s.Session
		out[i].ClientIDs = slices.Clone(s.ClientIDs)
	}
	return out
}

// EndSession ends a provider session without notifying any client. It
// returns false if sid is unknown. Tokens already issued stay valid.
func (p *Provider) EndSession(sid string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.endSessionLocked(sid)
	return ok
}

// endSessionLocked removes a session and returns it. p.mu must be held.
func (p *Provider) endSessionLocked(sid string) (Session, bool) {
	s, ok := p.sessions[sid]
	if !ok {
		return Session{}, false
	}
	delete(p.sessions, sid)
	delete(p.browsers, s.browser)
	return s.Session, true
}

// login returns the provider session of the browser (its session cookie's
// value, "" for none) for a login of subject at clientID, creating one if
// the browser has none for that user. With reauth, an existing session gets
// a new auth_time. It also returns the browser's cookie value, new when
// the session is.
func (p *Provider) login(browser, subject, clientID string, reauth func(authTime time.Time) bool) (Session, string) {
	now := p.cfg.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[p.browsers[browser]]
	if !ok || s.Subject != subject {
		p.sessionSeq++
		s = &session{Session: Session{SID: randomID(), Subject: subject, AuthTime: now}, seq: p.sessionSeq, browser: randomID()}
		p.sessions[s.SID] = s
		p.browsers[s.browser] = s.SID
	} else if reauth(s.AuthTime) {
		s.AuthTime = now
	}
	if !slices.Contains(s.ClientIDs, clientID) {
		s.ClientIDs = append(s.ClientIDs, clientID)
	}
	out := s.Session
	out.ClientIDs = slices.Clone(s.ClientIDs)
	return out, s.browser
}
