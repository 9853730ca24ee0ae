// Command mkimage builds the container images a Base deployment runs — the
// realtime hub for ECS Fargate or Cloud Run, base-cloudrun for Cloud Run —
// without a Docker engine: it cross-compiles the command with
// CGO_ENABLED=0 and writes a one-layer image (the static binary, a CA
// bundle, /tmp and a /data directory owned by the non-root user) as a
// docker-archive tarball, which `docker load`, `crane push` and
// `skopeo copy docker-archive:` all accept.
//
//	go run ./cmd/mkimage -cmd ./cmd/realtime-hub -arch arm64 -tag base-hub:latest -o hub.tar
//	go run github.com/google/go-containerregistry/cmd/crane@v0.22.1 push hub.tar $REPO:latest
//
// The image runs as uid/gid 65532, listens where its command is told to
// (the hub on BASE_HUB_HTTP / BASE_HTTP / $PORT), and is reproducible: the
// same source and flags give the same digest (file times are the epoch,
// the build is -trimpath).
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// uid is the non-root user the image runs as (distroless's "nonroot").
const uid = 65532

// Options is what one image build needs.
type Options struct {
	Cmd    string // package to build, e.g. ./cmd/realtime-hub
	Arch   string // amd64 or arm64
	Tag    string // image reference recorded in the tarball
	Out    string // docker-archive tarball path
	CA     string // CA bundle to include, "" for none
	Port   string // port the image documents as exposed
	GoTool string // go command, default "go"
}

func main() {
	var o Options
	flag.StringVar(&o.Cmd, "cmd", "./cmd/realtime-hub", "Go package of the command to package")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "target architecture: amd64 or arm64")
	flag.StringVar(&o.Tag, "tag", "", "image reference recorded in the tarball (default: <command>:latest)")
	flag.StringVar(&o.Out, "o", "", "output docker-archive tarball (required)")
	flag.StringVar(&o.CA, "ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to include (\"\" for none)")
	flag.StringVar(&o.Port, "port", "8080", "port recorded as exposed")
	flag.Parse()
	digest, err := Build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
	fmt.Println(digest)
}

// Build compiles o.Cmd for linux/o.Arch and writes the image to o.Out,
// returning its digest.
func Build(o Options) (string, error) {
	if o.Out == "" {
		return "", errors.New("-o is required")
	}
	if o.Arch != "amd64" && o.Arch != "arm64" {
		return "", fmt.Errorf("-arch %q: want amd64 or arm64", o.Arch)
	}
	if o.GoTool == "" {
		o.GoTool = "go"
	}
	bin := path.Base(filepath.ToSlash(o.Cmd))
	if o.Tag == "" {
		o.Tag = bin + ":latest"
	}
	tag, err := name.NewTag(o.Tag)
	if err != nil {
		return "", fmt.Errorf("-tag: %w", err)
	}
	dir, err := os.MkdirTemp("", "mkimage")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	exe := filepath.Join(dir, bin)
	build := exec.Command(o.GoTool, "build", "-trimpath", "-tags", "timetzdata", "-ldflags=-s -w -buildid=", "-o", exe, o.Cmd)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.Arch)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w", o.Cmd, err)
	}
	layer, err := rootLayer(exe, bin, o.CA)
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config = v1.Config{
		Entrypoint:   []string{"/app/" + bin},
		User:         fmt.Sprintf("%d:%d", uid, uid),
		WorkingDir:   "/data",
		Env:          []string{"BASE_DIR=/data", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		ExposedPorts: map[string]struct{}{o.Port + "/tcp": {}},
		Labels:       map[string]string{"org.opencontainers.image.source": "https://github.com/hanzoai/base", "org.opencontainers.image.title": bin},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	if err := tarball.WriteToFile(o.Out, tag, img); err != nil {
		return "", fmt.Errorf("write %s: %w", o.Out, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// rootLayer is the image's only layer: /app/<bin>, the CA bundle, a
// world-writable /tmp and /data owned by the runtime user. Every entry has
// the epoch as its time so the layer's digest depends on content only.
func rootLayer(exe, bin, ca string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dirs := []struct {
		name string
		mode int64
		own  int
	}{{"app/", 0o755, 0}, {"data/", 0o755, uid}, {"etc/", 0o755, 0}, {"etc/ssl/", 0o755, 0}, {"etc/ssl/certs/", 0o755, 0}, {"tmp/", 0o1777, 0}}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, Uid: d.own, Gid: d.own, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	add := func(name, src string, mode int64) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(b)), ModTime: epoch}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	}
	if err := add("app/"+bin, exe, 0o755); err != nil {
		return nil, err
	}
	if ca != "" {
		if err := add("etc/ssl/certs/ca-certificates.crt", ca, 0o644); err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}
