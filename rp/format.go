package rp

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Printing a Client. Without these methods fmt and log/slog print a Client
// by reflection, Config included: the client secret and the private key.
// They show the issuer, the client ID and the authentication method, and
// nothing else, under every verb.
//
// The receivers are values, not pointers, so that a dereferenced Client
// (fmt.Print(*c)) is covered too: fmt cannot call a pointer method on a
// value it was handed. A nil *Client prints as "<nil>" (fmt recovers the
// nil dereference); slog prints the panic it recovers, which names no
// field.

// String returns the issuer, the client ID and the authentication method,
// never a credential.
func (c Client) String() string {
	return "rp.Client{Issuer:" + strconv.Quote(c.cfg.Issuer) +
		" ClientID:" + strconv.Quote(c.cfg.ClientID) +
		" AuthMethod:" + string(c.AuthMethod()) + "}"
}

// GoString is what %#v prints: the same fields as String, in Go syntax.
func (c Client) GoString() string {
	return "rp.Client{Issuer:" + strconv.Quote(c.cfg.Issuer) +
		", ClientID:" + strconv.Quote(c.cfg.ClientID) +
		", AuthMethod:" + strconv.Quote(string(c.AuthMethod())) + "}"
}

// Format implements fmt.Formatter, so that no verb (%d, %x, %+v, ...) falls
// back to printing the fields by reflection: %#v prints GoString, %q the
// quoted String, and every other verb String, with the directive's width,
// precision and flags.
func (c Client) Format(f fmt.State, verb rune) { formatSafe(f, verb, c.String(), c.GoString()) }

// LogValue makes log/slog print a group of issuer, client_id and
// auth_method.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", c.cfg.Issuer),
		slog.String("client_id", c.cfg.ClientID),
		slog.String("auth_method", string(c.AuthMethod())),
	)
}

// formatSafe writes s, a value's printable form, for the directive: %#v
// writes gos, %q the quoted s, and any other verb s as %s would, honouring
// width, precision and flags. Used by the Format methods of types whose
// underlying value must not be printed.
func formatSafe(f fmt.State, verb rune, s, gos string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, gos)
	case verb == 'q':
		fmt.Fprintf(f, fmt.FormatString(f, 'q'), s)
	default:
		fmt.Fprintf(f, fmt.FormatString(f, 's'), s)
	}
}
