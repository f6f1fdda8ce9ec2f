package main

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/session"
)

var pages = template.Must(template.New("layout").Parse(`{{define "top"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>rpkit webapp</title>
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ddd;margin-bottom:1.5rem}
.note{background:#eef6ee;border:1px solid #9c9;padding:.6rem 1rem;border-radius:.3rem}
.dev{background:#fff8e6;border:1px solid #e6c46a;padding:.6rem 1rem;border-radius:.3rem;margin-top:1.5rem}
.problem{background:#fbeeee;border:1px solid #d99;padding:.6rem 1rem;border-radius:.3rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{width:11rem;color:#555;font-weight:500}code{word-break:break-all}
form{display:inline}button,.button{font:inherit;padding:.4rem .9rem;border-radius:.3rem;border:1px solid #888;background:#f4f4f4;cursor:pointer;text-decoration:none;color:#222}
</style></head><body>
<header><h1><a href="/" style="color:inherit;text-decoration:none">rpkit webapp</a></h1>{{if .Session}}<span>{{.Name}} · <form method="post" action="/logout"><button id="logout">Log out</button></form></span>{{end}}</header>
{{end}}
{{define "bottom"}}{{if .Dev}}<p class="dev">Development provider: <code>{{.Dev}}</code>{{if not .DevHere}}, served by another instance{{end}}. It logs in <b>alice</b> without asking.{{if .Metrics}} The lifecycle's counters: <a href="/debug/metrics" id="metrics">/debug/metrics</a>.{{end}}</p>{{end}}
</body></html>{{end}}

{{define "home"}}{{template "top" .}}
{{if .LoggedOut}}<p class="note" id="logged-out">You have been logged out.</p>{{end}}
{{if eq .Ended "backchannel"}}<p class="note" id="ended">The provider ended your session: its back-channel logout reached the app.</p>
{{else if eq .Ended "frontchannel"}}<p class="note" id="ended">The provider ended your session: its front-channel logout reached the app.</p>{{end}}
{{if .Session}}<p>You are logged in as <b>{{.Name}}</b>.</p><p><a class="button" href="/profile">Your profile</a></p>
{{else}}<p>This page is public. Log in to see your profile.</p><p><a class="button" id="login" href="/login?return_to=%2Fprofile">Log in</a></p>{{end}}
{{template "bottom" .}}{{end}}

{{define "profile"}}{{template "top" .}}
<h2>Profile</h2>
<table>
<tr><th>Subject (sub)</th><td><code id="sub">{{.Session.Subject}}</code></td></tr>
<tr><th>Provider session (sid)</th><td><code id="sid">{{.Session.SID}}</code></td></tr>
<tr><th>Issuer</th><td><code>{{.Session.Issuer}}</code></td></tr>
<tr><th>Logged in</th><td>{{.Created}}</td></tr>
<tr><th>Session expires</th><td id="expiry">{{.Expiry}}</td></tr>
<tr><th>Access token expires</th><td><span id="access-expiry">{{.AccessExpiry}}</span> (refreshed automatically)</td></tr>
</table>
<h3>ID token claims</h3>
<table id="claims">{{range .Claims}}<tr><th>{{.Name}}</th><td><code>{{.Value}}</code></td></tr>{{end}}</table>
<p><a href="/me">/me as JSON</a></p>
{{if .DevHere}}<div class="dev"><p>Make the development provider end this session, as if you had logged out at the provider:</p>
<form method="post" action="/dev/backchannel-logout"><button id="dev-backchannel">Back-channel logout</button></form>
<a class="button" id="dev-frontchannel" href="/dev/frontchannel-logout">Front-channel logout</a></div>
{{else if .Dev}}<p class="dev" id="dev-elsewhere">The buttons that make the development provider end this session are on the profile page of the instance that serves it.</p>{{end}}
{{template "bottom" .}}{{end}}

{{define "frontchannel"}}{{template "top" .}}
<h2>Front-channel logout</h2>
<p>A provider's logout page loads each application's front-channel logout URL in a hidden iframe. Here it is, visible:</p>
<iframe id="frontchannel" src="{{.Frame}}" title="front-channel logout" style="width:100%;height:4rem;border:1px dashed #999"></iframe>
<p>The app finds the session by its <code>sid</code>, without cookies. Then the provider's page moves on:</p>
<p><a class="button" id="continue" href="/?ended=frontchannel">Continue</a></p>
{{template "bottom" .}}{{end}}

{{define "error"}}{{template "top" .}}
<div class="problem" id="problem" data-kind="{{.Problem.Kind}}"><h2 id="problem-title">{{.Problem.Title}}</h2>
<p id="problem-text">{{.Problem.Text}}</p></div>
<p><a class="button" id="try-again" href="{{.Problem.Retry}}">Try again</a> <a href="/">Home</a></p>
{{template "bottom" .}}{{end}}`))

// pageData is what the templates show.
type pageData struct {
	Session      *session.Session
	Name         string
	LoggedOut    bool
	Ended        string // "backchannel", "frontchannel": the provider ended this browser's session
	Problem      *problem
	Frame        string // the front-channel iframe's URL
	Dev          string // the development provider's issuer, if one is used
	DevHere      bool   // this instance serves it: the demo buttons work
	Metrics      bool   // GET /debug/metrics is served
	Created      string
	Expiry       string
	AccessExpiry string
	Claims       []claim
}

type claim struct{ Name, Value string }

func (a *app) data(r *http.Request) pageData {
	d := pageData{LoggedOut: middleware.LoggedOut(r.Context())}
	d.Dev, d.DevHere, d.Metrics = a.devIssuer, a.dev != nil, a.metricsOn()
	s, ok := middleware.SessionFromContext(r.Context())
	if !ok {
		return d
	}
	d.Session = s
	var claims map[string]any
	json.Unmarshal(s.Claims, &claims)
	d.Name = s.Subject
	if n, ok := claims["name"].(string); ok && n != "" {
		d.Name = n
	}
	d.Created = s.Created.Format(time.RFC1123)
	d.Expiry = s.Expiry.Format(time.RFC1123)
	d.AccessExpiry = "unknown"
	if !s.AccessTokenExpiry.IsZero() {
		d.AccessExpiry = s.AccessTokenExpiry.Format(time.RFC1123)
	}
	for k, v := range claims {
		d.Claims = append(d.Claims, claim{k, claimText(k, v)})
	}
	slices.SortFunc(d.Claims, func(x, y claim) int {
		if x.Name < y.Name {
			return -1
		}
		return 1
	})
	return d
}

func (a *app) render(w http.ResponseWriter, r *http.Request, page string) {
	a.renderData(w, r, page, a.data(r))
}

// renderData renders page with d.
func (a *app) renderData(w http.ResponseWriter, r *http.Request, page string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pages.ExecuteTemplate(w, page, d); err != nil {
		a.log.Error("rendering "+page, "error", err)
	}
}

// home is GET /: public, and the landing page after a logout.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	d := a.data(r)
	if d.Session == nil {
		d.Ended = a.takeEnded(w, r)
	}
	a.renderData(w, r, "home", d)
}

// profile is GET /profile: the claims and the session's times.
func (a *app) profile(w http.ResponseWriter, r *http.Request) { a.render(w, r, "profile") }

// claimText shows a claim value: strings as they are, times as dates,
// anything else as JSON.
func claimText(name string, v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		switch name {
		case "exp", "iat", "nbf", "auth_time", "updated_at":
			return time.Unix(int64(v), 0).UTC().Format(time.RFC1123)
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
