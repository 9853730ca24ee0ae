package terraform_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var (
	reVariable   = regexp.MustCompile(`(?m)^variable "([a-z0-9_]+)" \{`)
	reOutput     = regexp.MustCompile(`(?m)^output "([a-z0-9_]+)" \{`)
	reResource   = regexp.MustCompile(`(?m)^resource "([a-z0-9_]+)" "([a-z0-9_]+)"`)
	reData       = regexp.MustCompile(`(?m)^data "([a-z0-9_]+)" "([a-z0-9_]+)"`)
	reVarRef     = regexp.MustCompile(`\bvar\.([a-z0-9_]+)`)
	reLocalRef   = regexp.MustCompile(`\blocal\.([a-z0-9_]+)`)
	reLocalDecl  = regexp.MustCompile(`(?m)^  ([a-z0-9_]+)\s+=`)
	reDataRef    = regexp.MustCompile(`\bdata\.([a-z0-9_]+)\.([a-z0-9_]+)`)
	reResRef     = regexp.MustCompile(`\b((?:google|aws)_[a-z0-9_]+)\.([a-z0-9_]+)\b`)
	reBlockStart = regexp.MustCompile(`(?m)^(variable|output) "[a-z0-9_]+" \{\n((?:  .*\n|\n)*?)\}`)
)

// module is the concatenated text of one root or module directory.
func readModule(tb testing.TB, dir string) string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no .tf files in %s: %v", dir, err)
	}
	var b strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_override.tf") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestHCLSanity checks what terraform validate would for roots it cannot
// validate offline (GCP has no provider here), and house rules for all:
// every variable and output documented, every var./local./resource
// reference declared, and no reference to the other cloud.
func TestHCLSanity(t *testing.T) {
	dirs := map[string]string{
		"gcp":                  "google",
		"modules/aws":          "aws",
		"modules/aws-realtime": "aws",
		"examples/aws":         "aws",
	}
	for dir, cloud := range dirs {
		t.Run(dir, func(t *testing.T) {
			src := readModule(t, dir)
			// Strip comments so that prose does not count as references.
			src = regexp.MustCompile(`(?m)\s*#.*$`).ReplaceAllString(src, "")

			for _, m := range reBlockStart.FindAllStringSubmatch(src, -1) {
				if !strings.Contains(m[2], "description") {
					t.Errorf("%s: %s without a description:\n%s", dir, m[1], m[0])
				}
			}
			vars := set(reVariable.FindAllStringSubmatch(src, -1), 1)
			for _, m := range reVarRef.FindAllStringSubmatch(src, -1) {
				if !vars[m[1]] {
					t.Errorf("%s: var.%s is not declared", dir, m[1])
				}
			}
			locals := map[string]bool{}
			for _, block := range regexp.MustCompile(`(?ms)^locals \{\n(.*?)^\}`).FindAllStringSubmatch(src, -1) {
				for _, m := range reLocalDecl.FindAllStringSubmatch(block[1], -1) {
					locals[m[1]] = true
				}
			}
			for _, m := range reLocalRef.FindAllStringSubmatch(src, -1) {
				if !locals[m[1]] {
					t.Errorf("%s: local.%s is not declared", dir, m[1])
				}
			}
			resources := map[string]bool{}
			for _, m := range reResource.FindAllStringSubmatch(src, -1) {
				if resources[m[1]+"."+m[2]] {
					t.Errorf("%s: resource %s.%s declared twice", dir, m[1], m[2])
				}
				resources[m[1]+"."+m[2]] = true
			}
			data := map[string]bool{}
			for _, m := range reData.FindAllStringSubmatch(src, -1) {
				data[m[1]+"."+m[2]] = true
			}
			for _, m := range reDataRef.FindAllStringSubmatch(src, -1) {
				if !data[m[1]+"."+m[2]] {
					t.Errorf("%s: data.%s.%s is not declared", dir, m[1], m[2])
				}
			}
			noData := reDataRef.ReplaceAllString(src, "")
			noDecl := reResource.ReplaceAllString(reData.ReplaceAllString(noData, ""), "")
			for _, m := range reResRef.FindAllStringSubmatch(noDecl, -1) {
				if !strings.HasPrefix(m[1], cloud+"_") {
					t.Errorf("%s: references %s.%s of the other cloud", dir, m[1], m[2])
					continue
				}
				if !resources[m[1]+"."+m[2]] {
					t.Errorf("%s: %s.%s is not declared", dir, m[1], m[2])
				}
			}
			if len(vars) == 0 || len(resources)+len(data) == 0 && dir != "examples/aws" {
				t.Errorf("%s: nothing parsed (%d variables, %d resources)", dir, len(vars), len(resources))
			}
		})
	}
}

// TestOutputsIncludeAPIURL: every root tells the user where the API is.
func TestOutputsIncludeAPIURL(t *testing.T) {
	for _, dir := range []string{"gcp", "examples/aws", "modules/aws"} {
		outs := set(reOutput.FindAllStringSubmatch(readModule(t, dir), -1), 1)
		if !outs["api_url"] {
			t.Errorf("%s has no api_url output (has %v)", dir, keys(outs))
		}
	}
}

// TestGCPHubTimeout: the hub's Cloud Run service keeps SSE connections
// for up to an hour, the handler's requests are short.
func TestGCPHubTimeout(t *testing.T) {
	src := readModule(t, "gcp")
	hub := src[strings.Index(src, `resource "google_cloud_run_v2_service" "hub"`):]
	hub = hub[:strings.Index(hub, "\n}\n")]
	if !strings.Contains(hub, `timeout                          = "${var.hub_timeout_seconds}s"`) || !strings.Contains(hub, "session_affinity") {
		t.Errorf("hub service without the long timeout or session affinity:\n%s", hub)
	}
	if !regexp.MustCompile(`variable "hub_timeout_seconds" \{[^}]*default\s+= 3600`).MatchString(src) {
		t.Error("hub_timeout_seconds should default to 3600")
	}
}

func set(ms [][]string, i int) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		out[m[i]] = true
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestIAMLeastPrivilege: no policy grants a wildcard action, and a
// wildcard resource appears only where the action has no resource scope,
// said so in a comment on the line.
func TestIAMLeastPrivilege(t *testing.T) {
	reActions := regexp.MustCompile(`(?s)\bactions\s*=\s*\[(.*?)\]`)
	reWildRes := regexp.MustCompile(`resources\s*=\s*\["\*"\]`)
	for _, dir := range []string{"modules/aws", "modules/aws-realtime"} {
		src := readModule(t, dir)
		code := regexp.MustCompile(`(?m)\s*#.*$`).ReplaceAllString(src, "")
		lists := reActions.FindAllStringSubmatch(code, -1)
		if len(lists) < 3 {
			t.Fatalf("%s: only %d actions lists found; the parse is stale", dir, len(lists))
		}
		for _, l := range lists {
			if strings.Contains(l[1], "*") {
				t.Errorf("%s grants a wildcard action: [%s]", dir, strings.TrimSpace(l[1]))
			}
		}
		for _, line := range strings.Split(src, "\n") {
			if reWildRes.MatchString(line) && !strings.Contains(line, "#") {
				t.Errorf("%s: a wildcard resource without the reason: %s", dir, strings.TrimSpace(line))
			}
		}
	}
}

// TestFunctionRoleCoversS3Calls: every S3 API files/s3 calls at run time
// is allowed by the function role, so no upload, read or cleanup path
// ends in AccessDenied in production only.
func TestFunctionRoleCoversS3Calls(t *testing.T) {
	need := map[string]string{
		"PutObject": "s3:PutObject", "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
		"CompleteMultipartUpload": "s3:PutObject", "AbortMultipartUpload": "s3:AbortMultipartUpload",
		"GetObject": "s3:GetObject", "DeleteObject": "s3:DeleteObject", "DeleteObjects": "s3:DeleteObject",
		"NewListObjectsV2Paginator": "s3:ListBucket",
		"CreateBucket":              "", // Storage.CreateBucket: tests and first runs, never the function
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "files", "s3", "s3.go"))
	if err != nil {
		t.Fatal(err)
	}
	calls := regexp.MustCompile(`(?:client\.|s3\.)(New[A-Za-z]+Paginator|[A-Z][A-Za-z]+)\(`).FindAllStringSubmatch(string(b), -1)
	policy := block(t, readModule(t, "modules/aws"), `data "aws_iam_policy_document" "function"`)
	seen := 0
	for _, c := range calls {
		action, known := need[c[1]]
		switch {
		case c[1] == "New": // s3.New, the client constructor
			continue
		case !known:
			t.Errorf("files/s3 calls %s: map it to its IAM action here and grant it in modules/aws", c[1])
		case action != "" && !strings.Contains(policy, `"`+action+`"`):
			t.Errorf("files/s3 calls %s, which needs %s; the function role does not grant it", c[1], action)
		}
		seen++
	}
	if seen < 8 {
		t.Errorf("found only %d S3 calls in files/s3; the scan is stale", seen)
	}
}
