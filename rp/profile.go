package rp

import "slices"

// Profile is what a provider's documentation asks of a relying party,
// written as values of [Config] rather than as code paths: pass one as
// Config.Profile. Every field fills the Config field of the same name
// only where the Config leaves it zero, so an application can always
// override a profile.
type Profile struct {
	// Name names the provider, for logs and errors.
	Name string
	// KeepAuthorizationParams: see Config.KeepAuthorizationParams.
	KeepAuthorizationParams []string
	// EndSessionRequiresIDTokenHint: see Config.EndSessionRequiresIDTokenHint.
	EndSessionRequiresIDTokenHint bool
	// IssuerAliases: see Config.IssuerAliases.
	IssuerAliases []string
	// EndSessionPath is the provider's logout endpoint, relative to the
	// issuer, for providers whose discovery names none (Auth0's
	// /v2/logout): it becomes Endpoints.EndSession when neither discovery
	// nor Config.Endpoints gives one.
	EndSessionPath string
	// EndSessionRedirectParam: see Config.EndSessionRedirectParam.
	EndSessionRedirectParam string
	// LogoutHintClaim: see Config.LogoutHintClaim.
	LogoutHintClaim string
}

// Profiles of the providers rpkit is tested against as they document
// themselves (docs/providers.md gives their registration values).
var (
	// ProfileKeycloak keeps Keycloak's session_state; its back- and
	// front-channel logouts are standard.
	ProfileKeycloak = Profile{Name: "Keycloak", KeepAuthorizationParams: []string{"session_state"}}
	// ProfileGoogle accepts both forms of Google's issuer in tokens
	// ("https://accounts.google.com" is the configured one). Google has no
	// end-session endpoint: logout revokes and ends locally.
	ProfileGoogle = Profile{Name: "Google", IssuerAliases: []string{"accounts.google.com"}}
	// ProfileAuth0 uses Auth0's /v2/logout, with client_id and returnTo,
	// when the tenant has not enabled OIDC RP-initiated logout (then
	// discovery names its end_session_endpoint, which wins).
	ProfileAuth0 = Profile{Name: "Auth0", EndSessionPath: "/v2/logout", EndSessionRedirectParam: "returnTo"}
	// ProfileCognito sends Amazon Cognito's /logout its client_id and
	// logout_uri. Cognito's logout lives on the user pool's domain, not on
	// the issuer: set Config.Endpoints.EndSession to
	// https://<domain>/logout.
	ProfileCognito = Profile{Name: "Amazon Cognito", EndSessionRedirectParam: "logout_uri"}
	// ProfileEntra sends Microsoft Entra ID the ID token's login_hint
	// claim as logout_hint (request the optional login_hint claim in the
	// app registration). For the multi-tenant /common or /organizations
	// issuer, set Config.MultiTenant too; its front-channel logout carries
	// no iss (frontchannel.Config.AllowMissingIssuer).
	ProfileEntra = Profile{Name: "Microsoft Entra ID", LogoutHintClaim: "login_hint"}
	// ProfileOkta: Okta's /v1/logout requires id_token_hint.
	ProfileOkta = Profile{Name: "Okta", EndSessionRequiresIDTokenHint: true}
	// ProfileGluu: Gluu oxAuth's end-session wants the authorization
	// response's session_id back (middleware.Config.EndSessionParams) and
	// an id_token_hint.
	ProfileGluu = Profile{Name: "Gluu", KeepAuthorizationParams: []string{"session_id"}, EndSessionRequiresIDTokenHint: true}
)

// applyProfile fills cfg's zero fields from cfg.Profile.
func applyProfile(cfg *Config) {
	p := cfg.Profile
	if cfg.KeepAuthorizationParams == nil {
		cfg.KeepAuthorizationParams = slices.Clone(p.KeepAuthorizationParams)
	}
	if !cfg.EndSessionRequiresIDTokenHint {
		cfg.EndSessionRequiresIDTokenHint = p.EndSessionRequiresIDTokenHint
	}
	if cfg.IssuerAliases == nil {
		cfg.IssuerAliases = slices.Clone(p.IssuerAliases)
	}
	if cfg.EndSessionRedirectParam == "" {
		cfg.EndSessionRedirectParam = p.EndSessionRedirectParam
	}
	if cfg.LogoutHintClaim == "" {
		cfg.LogoutHintClaim = p.LogoutHintClaim
	}
}
