package oidctest

import (
	"cmp"
	"slices"
	"time"
)

// Session is a provider session: one user logged in at the provider, and
// the clients that took part in it.
type Session struct {
	SID       string
	Subject   string
	AuthTime  time.Time
	ClientIDs []string // in order of first login
}

// session is the provider's record of a Session.
type session struct {
	Session
	seq uint64 // creation order
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
	if p.userSessions[s.Subject] == sid {
		delete(p.userSessions, s.Subject)
	}
	return s.Session, true
}

// login returns the user's provider session for a login at clientID,
// creating it if needed. With reauth, an existing session gets a new
// auth_time.
func (p *Provider) login(subject, clientID string, reauth func(authTime time.Time) bool) Session {
	now := p.cfg.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[p.userSessions[subject]]
	if !ok {
		p.sessionSeq++
		s = &session{Session: Session{SID: randomID(), Subject: subject, AuthTime: now}, seq: p.sessionSeq}
		p.sessions[s.SID] = s
		p.userSessions[subject] = s.SID
	} else if reauth(s.AuthTime) {
		s.AuthTime = now
	}
	if !slices.Contains(s.ClientIDs, clientID) {
		s.ClientIDs = append(s.ClientIDs, clientID)
	}
	out := s.Session
	out.ClientIDs = slices.Clone(s.ClientIDs)
	return out
}
