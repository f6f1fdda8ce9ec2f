package backchannel

// ClientMetadata is the client registration metadata for back-channel
// logout (Back-Channel Logout 1.0, 2.2), as JSON members for dynamic
// registration or as values to enter in a provider's console.
type ClientMetadata struct {
	BackchannelLogoutURI             string `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired bool   `json:"backchannel_logout_session_required"`
}

// Registration returns the metadata for a receiver at uri (for example
// "https://app.example/backchannel-logout"). It asks the provider to
// include sid in logout tokens (and ID tokens), so a logout ends just the
// session at hand rather than every session of the user.
func Registration(uri string) ClientMetadata {
	return ClientMetadata{BackchannelLogoutURI: uri, BackchannelLogoutSessionRequired: true}
}
