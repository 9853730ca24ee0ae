package iam

import (
	"net/http"
)

// routes builds the IAM's mux. Every path of spec/iam.md is registered by
// its full path; anything else is a JSON 404.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Discovery and JWKS answer GET, HEAD and OPTIONS (405 otherwise).
	mux.HandleFunc(PathDiscovery, s.handleDiscovery)
	mux.HandleFunc(PathIAMDiscovery, s.handleDiscovery)
	mux.HandleFunc(PathJWKS, s.handleJWKS)
	mux.HandleFunc(PathRootJWKS, s.handleJWKS)
	mux.HandleFunc(PathAuthorize, methods(s.handleAuthorize, "GET", "POST"))
	mux.HandleFunc(PathToken, methods(s.handleToken, "POST", "OPTIONS"))
	mux.HandleFunc(PathUserinfo, methods(s.handleUserinfo, "GET", "POST", "OPTIONS"))
	mux.HandleFunc(PathIntrospect, methods(s.handleIntrospect, "POST", "OPTIONS"))
	mux.HandleFunc(PathRevoke, methods(s.handleRevoke, "POST", "OPTIONS"))
	mux.HandleFunc(PathLogout, methods(s.handleLogout, "GET", "POST", "OPTIONS"))
	mux.HandleFunc(PathDevice, methods(s.handleDeviceAuthorization, "POST", "OPTIONS"))
	mux.HandleFunc(PathDevicePage, methods(s.handleDevicePage, "GET", "POST"))
	mux.HandleFunc(PathLogin, methods(s.handleLoginAPI, "POST", "OPTIONS"))
	mux.HandleFunc(PathPassword, methods(s.handlePassword, "POST", "OPTIONS"))
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST "+PathWebAuthnRegisterBegin, s.handleRegisterBegin)
	mux.HandleFunc("POST "+PathWebAuthnRegisterFinish, s.handleRegisterFinish)
	mux.HandleFunc("POST "+PathWebAuthnLoginBegin, s.handleLoginBegin)
	mux.HandleFunc("POST "+PathWebAuthnLoginFinish, s.handleLoginFinish)
	mux.HandleFunc("POST "+PathWebAuthnMFABegin, s.handleMFABegin)
	mux.HandleFunc("POST "+PathWebAuthnMFAFinish, s.handleMFAFinish)
	mux.HandleFunc("GET "+PathWebAuthnCredentials, s.handleCredentials)
	mux.HandleFunc("DELETE "+PathWebAuthnCredentials+"/{id}", s.handleCredentialDelete)
	mux.HandleFunc("GET "+PathWebAuthn, s.handlePasskeysPage)
	s.adminRoutes(mux)
	mux.HandleFunc("/", notFound)
	return mux
}

// PathPassword is the password change API.
const PathPassword = "/v1/iam/password"

// methods restricts h to the given methods (405 JSON otherwise).
func methods(h http.HandlerFunc, allowed ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allowed {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", joinMethods(allowed))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed.")
	}
}

func joinMethods(ms []string) string {
	out := ""
	for i, m := range ms {
		if i > 0 {
			out += ", "
		}
		out += m
	}
	return out
}
