package interop

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// The HTML readers, on the shapes oidc-provider renders (no node needed).
func TestPageForms(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:1234/session/end?client_id=x")
	page := &Page{URL: base, Body: `<!DOCTYPE html><html><body>
<FORM autocomplete="off" action="/interaction/abc?x=1&amp;y=2" method="post">
  <input type="hidden" name="prompt" value="login"/>
  <input required type="text" name="login" placeholder="Enter any login" autofocus="on">
  <input required type="password" name="password" placeholder='and password'>
  <input type="checkbox" name="remember" value="1">
  <input type="checkbox" name="checked" value="on" checked>
  <input type=submit name=go value=Go>
  <button type="submit" class="login login-submit">Sign-in</button>
</form>
<form id="op.logoutForm" method="post" action="http://127.0.0.1:1234/session/end/confirm"><input type="hidden" name="xsrf" value="a&quot;b"/></form>
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
<iframe src="http://127.0.0.1:5678/frontchannel-logout?sid=s1&iss=http%3A%2F%2F127.0.0.1%3A1234"></iframe>
<iframe src='http://a.example/f?x=1&amp;y=2'></iframe>
</body></html>`}
	forms := page.Forms()
	if len(forms) != 2 {
		t.Fatalf("%d forms", len(forms))
	}
	login := forms[0]
	if login.Action != "/interaction/abc?x=1&y=2" || login.Method != "POST" {
		t.Errorf("login form %+v", login)
	}
	want := url.Values{"prompt": {"login"}, "login": {""}, "password": {""}, "checked": {"on"}}
	if login.Fields.Encode() != want.Encode() {
		t.Errorf("fields %v, want %v", login.Fields, want)
	}
	if !slices.Equal(login.Buttons, []Button{{Name: "go", Value: "Go"}}) {
		t.Errorf("buttons %+v", login.Buttons)
	}
	logout := forms[1]
	if logout.ID != "op.logoutForm" || logout.Fields.Get("xsrf") != `a"b` {
		t.Errorf("logout form %+v", logout)
	}
	if !slices.Equal(logout.Buttons, []Button{{Name: "logout", Value: "yes", Text: "Yes, sign me out"}}) {
		t.Errorf("logout buttons %+v", logout.Buttons)
	}
	if f := page.Form(t, "prompt", "login"); f.Action != login.Action {
		t.Errorf("Form: %+v", f)
	}
	frames := page.Iframes()
	if !slices.Equal(frames, []string{
		"http://127.0.0.1:5678/frontchannel-logout?sid=s1&iss=http%3A%2F%2F127.0.0.1%3A1234",
		"http://a.example/f?x=1&y=2",
	}) {
		t.Errorf("iframes %q", frames)
	}
}

func TestDecodeJWT(t *testing.T) {
	// {"alg":"RS256","typ":"logout+jwt"} . {"iat":1700000000,"sid":"s"} . sig
	h, c, err := DecodeJWT("eyJhbGciOiJSUzI1NiIsInR5cCI6ImxvZ291dCtqd3QifQ.eyJpYXQiOjE3MDAwMDAwMDAsInNpZCI6InMifQ.c2ln")
	if err != nil || h["typ"] != "logout+jwt" || c["sid"] != "s" || c["iat"] != json.Number("1700000000") {
		t.Fatalf("%v %v %v", h, c, err)
	}
	if _, _, err := DecodeJWT("a.b"); err == nil {
		t.Fatal("two segments decoded")
	}
}
