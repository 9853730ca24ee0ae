// Package iam is Base's OpenID Connect provider (spec/iam.md).
//
// [New] opens the IAM over a store.Store: organizations, applications and
// users (argon2id passwords), signing keys with rotation, SSO sessions,
// authorization codes, refresh-token families, device codes, login
// throttling counters and the audit log all live in "iam_*" tables of one
// store database (DefaultSystemOrg, "iam-system"), so SQLite, PostgreSQL
// and libSQL all work and every instance sharing the store sees the same
// state. [Server.Handler] serves discovery, JWKS, authorize (branded login
// page), token (authorization_code with PKCE S256, refresh_token with
// rotation and reuse detection, client_credentials, password, device_code),
// userinfo, introspection, revocation, logout, the device page, the login
// and password JSON APIs and a small admin API.
//
// [DevIssuer] is the minimal embedded development issuer behind
// `base token`: one RSA-2048 key and an issuer URL kept under a data
// directory, a [DevIssuer.Mint] that signs access tokens the pocketbase JS
// SDK can decode, and a handler serving discovery and the JWKS. Given as
// Config.DevIssuer, its key becomes the IAM's first signing key, so tokens
// minted by `base token` and by the IAM verify against the same JWKS.
package iam

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// keyFileName is the dev issuer's state file inside <dir>/iam/.
const keyFileName = "dev-issuer.json"

// keyBits is the size of the RSA signing key.
const keyBits = 2048

// keyFile is the on-disk form of a dev issuer (JSON, mode 0600).
type keyFile struct {
	Issuer     string    `json:"issuer"`
	Created    time.Time `json:"created"`
	PrivateKey string    `json:"privateKey"` // PEM, PKCS #8
}

// DevIssuer is the embedded development token issuer: it signs RS256 tokens
// with one RSA-2048 key persisted under a data directory, so that every
// process opening the same directory issues and accepts the same tokens.
// It is safe for concurrent use.
type DevIssuer struct {
	issuer string
	kid    string
	key    *rsa.PrivateKey
	now    func() time.Time
}

// OpenDevIssuer opens the dev issuer kept in <dir>/iam/, creating it on first
// use: the directory (0700), a new RSA-2048 key and defaultIssuer as the
// issuer URL, written to one 0600 file. defaultIssuer (an absolute http(s)
// URL; a trailing slash is dropped) is ignored when the directory already
// has an issuer.
//
// Several processes may open the same dir at once: the state file is
// published atomically (create-exclusive), so they all end up with the
// same key and issuer. Opening an existing issuer takes well under a
// millisecond; creating one takes as long as generating the RSA key.
func OpenDevIssuer(dir string, defaultIssuer string) (*DevIssuer, error) {
	iamDir := filepath.Join(dir, "iam")
	path := filepath.Join(iamDir, keyFileName)
	d, err := loadDevIssuer(path)
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open dev issuer %q: %w", path, err)
	}

	issuer, err := normalizeIssuer(defaultIssuer)
	if err != nil {
		return nil, fmt.Errorf("open dev issuer %q: %w", path, err)
	}
	if err := os.MkdirAll(iamDir, 0o700); err != nil {
		return nil, fmt.Errorf("open dev issuer %q: %w", path, err)
	}
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("open dev issuer %q: generate key: %w", path, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("open dev issuer %q: %w", path, err)
	}
	data, err := json.MarshalIndent(keyFile{
		Issuer:     issuer,
		Created:    time.Now().UTC().Truncate(time.Second),
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("open dev issuer %q: %w", path, err)
	}
	if err := publishExclusive(iamDir, path, append(data, '\n')); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("open dev issuer %q: %w", path, err)
	}
	// Whoever won the race, everybody uses the published file.
	d, err = loadDevIssuerRetry(path)
	if err != nil {
		return nil, fmt.Errorf("open dev issuer %q: %w", path, err)
	}
	return d, nil
}

// publishExclusive makes path hold data unless it already exists (then it
// returns an error matching fs.ErrExist). Readers never see a partial file:
// the data is written to a temporary file that is hard-linked into place.
func publishExclusive(dir, path string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".dev-issuer-*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	err = os.Link(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// No hard links on this file system: fall back to an exclusive create.
	// A concurrent reader may see the file partly written;
	// loadDevIssuerRetry waits that out.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadDevIssuerRetry loads path, retrying for a short while when the file is
// incomplete (see publishExclusive's fallback).
func loadDevIssuerRetry(path string) (*DevIssuer, error) {
	var err error
	for range 50 {
		var d *DevIssuer
		if d, err = loadDevIssuer(path); err == nil {
			return d, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, err
}

// loadDevIssuer reads and parses the state file.
func loadDevIssuer(path string) (*DevIssuer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	issuer, err := normalizeIssuer(kf.Issuer)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode([]byte(kf.PrivateKey))
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("privateKey: no PKCS #8 PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("privateKey: %w", err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("privateKey: %T is not an RSA key", k)
	}
	if key.N.BitLen() < keyBits {
		return nil, fmt.Errorf("privateKey: RSA key of %d bits, want %d", key.N.BitLen(), keyBits)
	}
	return &DevIssuer{issuer: issuer, kid: thumbprint(&key.PublicKey), key: key, now: time.Now}, nil
}

// normalizeIssuer checks that s is an absolute http(s) URL without query or
// fragment and drops a trailing slash.
func normalizeIssuer(s string) (string, error) {
	s = strings.TrimRight(s, "/")
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("issuer: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("issuer %q: want an absolute http(s) URL without query or fragment", s)
	}
	return s, nil
}

// thumbprint is the RFC 7638 JWK SHA-256 thumbprint of pub, used as kid.
func thumbprint(pub *rsa.PublicKey) string {
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	n := base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Issuer returns the issuer URL: the iss of every token this issuer mints.
func (d *DevIssuer) Issuer() string { return d.issuer }

// KeyID returns the kid of the signing key (its RFC 7638 thumbprint).
func (d *DevIssuer) KeyID() string { return d.kid }

// PublicKeys returns the verification keys by kid, in the form
// auth.Config.Keys takes. The map is a fresh copy.
func (d *DevIssuer) PublicKeys() map[string]crypto.PublicKey {
	return map[string]crypto.PublicKey{d.kid: &d.key.PublicKey}
}
