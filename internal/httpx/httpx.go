// Package httpx writes the JSON answers rpkit's handlers share.
package httpx

import (
	"encoding/json"
	"net/http"
)

// WriteJSON answers status with v as JSON, never sniffed as anything else.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// OAuthError is the error body of OAuth 2.0 (RFC 6749, 5.2), which
// Back-Channel Logout 1.0 and rpkit's JSON answers use.
type OAuthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// WriteError answers status with an OAuthError body.
func WriteError(w http.ResponseWriter, status int, code, description string) {
	WriteJSON(w, status, OAuthError{Error: code, Description: description})
}
