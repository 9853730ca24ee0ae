package terraform_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hanzoai/base/config"
	"github.com/hanzoai/base/store/sqlite"
)

// reEnvName is what an environment variable name looks like here.
var reEnvName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$|^PORT$`)

// goEnvNames returns the environment variable names the non-test Go files
// of dirs (relative to the module root) read: string literals that are
// the first argument of a call (getenv("X"), get("X", def)) or an element
// of a composite literal ([]string{"X", "Y"} ranged over and looked up).
func goEnvNames(tb testing.TB, dirs ...string) map[string]bool {
	tb.Helper()
	names := map[string]bool{}
	add := func(e ast.Expr) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return
		}
		if s, err := strconv.Unquote(lit.Value); err == nil && reEnvName.MatchString(s) {
			names[s] = true
		}
	}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
		if err != nil || len(files) == 0 {
			tb.Fatalf("no Go files in %s: %v", dir, err)
		}
		fset := token.NewFileSet()
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
			if err != nil {
				tb.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if len(n.Args) > 0 {
						add(n.Args[0])
					}
				case *ast.CompositeLit:
					for _, e := range n.Elts {
						add(e)
					}
				}
				return true
			})
		}
	}
	return names
}

// block returns the brace-balanced block that follows the first match of
// header in src (header included), failing when there is none.
func block(tb testing.TB, src, header string) string {
	tb.Helper()
	i := strings.Index(src, header)
	if i < 0 {
		tb.Fatalf("no %q in the Terraform", header)
	}
	open := strings.IndexByte(src[i:], '{')
	if open < 0 {
		tb.Fatalf("no block after %q", header)
	}
	depth := 0
	for j := i + open; j < len(src); j++ {
		switch src[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return src[i : j+1]
			}
		}
	}
	tb.Fatalf("unbalanced block after %q", header)
	return ""
}

var (
	reEnvKey   = regexp.MustCompile(`(?m)^\s*"?([A-Z][A-Z0-9_]+)"?\s*=`)
	reEnvName2 = regexp.MustCompile(`(?m)^\s*name\s*=\s*"([A-Z][A-Z0-9_]+)"`)
)

// envKeys returns the upper-case keys assigned in text (map keys of an
// environment, and name = "X" of an env block).
func envKeys(text string) []string {
	var out []string
	for _, re := range []*regexp.Regexp{reEnvKey, reEnvName2} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// TestEnvNamesMatchBinaries: every environment variable the Terraform
// sets for a binary is one that binary reads. A name set but never read
// (the hub once got BASE_HTTP while it read only BASE_HUB_HTTP) leaves the
// setting silently at its default in production.
func TestEnvNamesMatchBinaries(t *testing.T) {
	lambda := goEnvNames(t, "config", "cmd/base-lambda")
	cloudrun := goEnvNames(t, "config", "cmd/base-cloudrun")
	hub := goEnvNames(t, "cmd/realtime-hub")
	for _, must := range []struct {
		names map[string]bool
		name  string
	}{{lambda, "BASE_STORE_URL"}, {cloudrun, "PORT"}, {hub, "BASE_HUB_HTTP"}, {hub, "BASE_HTTP"}, {lambda, "BASE_SCHEDULER_EMAIL"}} {
		if !must.names[must.name] {
			t.Fatalf("the Go scan misses %s: it proves nothing", must.name)
		}
	}

	awsMod := readModule(t, "modules/aws")
	rtMod := readModule(t, "modules/aws-realtime")
	example := readModule(t, "examples/aws")
	gcp := readModule(t, "gcp")
	gcpLocals := block(t, gcp, "\nlocals {")
	gcpCommon := block(t, gcpLocals, "common_env = {")
	sets := []struct {
		where  string
		text   string
		reads  map[string]bool
		binary string
	}{
		{"modules/aws: the function's environment", block(t, block(t, awsMod, "\nlocals {"), "environment = merge({"), lambda, "base-lambda"},
		{"modules/aws-realtime: the hub task", block(t, rtMod, `resource "aws_ecs_task_definition" "hub"`), hub, "realtime-hub"},
		{"examples/aws: hub_environment", block(t, example, "hub_environment = {"), hub, "realtime-hub"},
		{"gcp: common_env (handler)", gcpCommon, cloudrun, "base-cloudrun"},
		{"gcp: common_env (hub)", gcpCommon, hub, "realtime-hub"},
		{"gcp: secret_env (handler)", block(t, gcpLocals, "secret_env = {"), cloudrun, "base-cloudrun"},
		{"gcp: the handler service", block(t, gcp, `resource "google_cloud_run_v2_service" "handler"`), cloudrun, "base-cloudrun"},
		{"gcp: the hub service", block(t, gcp, `resource "google_cloud_run_v2_service" "hub"`), hub, "realtime-hub"},
	}
	covered := map[string]bool{}
	for _, s := range sets {
		keys := envKeys(s.text)
		if len(keys) == 0 {
			t.Errorf("%s: no environment found; the parse is stale", s.where)
		}
		for _, k := range keys {
			covered[k] = true
			if !s.reads[k] {
				t.Errorf("%s sets %s, which %s never reads", s.where, k, s.binary)
			}
		}
	}
	// Every environment-looking assignment anywhere belongs to a set
	// checked above, so a new one cannot slip past this test.
	for _, dir := range []string{"modules/aws", "modules/aws-realtime", "examples/aws", "gcp"} {
		for _, k := range envKeys(readModule(t, dir)) {
			if !covered[k] {
				t.Errorf("%s sets %s outside the environments this test knows; add its block above", dir, k)
			}
		}
	}
}

// TestDocumentedEnvNamesExist: every BASE_*, IAM_* and S3_* name the
// Terraform README and example variables mention is read by some binary.
func TestDocumentedEnvNamesExist(t *testing.T) {
	all := goEnvNames(t, "config", "cmd/base-lambda", "cmd/base-cloudrun", "cmd/base-cloudrun/function", "cmd/realtime-hub", "cmd/base")
	re := regexp.MustCompile(`\b(?:BASE|IAM|S3)_[A-Z0-9_]*[A-Z0-9]\b`)
	docs := []string{"README.md", "examples/aws/terraform.tfvars.example", "gcp/terraform.tfvars.example", "examples/aws/variables.tf", "modules/aws/variables.tf", "modules/aws-realtime/variables.tf", "gcp/variables.tf"}
	var missing []string
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range re.FindAllString(string(b), -1) {
			if !all[name] {
				missing = append(missing, doc+": "+name)
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("%s is read by no binary", m)
	}
}

// TestSchedulesNameServerlessJobs: every job a schedule names — in the
// variable defaults, the example tfvars, and the apply test's own input —
// is one the serverless handler's registry has. A schedule naming another
// job (__baseIAMCleanup__ lives only in `base serve`) fails every time it
// fires.
func TestSchedulesNameServerlessJobs(t *testing.T) {
	st, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg, err := config.Jobs(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, j := range reg.List() {
		have[j.ID] = true
	}
	re := regexp.MustCompile(`"(__[A-Za-z0-9]+__)"\s*[:=]`)
	found := 0
	for _, f := range []string{"modules/aws/variables.tf", "examples/aws/variables.tf", "gcp/variables.tf",
		"examples/aws/terraform.tfvars.example", "gcp/terraform.tfvars.example", "terraform_test.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			found++
			if !have[m[1]] {
				t.Errorf("%s schedules %s, which the serverless handler does not have (it has %v)", f, m[1], keys(have))
			}
		}
	}
	if found < 5 {
		t.Errorf("only %d scheduled job names found; the parse is stale", found)
	}
}
