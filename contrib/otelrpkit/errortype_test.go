package otelrpkit

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/rp"
)

// TestEverySentinelIsNamed reads the sources of the packages whose errors
// reach events and checks that each exported sentinel (a package-level Err…
// variable) is in the list, so that a sentinel added to rp never counts as
// "other".
func TestEverySentinelIsNamed(t *testing.T) {
	listed := map[string]bool{}
	for _, s := range sentinels {
		listed[s.name] = true
	}
	found := 0
	for _, dir := range []string{"rp", "middleware", "backchannel", "frontchannel", "session"} {
		files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no sources in %s: %v", dir, err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, spec := range gd.Specs {
					for _, id := range spec.(*ast.ValueSpec).Names {
						if !id.IsExported() || !strings.HasPrefix(id.Name, "Err") {
							continue
						}
						found++
						if q := dir + "." + id.Name; !listed[q] {
							t.Errorf("%s (%s) is not in sentinels: add it where it belongs in the order", q, name)
						}
					}
				}
			}
		}
	}
	if found < 50 {
		t.Errorf("found only %d sentinels in the sources", found)
	}
}

// TestErrorTypeOfEachSentinel: each sentinel, bare or wrapped with details
// as rpkit wraps them, is named as itself, and never with its details.
func TestErrorTypeOfEachSentinel(t *testing.T) {
	for _, s := range sentinels {
		for _, err := range []error{
			s.err,
			fmt.Errorf("%w: kid %q", s.err, "attacker-data"),
			fmt.Errorf("%w: %w", s.err, errors.New("dial tcp: refused")),
			fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", s.err)),
			errors.Join(errors.New("attacker-data"), s.err),
		} {
			if got := ErrorType(err); got != s.name {
				t.Errorf("ErrorType(%v) = %q, want %q", err, got, s.name)
			}
		}
	}
}

func TestErrorType(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("rp: something new"), OtherError},
		{fmt.Errorf("%w", errors.ErrUnsupported), OtherError},
		{&rp.ProviderError{Endpoint: "token", StatusCode: 400, Code: "invalid_grant"}, "invalid_grant"},
		{fmt.Errorf("middleware: refresh: %w", &rp.ProviderError{Endpoint: "token", StatusCode: 400, Code: "invalid_grant"}), "invalid_grant"},
		{&rp.ProviderError{Endpoint: "authorization", Code: "login_required"}, "login_required"},
		{errors.Join(errors.New("x"), &rp.ProviderError{Endpoint: "token", Code: "slow_down", StatusCode: 400}), "slow_down"},
		// A code the provider made up is not recorded.
		{&rp.ProviderError{Endpoint: "token", StatusCode: 400, Code: "user_alice_is_locked"}, "rp.ProviderError"},
		{&rp.ProviderError{Endpoint: "token", StatusCode: 502, Code: "user_alice_is_locked"}, "rp.ErrProviderUnavailable"},
		{&rp.ProviderError{Endpoint: "token", StatusCode: 500}, "rp.ErrProviderUnavailable"},
		{&rp.ProviderError{Endpoint: "userinfo", StatusCode: 401, Code: "invalid_token"}, "invalid_token"},
		// The missing claim comes before the rule the claim serves.
		{&rp.MissingClaimError{Claim: "exp"}, "rp.ErrMissingClaim"},
		{&rp.KeyRetryError{RetryAfter: time.Second, Err: rp.ErrKeyRefetchLimited}, "rp.ErrKeyRefetchLimited"},
		{&rp.DiscoveryRetryError{RetryAfter: time.Second, Err: fmt.Errorf("%w: %w", rp.ErrProviderUnavailable, context.DeadlineExceeded)}, "rp.ErrNotDiscovered"},
		// rp's root cause before the wrapper of the middleware.
		{fmt.Errorf("%w: %w", middleware.ErrRefreshUnavailable, fmt.Errorf("%w: %w", rp.ErrProviderUnavailable, context.DeadlineExceeded)), "rp.ErrProviderUnavailable"},
		{fmt.Errorf("%w: %w", middleware.ErrRefreshUnavailable, errors.New("EOF")), "middleware.ErrRefreshUnavailable"},
		{fmt.Errorf("%w: %w", middleware.ErrLoginRefused, errors.New("not in the staff group")), "middleware.ErrLoginRefused"},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), "context.DeadlineExceeded"},
	}
	for _, tt := range tests {
		if got := ErrorType(tt.err); got != tt.want {
			t.Errorf("ErrorType(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestErrorTypeAllocations(t *testing.T) {
	errs := []error{
		fmt.Errorf("%w: kid %q", rp.ErrSignature, "k"),
		fmt.Errorf("refresh: %w", &rp.ProviderError{Code: "invalid_grant"}),
		errors.New("unknown"),
	}
	for _, err := range errs {
		if n := testing.AllocsPerRun(100, func() { ErrorType(err) }); n != 0 {
			t.Errorf("ErrorType(%v) allocates %v times", err, n)
		}
	}
}
