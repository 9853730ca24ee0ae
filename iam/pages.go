package iam

import (
	"html/template"
	"net/http"
	"regexp"
	"strings"
)

// Server-rendered pages: the login, device and message pages. They are
// self-contained (inline CSS, logos only as data: URIs), accessible (labels,
// lang, live error region, visible focus) and branded per org.

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · {{.OrgName}}</title>
<style>
:root { --brand: {{.Color}}; }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f4f5f7; color: #1b1f24; }
main { width: 100%; max-width: 24rem; margin: 1rem; padding: 2rem; background: #fff; border-radius: 12px;
  box-shadow: 0 2px 12px rgba(0,0,0,.08); border-top: 6px solid var(--brand); }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
p.sub { margin: 0 0 1.5rem; color: #4a5260; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=text], input[type=password] { width: 100%; padding: .6rem .7rem; font-size: 1rem;
  border: 1px solid #8a929c; border-radius: 6px; }
input:focus, button:focus { outline: 3px solid var(--brand); outline-offset: 2px; }
button { margin-top: 1.5rem; width: 100%; padding: .7rem; font-size: 1rem; font-weight: 600; color: #fff;
  background: var(--brand); border: 0; border-radius: 6px; cursor: pointer; }
button.secondary { background: #fff; color: #1b1f24; border: 1px solid #8a929c; margin-top: .75rem; }
.error { margin: 1rem 0 0; padding: .6rem .8rem; background: #fdecea; color: #8a1c12; border-radius: 6px; }
.ok { margin: 1rem 0 0; padding: .6rem .8rem; background: #e7f5ec; color: #14532d; border-radius: 6px; }
img.logo { max-height: 48px; margin-bottom: 1rem; }
p.org { margin: 0 0 .5rem; font-weight: 700; color: var(--brand); letter-spacing: .02em; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
ul.passkeys { padding-left: 1.2rem; }
[hidden] { display: none !important; }
</style>
</head>
<body>
<main>
{{if .Logo}}<img class="logo" src="{{.Logo}}" alt="{{.OrgName}} logo">{{end}}
{{if .Branded}}<p class="org">{{.OrgName}}</p>{{end}}
<h1>{{.Title}}</h1>
<p class="sub">{{.Subtitle}}</p>
{{if .Error}}<p class="error" role="alert" id="form-error">{{.Error}}</p>{{end}}
{{if .Message}}<p class="ok" role="status">{{.Message}}</p>{{end}}
{{if .Form}}
<form method="post" action="{{.Action}}" {{if .Error}}aria-describedby="form-error"{{end}}>
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}
{{if .AskCode}}<label for="user_code">Code shown on your device</label>
<input type="text" id="user_code" name="user_code" value="{{.UserCode}}" autocomplete="one-time-code" autocapitalize="characters" required>
{{end}}
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username" autocapitalize="none" spellcheck="false" required {{if not .AskCode}}autofocus{{end}}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" name="action" value="approve">{{.Submit}}</button>
{{if .AskCode}}<button type="submit" name="action" value="deny" class="secondary" formnovalidate>Deny</button>{{end}}
</form>
{{end}}
{{if .ShowPasskeys}}<h2>Your passkeys</h2>
{{if .Passkeys}}<ul class="passkeys">{{range .Passkeys}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>You have no passkeys yet.</p>{{end}}
{{end}}
{{with .WebAuthn}}<button type="button" id="passkey" {{if not .Primary}}class="secondary" {{end}}data-begin="{{.Begin}}" data-finish="{{.Finish}}">{{.Label}}</button>
<p class="error" role="alert" id="passkey-error" tabindex="-1" hidden></p>
<script nonce="{{$.Nonce}}">{{$.Script}}</script>
{{end}}
</main>
</body>
</html>`))

// page is the data of pageTmpl.
type page struct {
	Title, Subtitle string
	OrgName         string
	Branded         bool // an org's page: its name is shown
	Color           template.CSS
	Logo            template.URL
	Error, Message  string
	Form            bool
	Action          string
	Hidden          map[string]string
	Username        string
	AskCode         bool
	UserCode        string
	Submit          string
	// WebAuthn is the passkey button (login, second factor, passkeys
	// page); with it the page carries passkeyScript under a CSP nonce.
	WebAuthn     *webauthnButton
	ShowPasskeys bool     // the passkeys page: list Passkeys
	Passkeys     []string // names of the user's passkeys
	Nonce        string
	Script       template.JS
}

// webauthnButton is a button that runs a WebAuthn ceremony: POST Begin
// (JSON), navigator.credentials.create/get, POST Finish, then follow the
// answer's redirect or reload the page.
type webauthnButton struct {
	Label, Begin, Finish string
	Primary              bool
}

var (
	colorRe = regexp.MustCompile(`^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\))$`)
	logoRe  = regexp.MustCompile(`^data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=]+$`)
)

// brand fills the org part of p from o (nil: neutral).
func brand(p *page, o *Org) {
	p.Color = "#2f6feb"
	p.OrgName = "Sign in"
	if o == nil {
		return
	}
	p.Branded = true
	p.OrgName = o.DisplayName
	if p.OrgName == "" {
		p.OrgName = o.Name
	}
	if colorRe.MatchString(o.ThemeColor) {
		p.Color = template.CSS(o.ThemeColor)
	}
	if logoRe.MatchString(o.Logo) {
		p.Logo = template.URL(o.Logo)
	}
}

// renderPage writes p with status and strict security headers.
func renderPage(w http.ResponseWriter, status int, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	csp := "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
	if p.WebAuthn != nil {
		p.Nonce, p.Script = randomToken(18), passkeyScript
		csp += "; script-src 'nonce-" + p.Nonce + "'; connect-src 'self'"
	}
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, p); err != nil {
		return
	}
}

// errorPage renders a non-redirectable error (unknown client, bad redirect
// URI): the user is told, nobody is redirected.
func errorPage(w http.ResponseWriter, status int, o *Org, msg string) {
	p := page{Title: "Sign-in error", Subtitle: "This sign-in request cannot be completed.", Error: msg}
	brand(&p, o)
	renderPage(w, status, p)
}

func titleOf(a *Application) string {
	if a == nil {
		return ""
	}
	if a.DisplayName != "" {
		return a.DisplayName
	}
	return strings.TrimSpace(a.Name)
}

// passkeyScript drives the WebAuthn button of a page (#passkey, its
// data-begin and data-finish endpoints) and reports failures in the
// #passkey-error alert. Binary fields travel as base64url, as in
// PublicKeyCredential.toJSON(); it is written out by hand so that older
// browsers without the JSON helpers work too.
const passkeyScript template.JS = `(function () {
  var btn = document.getElementById('passkey'), err = document.getElementById('passkey-error');
  if (!btn) return;
  if (!window.PublicKeyCredential || !navigator.credentials) { btn.hidden = true; return; }
  function enc(buf) {
    var b = new Uint8Array(buf), s = '';
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function dec(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var r = atob(s), b = new Uint8Array(r.length);
    for (var i = 0; i < r.length; i++) b[i] = r.charCodeAt(i);
    return b.buffer;
  }
  function ids(list) { (list || []).forEach(function (c) { c.id = dec(c.id); }); }
  function credential(c) {
    var r = c.response, out = { id: c.id, rawId: enc(c.rawId), type: c.type,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: enc(r.clientDataJSON) } };
    if (c.authenticatorAttachment) out.authenticatorAttachment = c.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = enc(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = enc(r.authenticatorData);
      out.response.signature = enc(r.signature);
      if (r.userHandle) out.response.userHandle = enc(r.userHandle);
    }
    return out;
  }
  function post(url, body) {
    return fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body) }).then(function (res) {
      return res.json().then(function (j) {
        if (!res.ok || j.status === 'error') throw new Error(j.msg || 'The passkey could not be used.');
        return j;
      });
    });
  }
  function fail(e) {
    err.textContent = e && e.name === 'NotAllowedError' ? 'The passkey request was cancelled or timed out.'
      : (e && e.message) || 'The passkey could not be used.';
    err.hidden = false;
    btn.disabled = false;
    err.focus();
  }
  btn.addEventListener('click', function () {
    err.hidden = true;
    btn.disabled = true;
    post(btn.dataset.begin, {}).then(function (b) {
      var pk = b.publicKey, p;
      pk.challenge = dec(pk.challenge);
      if (b.mode === 'create') {
        pk.user.id = dec(pk.user.id);
        ids(pk.excludeCredentials);
        p = navigator.credentials.create({ publicKey: pk });
      } else {
        ids(pk.allowCredentials);
        p = navigator.credentials.get({ publicKey: pk });
      }
      return p.then(function (c) { return post(btn.dataset.finish, { ceremony: b.ceremony, credential: credential(c) }); });
    }).then(function (j) {
      if (j.redirect) location.assign(j.redirect); else location.reload();
    }).catch(fail);
  });
})();`
