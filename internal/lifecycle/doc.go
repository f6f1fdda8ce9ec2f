// Package lifecycle holds, as tests only, one whole session lifecycle per
// provider rpkit documents (docs/providers.md): login, use, refresh, and
// each logout channel the provider has, against oidctest configured as that
// provider documents itself, asserting what the provider receives. Ory
// Hydra runs for real in internal/hydra.
package lifecycle
