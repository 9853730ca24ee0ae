package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// chromiumPath is the browser the login page test drives
// (scripts/deps/50-chromium.sh installs it); $CHROMIUM overrides.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// TestBrowserLogin runs e2e/browser/*.test.mjs (playwright-core driving a
// headless Chromium) against a fresh cmd/iam whose issuer is
// http://localhost:<port>, so that WebAuthn (which refuses IP origins) works
// with Chromium's virtual authenticator.
func TestBrowserLogin(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node")
	_, err = os.Stat(filepath.Join("node_modules", "playwright-core"))
	need(t, err == nil, "e2e/node_modules/playwright-core (npm ci)")
	_, err = os.Stat(chromiumPath())
	need(t, err == nil, "chromium (scripts/deps/50-chromium.sh)")

	bin := buildIAM(t, t.TempDir())
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	issuer := "http://localhost:" + port
	initData, _ := filepath.Abs("browser/init_data.json")
	runServer(t, "iam", "http://"+addr+"/api/health",
		[]string{"IAM_ISSUER=" + issuer, "IAM_LOG_LEVEL=warn", "IAM_ARGON2=8192,1,1"},
		bin, "--http", addr, "--dir", t.TempDir(), "--init-data", initData)

	files, _ := filepath.Glob("browser/*.test.mjs")
	cmd := exec.Command("node", append([]string{"--test", "--test-reporter=spec", "--test-concurrency=1"}, files...)...)
	cmd.Env = append(os.Environ(), "IAM_URL="+issuer, "IAM_DIRECT=http://"+addr, "CHROMIUM="+chromiumPath())
	out, err := cmd.CombinedOutput()
	t.Logf("node --test %v:\n%s", files, out)
	if err != nil {
		t.Fatalf("browser tests failed: %v", err)
	}
}
