package function_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/hanzoai/base/cmd/base-cloudrun/function"
)

// TestEntryPointRegistered starts functions-framework-go the way the
// Cloud Functions (2nd gen) Go runtime does — FUNCTION_TARGET names the
// entry point, funcframework.Start serves it — with this package
// imported only for its registration. A target nobody registered is
// refused, so the function is found by its name and not by accident.
func TestEntryPointRegistered(t *testing.T) {
	t.Setenv("BASE_DIR", t.TempDir())
	t.Setenv("FUNCTION_TARGET", "NotBase")
	if err := funcframework.Start("0"); err == nil || !strings.Contains(err.Error(), "NotBase") {
		t.Fatalf("Start with an unknown target = %v, want a refusal", err)
	}

	t.Setenv("FUNCTION_TARGET", function.EntryPoint)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	errc := make(chan error, 1)
	// Start has no shutdown: the server lives until the test binary exits.
	go func() { errc <- funcframework.StartHostPort("127.0.0.1", port) }()
	client := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case err := <-errc:
			t.Fatalf("functions framework: %v", err)
		default:
		}
		res, err := client.Get("http://127.0.0.1:" + port + "/v1/health")
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("entry point %q not serving: %v", function.EntryPoint, err)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), "API is healthy.") {
			t.Fatalf("GET /v1/health through the function: %d %s", res.StatusCode, b)
		}
		break
	}
	// The PocketBase SDK's /api paths reach the same handler.
	res, err := client.Get("http://127.0.0.1:" + port + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET /api/health: %d", res.StatusCode)
	}
}
