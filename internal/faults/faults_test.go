package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpkit/rpkit/internal/redistest"
	"github.com/rpkit/rpkit/oidctest"
)

// armHook runs fire once, just before the n-th command named name that a
// client sends after set: the moment to inject a fault into that
// command's round trip.
type armHook struct {
	mu   sync.Mutex
	name string
	n    int
	fire func()
}

func (h *armHook) set(name string, n int, fire func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.name, h.n, h.fire = name, n, fire
}

func (h *armHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *armHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *armHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		var fire func()
		h.mu.Lock()
		if h.fire != nil && cmd.Name() == h.name {
			if h.n--; h.n == 0 {
				fire, h.fire = h.fire, nil
			}
		}
		h.mu.Unlock()
		if fire != nil {
			fire()
		}
		return next(ctx, cmd)
	}
}

// post sends the logout token to the instance's back-channel receiver as
// the provider does, and returns the status.
func post(t *testing.T, w *world, in *instance, raw string) int {
	t.Helper()
	resp, err := w.p.PostLogoutToken(t.Context(), in.url+"/backchannel-logout", raw)
	if err != nil {
		t.Fatalf("posting the logout token: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// wantEnded checks that the browser's session is gone on every instance.
func wantEnded(t *testing.T, w *world, b *browser) {
	t.Helper()
	for i, in := range w.instances {
		if code, err := b.me(in); code != http.StatusUnauthorized {
			t.Fatalf("%s: /me at instance %d after the logout: %d, %v; want 401", b.subject, i, code, err)
		}
	}
}

// wantAlive checks that the browser's session is served on every instance.
func wantAlive(t *testing.T, w *world, b *browser) {
	t.Helper()
	for i, in := range w.instances {
		if code, err := b.me(in); code != http.StatusOK {
			t.Fatalf("%s: /me at instance %d: %d, %v; want 200", b.subject, i, code, err)
		}
	}
}

// mustLogin logs b in at in, with no fault armed.
func mustLogin(t *testing.T, w *world, b *browser, in *instance) {
	t.Helper()
	if err := b.login(w, in); err != nil {
		t.Fatalf("login of %s: %v", b.subject, err)
	}
}

// TestLateRedisReply: a Redis reply held back longer than go-redis's read
// timeout (default options), during each step of a back-channel logout.
// go-redis retries the command, which already ran. The logout must still
// answer 200 and end the session on both instances, and the token's replay
// must be refused. Before the fix, the retried SET NX of the jti claim
// found its own key: "replayed", 400, and the session lived on.
func TestLateRedisReply(t *testing.T) {
	for _, tc := range []struct {
		step, cmd string
		n         int
	}{
		{"Seen", "exists", 1},
		{"sid tombstone and tags", "evalsha", 1},
		{"delete in the subject slot", "evalsha", 2},
		{"Done", "set", 1},
	} {
		t.Run(tc.step, func(t *testing.T) {
			t.Parallel()
			hook := &armHook{}
			w := newWorld(t, []string{redistest.Start(t)}, 2, []string{"warm", "alice"}, hook)
			a, b := w.instances[0], w.instances[1]
			warm, alice := newBrowser("warm"), newBrowser("alice")
			mustLogin(t, w, warm, b)
			mustLogin(t, w, alice, b)
			// A first logout loads the scripts, so that the one under test
			// runs EVALSHA alone.
			raw, _ := w.p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "warm", SID: warm.sid})
			if code := post(t, w, a, raw); code != http.StatusOK {
				t.Fatalf("warm-up logout: %d", code)
			}

			delay := a.rdb.(*redis.Client).Options().ReadTimeout + 500*time.Millisecond // go-redis's default: 5 s
			hook.set(tc.cmd, tc.n, func() { a.proxies[0].DelayNextReply(delay) })
			raw, _ = w.p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice", SID: alice.sid})
			if code := post(t, w, a, raw); code != http.StatusOK {
				t.Fatalf("logout whose %s reply came late: %d, want 200", tc.step, code)
			}
			if st := a.proxies[0].Stats(); st.Delayed != 1 {
				t.Fatalf("%d replies delayed, want 1", st.Delayed)
			}
			wantEnded(t, w, alice)
			if code := post(t, w, b, raw); code != http.StatusBadRequest {
				t.Fatalf("replay of the token at the other instance: %d, want 400", code)
			}
		})
	}
}

// TestRedisKilledDuringLogout: redis-server (AOF on) is killed during a
// back-channel logout, before each of its steps, and restarted. The
// receiver answers 503 when the sessions may not have ended, and the
// provider's retry of the same token then ends them; when they had ended
// (Redis died before the jti was recorded) it answers 200. Before the fix,
// a jti claimed before Redis died outlived the outage (AOF) and the retry
// got 400 "replayed".
func TestRedisKilledDuringLogout(t *testing.T) {
	for _, tc := range []struct {
		step, cmd string
		n         int
		first     int
	}{
		{"Seen", "exists", 1, http.StatusServiceUnavailable},
		{"sid tombstone and tags", "evalsha", 1, http.StatusServiceUnavailable},
		{"delete in the subject slot", "evalsha", 2, http.StatusServiceUnavailable},
		{"Done", "set", 1, http.StatusOK},
	} {
		t.Run(tc.step, func(t *testing.T) {
			t.Parallel()
			srv := redistest.StartServer(t, redistest.Options{AOF: true})
			hook := &armHook{}
			w := newWorld(t, []string{srv.Addr()}, 2, []string{"warm", "alice"}, hook)
			a := w.instances[0]
			warm, alice := newBrowser("warm"), newBrowser("alice")
			mustLogin(t, w, warm, a)
			mustLogin(t, w, alice, a)
			raw, _ := w.p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "warm", SID: warm.sid})
			if code := post(t, w, a, raw); code != http.StatusOK {
				t.Fatalf("warm-up logout: %d", code)
			}

			hook.set(tc.cmd, tc.n, srv.Kill)
			raw, _ = w.p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice", SID: alice.sid})
			if code := post(t, w, a, raw); code != tc.first {
				t.Fatalf("logout with Redis killed before %s: %d, want %d", tc.step, code, tc.first)
			}
			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
			if tc.first != http.StatusOK {
				if code := post(t, w, a, raw); code != http.StatusOK {
					t.Fatalf("the provider's retry after the restart: %d, want 200", code)
				}
			}
			wantEnded(t, w, alice)
		})
	}
}

// TestMemoryPressure: a Redis full to its maxmemory (noeviction, as New
// requires) refuses writes. A logout then answers 503 (it may have ended
// part of what it names: Lua scripts stop at the refused write) or 200 —
// never 200 while a session it names lives — and the provider's retry
// once memory is freed completes it. Sessions not logged out are never
// ended: served while reads work, alive afterwards.
func TestMemoryPressure(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{MaxMemory: "4mb", MaxMemoryPolicy: "noeviction"})
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5", "keep0", "keep1"}
	w := newWorld(t, []string{srv.Addr()}, 1, users, nil)
	in := w.instances[0]
	var leaving, staying []*browser
	for _, u := range users {
		b := newBrowser(u)
		mustLogin(t, w, b, in)
		if strings.HasPrefix(u, "keep") {
			staying = append(staying, b)
		} else {
			leaving = append(leaving, b)
		}
	}
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { admin.Close() })
	ctx := t.Context()
	junk := strings.Repeat("x", 4096)
	filled := 0
	for ; ; filled++ {
		err := admin.Set(ctx, fmt.Sprintf("junk:%d", filled), junk, 0).Err()
		if err != nil {
			if !strings.Contains(err.Error(), "OOM") {
				t.Fatal(err)
			}
			break
		}
	}
	tokens := make([]string, len(leaving))
	refused := 0
	for i, b := range leaving {
		tokens[i], _ = w.p.LogoutToken(oidctest.LogoutTokenOptions{Subject: b.subject, SID: b.sid})
		switch code := post(t, w, in, tokens[i]); code {
		case http.StatusOK:
			wantEnded(t, w, b)
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("logout under memory pressure: %d", code)
		}
		for _, k := range staying {
			if code, _ := k.me(in); code == http.StatusUnauthorized {
				t.Fatalf("%s: a session not logged out was ended under memory pressure", k.subject)
			}
		}
	}
	if refused == 0 {
		t.Fatal("no logout was refused: the memory pressure did not hold")
	}
	for i := range filled {
		admin.Del(ctx, fmt.Sprintf("junk:%d", i))
	}
	for i, b := range leaving {
		if code := post(t, w, in, tokens[i]); code != http.StatusOK && code != http.StatusBadRequest {
			t.Fatalf("%s: the retry once memory was freed: %d", b.subject, code)
		}
		wantEnded(t, w, b)
	}
	for _, k := range staying {
		wantAlive(t, w, k)
	}
	t.Logf("%d keys of 4 KiB filled Redis; %d of %d logouts answered 503 until memory was freed, then all delivered; %d sessions not logged out all alive",
		filled, refused, len(leaving), len(staying))
}

// TestLoad drives logins, requests (with refreshes every few seconds),
// and logouts from all three channels through two instances while a chaos
// loop injects faults between the instances and Redis, and between the
// instances and the provider — late replies (beyond go-redis's read
// timeout too), lost replies, replies cut short, connections refused or
// closed — and, on a single server, kills and restarts redis-server (AOF
// on). Once the faults stop it checks, on every
// instance, the invariants: every logout that was delivered (and retried
// after a 5xx) ended its session; every session not logged out is alive;
// and during the run no live session was ever answered 401.
func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster bool
		users   int
	}{
		{"single", false, 48},
		{"cluster", true, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *redistest.Server
			var addrs []string
			if tc.cluster {
				addrs = redistest.StartCluster(t)
			} else {
				srv = redistest.StartServer(t, redistest.Options{AOF: true})
				addrs = []string{srv.Addr()}
			}
			var subjects []string
			for i := range tc.users {
				subjects = append(subjects, fmt.Sprintf("user-%d", i))
			}
			w := newWorld(t, addrs, 2, subjects, nil)
			var ops, faults counter

			// The chaos loop.
			stop := make(chan struct{})
			var chaos sync.WaitGroup
			chaos.Go(func() {
				rng := rand.New(rand.NewPCG(1, 2))
				proxies := w.proxies()
				killed := false
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(5+rng.IntN(30)) * time.Millisecond):
					}
					px := proxies[rng.IntN(len(proxies))]
					if px.Stats().Pending > 0 {
						// Armed faults wait for traffic: do not let them pile
						// up on an idle connection and fault every reply.
						continue
					}
					switch k := rng.IntN(100); {
					case srv != nil && !killed && i >= 60: // once, a third into the run or so
						killed = true
						srv.Kill()
						faults.add("redis-server killed and restarted", 1)
						time.Sleep(300 * time.Millisecond)
						if err := srv.Restart(); err != nil {
							t.Error(err)
							return
						}
					case k < 30:
						px.DelayNextReply(time.Duration(20+rng.IntN(300)) * time.Millisecond)
					case k < 34:
						px.DelayNextReply(5500 * time.Millisecond) // past the read timeout: a retried command
					case k < 50:
						px.DropNextReply()
					case k < 60:
						px.TruncateNextReply(rng.IntN(8))
					case k < 68:
						px.CloseAll()
					case k < 74:
						px.Refuse(true)
						time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond)
						px.Refuse(false)
					}
				}
			})
			stopChaos := sync.OnceFunc(func() { close(stop); chaos.Wait(); w.heal() })
			defer stopChaos()

			// The users: each logs in, sends requests, and logs out by one
			// of the three channels — or, one in four, stays logged in.
			channels := []string{"back-channel", "front-channel", "rp-initiated", "none"}
			browsers := make([]*browser, tc.users)
			var lostDuringRun, delivered atomic.Int32
			var users sync.WaitGroup
			for i, subject := range subjects {
				b := newBrowser(subject)
				browsers[i] = b
				users.Go(func() {
					in := w.instances[i%2]
					other := w.instances[(i+1)%2]
					n, err := retry(func() (bool, error) { err := b.login(w, in); return err == nil, err })
					ops.add("login attempts", n)
					if err != nil {
						t.Errorf("%s: login: %v", subject, err)
						return
					}
					for j := range 10 {
						code, err := b.me(w.instances[j%2])
						ops.add("requests", 1)
						switch {
						case code == http.StatusUnauthorized:
							lostDuringRun.Add(1)
							t.Errorf("%s: a live session was answered 401 during the run", subject)
						case err != nil || code != http.StatusOK:
							ops.add("requests refused (5xx, store unreachable)", 1)
						}
						time.Sleep(time.Duration(100+j*80) * time.Millisecond) // access tokens live 3 s: refreshes
					}
					switch ch := channels[i%len(channels)]; ch {
					case "back-channel":
						raw, err := w.p.LogoutToken(oidctest.LogoutTokenOptions{Subject: subject, SID: b.sid})
						if err != nil {
							t.Error(err)
							return
						}
						n, err := retry(func() (bool, error) {
							resp, err := w.p.PostLogoutToken(context.Background(), other.url+"/backchannel-logout", raw)
							if err != nil {
								return false, err
							}
							resp.Body.Close()
							// 400 only for a replay: an earlier attempt
							// succeeded and its answer was lost.
							return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusBadRequest, fmt.Errorf("HTTP %d", resp.StatusCode)
						})
						ops.add("back-channel attempts", n)
						if err != nil && !strings.Contains(err.Error(), "HTTP 200") && !strings.Contains(err.Error(), "HTTP 400") {
							t.Errorf("%s: back-channel logout never delivered: %v", subject, err)
							return
						}
						delivered.Add(1)
					case "front-channel":
						q := url.Values{"iss": {w.p.Issuer()}, "sid": {b.sid}}
						n, err := retry(func() (bool, error) {
							resp, err := b.do("GET", other.url+"/frontchannel-logout?"+q.Encode(), nil, nil)
							if err != nil {
								return false, err
							}
							return resp.StatusCode == http.StatusOK, fmt.Errorf("HTTP %d", resp.StatusCode)
						})
						ops.add("front-channel attempts", n)
						if err != nil && !strings.Contains(err.Error(), "HTTP 200") {
							t.Errorf("%s: front-channel logout never delivered: %v", subject, err)
							return
						}
						delivered.Add(1)
					case "rp-initiated":
						n, err := retry(func() (bool, error) {
							resp, err := b.do("POST", in.url+"/logout", b.cookies, url.Values{})
							if err != nil {
								return false, err
							}
							return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusFound, fmt.Errorf("HTTP %d", resp.StatusCode)
						})
						ops.add("rp-initiated logout attempts", n)
						if err != nil && !strings.Contains(err.Error(), "HTTP 200") && !strings.Contains(err.Error(), "HTTP 302") {
							t.Errorf("%s: logout never completed: %v", subject, err)
							return
						}
						delivered.Add(1)
					}
				})
			}
			users.Wait()
			stopChaos()

			// The invariants, with every fault healed.
			resurrected, lost := 0, 0
			for i, b := range browsers {
				if b.cookies == nil {
					continue // its login failed: reported above
				}
				for _, in := range w.instances {
					code, err := b.me(in)
					if err != nil {
						t.Fatalf("%s: /me after the run: %v", b.subject, err)
					}
					switch loggedOut := channels[i%len(channels)] != "none"; {
					case loggedOut && code != http.StatusUnauthorized:
						resurrected++
						t.Errorf("%s: session alive after its %s logout (/me %d)", b.subject, channels[i%len(channels)], code)
					case !loggedOut && code != http.StatusOK:
						lost++
						t.Errorf("%s: session not logged out is gone (/me %d)", b.subject, code)
					}
				}
			}
			var stats []string
			injected := 0
			for _, px := range w.proxies() {
				st := px.Stats()
				injected += st.Injected()
				faults.add("replies delayed", st.Delayed)
				faults.add("replies dropped", st.Dropped)
				faults.add("replies cut short", st.Truncated)
				faults.add("connections refused", st.Refused)
				faults.add("connections closed", st.Closed)
				if px == w.op {
					faults.add("of them between the instances and the provider", st.Injected())
				}
			}
			stats = append(stats, fmt.Sprintf("operations: %s", ops.String()))
			stats = append(stats, fmt.Sprintf("faults injected: %d (%s)", injected+faults.get("redis-server killed and restarted"), faults.String()))
			refreshes := 0
			for _, r := range w.p.TokenRequests() {
				if r.GrantType == "refresh_token" {
					refreshes++
				}
			}
			stats = append(stats, fmt.Sprintf("users: %d, refreshes: %d, logouts delivered: %d, sessions lost: %d (during the run: %d), resurrected: %d",
				tc.users, refreshes, delivered.Load(), lost, lostDuringRun.Load(), resurrected))
			t.Log(strings.Join(stats, "\n"))
			if injected == 0 {
				t.Error("no fault was injected")
			}
		})
	}
}
