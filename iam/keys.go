package iam

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Signing algorithms for generated keys.
const (
	AlgRS256 = "RS256" // RSA-2048 (the default)
	AlgES256 = "ES256" // ECDSA P-256
)

// signingKey is one key of the key ring.
type signingKey struct {
	kid     string
	alg     string
	priv    crypto.Signer
	created int64
	retired int64 // 0 while it is the signing key
	expires int64 // 0 = never; else dropped from the JWKS after this
}

// keyRing is the in-memory copy of iam_keys, reloaded periodically and on
// an unknown kid, so that instances sharing a store converge on the same
// keys (a rotation through one instance is picked up by the others).
type keyRing struct {
	mu       sync.RWMutex
	keys     map[string]*signingKey
	signer   *signingKey
	jwks     []byte
	loaded   time.Time
	reloadMu sync.Mutex
}

// newKey generates a key for alg.
func newKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgRS256, "":
		return rsa.GenerateKey(rand.Reader, keyBits)
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported key algorithm %q", alg)
	}
}

// keyID is the RFC 7638 thumbprint of pub.
func keyID(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return thumbprint(k)
	case *ecdsa.PublicKey:
		x, y := pad32(k.X), pad32(k.Y)
		sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return ""
}

func pad32(n *big.Int) string {
	b := make([]byte, 32)
	n.FillBytes(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func keyAlg(k crypto.Signer) string {
	if _, ok := k.(*ecdsa.PrivateKey); ok {
		return AlgES256
	}
	return AlgRS256
}

func encodeKey(k crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

func decodeKey(s string) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < keyBits {
			return nil, fmt.Errorf("RSA key of %d bits, want at least %d", k.N.BitLen(), keyBits)
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("EC key is not P-256")
		}
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T", k)
}

// insertKey stores k; active makes it a signing key. It reports whether it
// was inserted (false when the kid exists).
func (s *Server) insertKey(ctx context.Context, k crypto.Signer, created int64) (string, error) {
	pemText, err := encodeKey(k)
	if err != nil {
		return "", fmt.Errorf("insert key: %w", err)
	}
	kid := keyID(k.Public())
	if _, err := s.db.ExecContext(ctx, `INSERT INTO iam_keys (kid, alg, private_key, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		kid, keyAlg(k), pemText, created); err != nil {
		return "", fmt.Errorf("insert key: %w", err)
	}
	return kid, nil
}

// ensureKey makes sure a signing key exists: the dev issuer's key when one
// is configured and the ring is empty, else a new one.
func (s *Server) ensureKey(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM iam_keys WHERE retired = 0`).Scan(&n); err != nil {
		return fmt.Errorf("ensure key: %w", err)
	}
	if n > 0 {
		return nil
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM iam_keys`).Scan(&total); err != nil {
		return fmt.Errorf("ensure key: %w", err)
	}
	if total == 0 && s.cfg.DevIssuer != nil {
		_, err := s.insertKey(ctx, s.cfg.DevIssuer.key, s.now().Unix())
		return err
	}
	k, err := newKey(s.cfg.KeyAlgorithm)
	if err != nil {
		return fmt.Errorf("ensure key: %w", err)
	}
	_, err = s.insertKey(ctx, k, s.now().Unix())
	return err
}

// RotateKey generates a new signing key (of Config.KeyAlgorithm) and retires
// the current ones: they stay in the JWKS, and valid for verification, until
// every token they signed has expired (the longest access-token lifetime of
// any application, plus five minutes). It returns the new kid. Other
// instances pick the new key up within Config.KeyRefresh.
func (s *Server) RotateKey(ctx context.Context) (string, error) {
	k, err := newKey(s.cfg.KeyAlgorithm)
	if err != nil {
		return "", fmt.Errorf("rotate key: %w", err)
	}
	return s.AddKey(ctx, k)
}

// AddKey makes k (an *rsa.PrivateKey of at least 2048 bits or a P-256
// *ecdsa.PrivateKey) the signing key, retiring the current ones as
// RotateKey does. It returns k's kid.
func (s *Server) AddKey(ctx context.Context, k crypto.Signer) (string, error) {
	pemText, err := encodeKey(k)
	if err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	if _, err := decodeKey(pemText); err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	kid := keyID(k.Public())
	now := s.now().Unix()
	var maxTTL int64
	s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(access_ttl), 0) FROM iam_apps`).Scan(&maxTTL)
	if maxTTL < int64(DefaultAccessTTL/time.Second) {
		maxTTL = int64(DefaultAccessTTL / time.Second)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE iam_keys SET retired = ?, expires = ? WHERE retired = 0 AND kid <> ?`, now, now+maxTTL+300, kid); err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO iam_keys (kid, alg, private_key, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, kid, keyAlg(k), pemText, now); err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	if err := s.reloadKeys(ctx); err != nil {
		return "", err
	}
	s.audit(auditEvent{Event: "key_rotate", Result: "ok", Detail: kid})
	return kid, nil
}

// reloadKeys reads iam_keys into the ring.
func (s *Server) reloadKeys(ctx context.Context) error {
	s.keys.reloadMu.Lock()
	defer s.keys.reloadMu.Unlock()
	now := s.now()
	rows, err := s.db.QueryContext(ctx, `SELECT kid, alg, private_key, created, retired, expires FROM iam_keys WHERE expires = 0 OR expires > ?`, now.Unix())
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	defer rows.Close()
	keys := map[string]*signingKey{}
	var signer *signingKey
	for rows.Next() {
		var k signingKey
		var pemText string
		if err := rows.Scan(&k.kid, &k.alg, &pemText, &k.created, &k.retired, &k.expires); err != nil {
			return fmt.Errorf("load keys: %w", err)
		}
		priv, err := decodeKey(pemText)
		if err != nil {
			s.log.Error("iam: unusable signing key", "kid", k.kid, "err", err)
			continue
		}
		k.priv = priv
		keys[k.kid] = &k
		if k.retired == 0 && (signer == nil || k.created > signer.created || (k.created == signer.created && k.kid > signer.kid)) {
			signer = &k
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	if signer == nil {
		return errors.New("load keys: no signing key")
	}
	jwks, err := json.Marshal(map[string]any{"keys": jwkList(keys)})
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	s.keys.mu.Lock()
	s.keys.keys, s.keys.signer, s.keys.jwks, s.keys.loaded = keys, signer, jwks, now
	s.keys.mu.Unlock()
	return nil
}

// currentKeys returns the ring, reloading it when older than KeyRefresh.
func (s *Server) currentKeys(ctx context.Context) (map[string]*signingKey, *signingKey, []byte) {
	s.keys.mu.RLock()
	keys, signer, jwks, loaded := s.keys.keys, s.keys.signer, s.keys.jwks, s.keys.loaded
	s.keys.mu.RUnlock()
	if s.now().Sub(loaded) > s.cfg.KeyRefresh {
		if err := s.reloadKeys(ctx); err != nil {
			s.log.Error("iam: reload keys", "err", err)
		} else {
			s.keys.mu.RLock()
			keys, signer, jwks = s.keys.keys, s.keys.signer, s.keys.jwks
			s.keys.mu.RUnlock()
		}
	}
	return keys, signer, jwks
}

// verificationKey returns the public key of kid, reloading the ring once
// (at most every second) when the kid is unknown.
func (s *Server) verificationKey(ctx context.Context, kid string) *signingKey {
	keys, _, _ := s.currentKeys(ctx)
	if k, ok := keys[kid]; ok {
		return k
	}
	s.keys.mu.RLock()
	recent := s.now().Sub(s.keys.loaded) < time.Second
	s.keys.mu.RUnlock()
	if recent {
		return nil
	}
	if err := s.reloadKeys(ctx); err != nil {
		return nil
	}
	s.keys.mu.RLock()
	defer s.keys.mu.RUnlock()
	return s.keys.keys[kid]
}

// PublicKeys returns the current verification keys by kid (the JWKS), in
// the form auth.Config.Keys takes.
func (s *Server) PublicKeys(ctx context.Context) map[string]crypto.PublicKey {
	keys, _, _ := s.currentKeys(ctx)
	out := make(map[string]crypto.PublicKey, len(keys))
	for kid, k := range keys {
		out[kid] = k.priv.Public()
	}
	return out
}

// KeyID returns the kid of the current signing key.
func (s *Server) KeyID(ctx context.Context) string {
	_, signer, _ := s.currentKeys(ctx)
	return signer.kid
}

func jwkList(keys map[string]*signingKey) []map[string]string {
	out := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		switch pub := k.priv.Public().(type) {
		case *rsa.PublicKey:
			out = append(out, map[string]string{"kty": "RSA", "use": "sig", "alg": k.alg, "kid": k.kid,
				"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())})
		case *ecdsa.PublicKey:
			out = append(out, map[string]string{"kty": "EC", "use": "sig", "alg": k.alg, "kid": k.kid, "crv": "P-256",
				"x": pad32(pub.X), "y": pad32(pub.Y)})
		}
	}
	// Stable order: newest first.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && keys[out[j]["kid"]].created > keys[out[j-1]["kid"]].created; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
