// Package terraform_test checks the Terraform in infra/terraform: every
// file formatted; the AWS example initialized from the offline provider
// mirror, validated, planned, applied against moto_server and destroyed;
// the GCP root (no Google provider offline) checked by parsing.
package terraform_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const pluginDir = "/opt/tf-plugins"

// need skips when a tool is missing, and fails under CI, which must have it.
func need(tb testing.TB, what string, ok bool) {
	tb.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s is missing (CI must install it: scripts/deps/40-terraform.sh)", what)
	}
	tb.Skipf("SKIP: %s is missing; install it to run this test (scripts/deps/40-terraform.sh)", what)
}

func tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	need(tb, name, err == nil)
	return p
}

func run(tb testing.TB, dir string, env []string, bin string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"TF_CLI_CONFIG_FILE=/dev/null", "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"}, env...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestFormat(t *testing.T) {
	tf := tool(t, "terraform")
	run(t, ".", nil, tf, "fmt", "-check", "-recursive", "-diff", ".")
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startMoto runs moto_server on a free port until the test ends.
func startMoto(tb testing.TB) string {
	tb.Helper()
	bin := tool(tb, "moto_server")
	port := freePort(tb)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			tb.Fatalf("moto_server not listening after 30s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".terraform") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !strings.HasSuffix(p, ".tf") && !strings.HasSuffix(p, ".tfvars.example") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

const motoOverride = `provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  endpoints {
%s  }
}
`

// TestAWSExampleApply runs the AWS example root end to end against
// moto_server: init from the offline mirror, validate, plan, apply, check
// the outputs, destroy.
func TestAWSExampleApply(t *testing.T) {
	if testing.Short() {
		t.Skip("applies a whole deployment (about two minutes)")
	}
	tf := tool(t, "terraform")
	_, err := os.Stat(filepath.Join(pluginDir, "registry.terraform.io/hashicorp/aws"))
	need(t, "the AWS provider mirror in "+pluginDir, err == nil)
	endpoint := startMoto(t)

	// Copy modules and example so that the .terraform state stays out of the tree.
	root := t.TempDir()
	copyDir(t, ".", root)
	dir := filepath.Join(root, "examples", "aws")
	var eps strings.Builder
	for _, svc := range []string{"apigatewayv2", "cloudwatch", "ec2", "ecs", "elasticache", "elbv2", "events", "iam", "kms", "lambda", "logs", "s3", "sts"} {
		fmt.Fprintf(&eps, "    %s = %q\n", svc, endpoint)
	}
	if err := os.WriteFile(filepath.Join(dir, "moto_override.tf"), fmt.Appendf(nil, motoOverride, eps.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(dir, "bootstrap.zip")
	writeZip(t, zipPath)

	vars := []string{
		"-var", "lambda_zip=" + zipPath,
		"-var", "iam_endpoint=https://iam.example.com",
		"-var", "store_url=postgres://base:secret@db.internal:5432/base",
		"-var", "file_token_secret=0123456789abcdef0123456789abcdef",
		"-var", "force_destroy_bucket=true",
		"-var", "function_url=true",
		"-var", "redis_replication_group=false", // moto has no member clusters for replication groups
		"-var", `schedules={"__baseStoreOptimize__":"cron(0 0 * * ? *)"}`,
	}
	run(t, dir, nil, tf, "init", "-input=false", "-no-color", "-plugin-dir="+pluginDir)
	run(t, dir, nil, tf, "validate", "-no-color")
	plan := run(t, dir, nil, tf, append([]string{"plan", "-input=false", "-no-color", "-out=tfplan"}, vars...)...)
	for _, want := range []string{
		`module.base.aws_lambda_function.base`, `module.base.aws_apigatewayv2_api.http[0]`,
		`module.base.aws_lambda_function_url.base[0]`, `module.base.aws_s3_bucket.files`, `module.base.aws_kms_key.base`,
		`module.base.aws_cloudwatch_event_rule.schedule["__baseStoreOptimize__"]`, `module.realtime[0].aws_ecs_service.hub`,
		`module.realtime[0].aws_lb_listener_rule.realtime`, `module.realtime[0].aws_elasticache_cluster.bus[0]`,
		`module.base.aws_cloudwatch_log_group.function`, `module.base.aws_cloudwatch_log_group.api[0]`,
		`module.realtime[0].aws_cloudwatch_log_group.hub`, `module.base.aws_iam_role_policy.function`,
		`module.realtime[0].aws_lb.front`, `module.realtime[0].aws_lb_target_group.function`,
		`module.base.aws_lambda_permission.schedule["__baseStoreOptimize__"]`,
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan does not create %s", want)
		}
	}
	run(t, dir, nil, tf, "apply", "-input=false", "-no-color", "-auto-approve", "tfplan")
	apiURL := strings.TrimSpace(run(t, dir, nil, tf, "output", "-raw", "api_url"))
	if !regexp.MustCompile(`^http://base-alb-.+`).MatchString(apiURL) {
		t.Errorf("api_url = %q, want the ALB's URL", apiURL)
	}
	httpAPI := strings.TrimSpace(run(t, dir, nil, tf, "output", "-raw", "http_api_url"))
	if !strings.HasPrefix(httpAPI, "https://") {
		t.Errorf("http_api_url = %q", httpAPI)
	}
	state := run(t, dir, nil, tf, "state", "list")
	if n := strings.Count(state, "\n"); n < 40 {
		t.Errorf("only %d resources in state:\n%s", n, state)
	}
	// moto never finishes deleting an ElastiCache cluster (it stays
	// "deleting", and so its subnet group stays in use), so both leave the
	// state before destroy.
	run(t, dir, nil, tf, "state", "rm", "module.realtime[0].aws_elasticache_cluster.bus[0]", "module.realtime[0].aws_elasticache_subnet_group.bus")
	// One resource at a time: moto's Lambda policy is not safe for
	// concurrent RemovePermission calls on one function (a removed
	// statement can come back), and the provider then waits for its
	// removal until the test times out.
	run(t, dir, nil, tf, append([]string{"destroy", "-input=false", "-no-color", "-auto-approve", "-parallelism=1"}, vars...)...)
	if left := strings.TrimSpace(run(t, dir, nil, tf, "state", "list")); left != "" {
		t.Errorf("resources left after destroy:\n%s", left)
	}
}

func writeZip(tb testing.TB, path string) {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	if err != nil {
		tb.Fatal(err)
	}
	w.Write([]byte("#!/bin/sh\n"))
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}
