package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// problem is what the error page tells the user: what happened, in their
// words, never the error's text (which goes to the log).
type problem struct {
	Kind  string // "cancelled", "expired", "unavailable", "failed", …: the page's data-kind
	Title string
	Text  string
	Retry string // the "Try again" link
}

// errorPage is middleware.Config.ErrorHandler: the middleware's own
// statuses, a page styled like the others for a browser and the
// middleware's JSON for Accept: application/json.
func (a *app) errorPage(w http.ResponseWriter, r *http.Request, status int, err error) {
	w.Header().Set("Cache-Control", "no-store")
	if wantsJSON(r) {
		// The same answer as the middleware's default handler: API clients
		// read the code.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}{errorCode(status), jsonMessage(status)})
		return
	}
	p := a.explain(r, status, err)
	d := a.data(r)
	d.Problem = &p
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "error", d); err != nil {
		a.log.Error("rendering the error page", "error", err)
	}
}

// explain turns an error of the middleware (or of rp and the store, which
// it passes on) into what the page says.
func (a *app) explain(r *http.Request, status int, err error) problem {
	login := "/login?" + url.Values{"return_to": {"/profile"}}.Encode()
	retry := login
	if p := a.mw.Paths(); r.Method == http.MethodGet && r.URL.Path != p.Callback && r.URL.Path != p.Login {
		retry = r.URL.RequestURI() // a page that failed: load it again
	}
	var pe *rp.ProviderError
	switch {
	case errors.As(err, &pe) && pe.Endpoint == "authorization" && pe.Code == "access_denied":
		// RFC 6749 4.1.2.1: the user (or the provider) denied the request;
		// at a provider's login or consent page, that is Cancel.
		return problem{"cancelled", "Login cancelled",
			"You cancelled the login at the identity provider, so you are not logged in.", login}
	case errors.Is(err, rp.ErrLoginExpired), errors.Is(err, middleware.ErrNoLoginState), errors.Is(err, rp.ErrStateMismatch):
		return problem{"expired", "The login expired",
			fmt.Sprintf("It took longer than %s, or it was already finished (in another tab, or by going back), so it could not be completed.",
				durationWords(a.client.LoginTimeout())), login}
	case errors.Is(err, session.ErrLoggedOut):
		return problem{"logged-out", "Logged out while logging in",
			"Your session at the identity provider was ended while this login was completing, so it was not finished.", login}
	case errors.Is(err, middleware.ErrLoginRefused):
		return problem{"refused", "Access refused", "Your account may not use this application.", "/"}
	case errors.Is(err, middleware.ErrUnauthenticated):
		return problem{"login-required", "Not logged in", "This needs you to be logged in.", login}
	case errors.As(err, &pe) && pe.Endpoint == "authorization":
		return problem{"failed", "The login failed", "The identity provider did not complete the login.", login}
	}
	switch {
	case status == http.StatusBadGateway:
		return problem{"unavailable", "The identity provider cannot be reached", "Please try again in a moment.", retry}
	case status == http.StatusGatewayTimeout:
		return problem{"unavailable", "The identity provider did not answer in time", "Please try again in a moment.", retry}
	case status == http.StatusServiceUnavailable:
		return problem{"unavailable", "Temporarily unavailable", "The application cannot serve this right now. Please try again in a moment.", retry}
	case status >= 500:
		return problem{"internal", "Something went wrong", "The application failed on its side.", retry}
	}
	return problem{"failed", "The login failed",
		"The login could not be completed: the identity provider's answer was not accepted.", login}
}

// durationWords says d as a person would: "10 minutes".
func durationWords(d time.Duration) string {
	switch {
	case d >= time.Minute && d%time.Minute == 0:
		if d == time.Minute {
			return "a minute"
		}
		return fmt.Sprintf("%d minutes", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%d seconds", d/time.Second)
	}
	return d.String()
}

// wantsJSON is the middleware's rule: JSON for Accept: application/json
// without text/html.
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// errorCode and jsonMessage are the middleware's default JSON error body.
func errorCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "login_required"
	case http.StatusForbidden:
		return "access_denied"
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return "temporarily_unavailable"
	}
	return "invalid_request"
}

func jsonMessage(status int) string {
	msg := map[int]string{
		http.StatusBadRequest:          "The login could not be completed. Please try again.",
		http.StatusUnauthorized:        "Login required.",
		http.StatusForbidden:           "Access refused.",
		http.StatusBadGateway:          "The identity provider could not be reached. Please try again later.",
		http.StatusServiceUnavailable:  "The service is temporarily unavailable. Please try again later.",
		http.StatusGatewayTimeout:      "The identity provider did not answer in time. Please try again later.",
		http.StatusMethodNotAllowed:    "Method not allowed.",
		http.StatusInternalServerError: "Internal error.",
	}[status]
	if msg == "" {
		msg = http.StatusText(status)
	}
	return msg
}
