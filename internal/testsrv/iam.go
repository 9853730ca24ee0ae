package testsrv

import (
	"net/http/httptest"
	"testing"

	"github.com/hanzoai/base/iam"
)

// DevIssuer serves a development OIDC issuer (discovery and JWKS) over
// HTTP on a free loopback port until tb ends, as an external IAM — or
// Google, for Cloud Scheduler's tokens — would; its issuer is that URL.
func DevIssuer(tb testing.TB) *iam.DevIssuer {
	tb.Helper()
	srv := httptest.NewUnstartedServer(nil)
	d, err := iam.OpenDevIssuer(tb.TempDir(), "http://"+srv.Listener.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	srv.Config.Handler = d.Handler()
	srv.Start()
	tb.Cleanup(srv.Close)
	return d
}
