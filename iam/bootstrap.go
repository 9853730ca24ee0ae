package iam

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// InitData is the document of init_data.json: what the IAM creates on
// start when missing. Field names follow Casdoor's init_data.json where
// they exist ("owner" is accepted for "organization").
type InitData struct {
	Organizations []Org         `json:"organizations"`
	Applications  []initApp     `json:"applications"`
	Users         []initUser    `json:"users"`
	Roles         []initRole    `json:"roles"`
	Keys          []initKeyData `json:"keys"`
}

type initApp struct {
	Application
	Owner                string `json:"owner"`
	AccessTokenTTL       string `json:"accessTokenTtl"`  // Go duration, e.g. "1h"
	RefreshTokenTTL      string `json:"refreshTokenTtl"` // Go duration, e.g. "720h"
	ExpireInHours        int    `json:"expireInHours"`
	RefreshExpireInHours int    `json:"refreshExpireInHours"`
}

type initUser struct {
	User
	Owner string `json:"owner"`
}

type initRole struct {
	Role
	Owner string `json:"owner"`
}

// initKeyData is a signing key to import (PEM, PKCS #8 or PKCS #1/SEC 1).
type initKeyData struct {
	PrivateKey string `json:"privateKey"`
}

// placeholder matches ${VAR} and ${VAR:-default}.
var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} (and ${VAR:-default}) in data with the
// JSON-string-escaped value of VAR, so a value may contain quotes or
// backslashes. An unset variable without a default is an error. Only the
// braced form is expanded: "$argon2id$…" and other dollars are left alone.
func expandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, error) {
	var missing []string
	out := placeholder.ReplaceAllFunc(data, func(m []byte) []byte {
		sub := placeholder.FindSubmatch(m)
		name := string(sub[1])
		v, ok := lookup(name)
		if !ok || (v == "" && len(sub[2]) > 0) {
			if len(sub[2]) == 0 {
				missing = append(missing, name)
				return nil
			}
			v = string(sub[3])
		}
		b, _ := json.Marshal(v)
		return b[1 : len(b)-1]
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("init data: unset variables: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// ApplyInitDataFile reads path, expands ${VAR} placeholders and applies it
// (see ApplyInitData).
func (s *Server) ApplyInitDataFile(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("init data: %w", err)
	}
	return s.ApplyInitData(ctx, data)
}

// ApplyInitData expands ${VAR} placeholders in data (Config.LookupEnv),
// parses it as InitData and creates the orgs, applications, roles, users
// and keys that do not exist yet. It never overwrites or deletes anything.
// Unknown fields are an error (a typo must not silently drop a setting).
func (s *Server) ApplyInitData(ctx context.Context, data []byte) error {
	data, err := expandEnv(data, s.cfg.LookupEnv)
	if err != nil {
		return err
	}
	var d InitData
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("init data: %w", err)
	}
	for _, o := range d.Organizations {
		if created, err := s.CreateOrg(ctx, o); err != nil {
			return fmt.Errorf("init data: %w", err)
		} else if created {
			s.log.Info("iam: created organization", "org", o.Name)
		}
	}
	for _, ia := range d.Applications {
		a := ia.Application
		if a.Org == "" {
			a.Org = ia.Owner
		}
		if a.ClientID == "" {
			a.ClientID = a.Name
		}
		if a.AccessTTL, err = ttl(ia.AccessTokenTTL, ia.ExpireInHours); err != nil {
			return fmt.Errorf("init data: application %q: %w", a.ClientID, err)
		}
		if a.RefreshTTL, err = ttl(ia.RefreshTokenTTL, ia.RefreshExpireInHours); err != nil {
			return fmt.Errorf("init data: application %q: %w", a.ClientID, err)
		}
		if _, err := s.CreateApplication(ctx, a); err != nil {
			return fmt.Errorf("init data: %w", err)
		}
	}
	for _, ir := range d.Roles {
		r := ir.Role
		if r.Org == "" {
			r.Org = ir.Owner
		}
		if _, err := s.CreateRole(ctx, r); err != nil {
			return fmt.Errorf("init data: %w", err)
		}
	}
	for _, iu := range d.Users {
		u := iu.User
		if u.Org == "" {
			u.Org = iu.Owner
		}
		if _, err := s.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("init data: %w", err)
		}
	}
	for _, k := range d.Keys {
		priv, err := decodeKey(k.PrivateKey)
		if err != nil {
			return fmt.Errorf("init data: key: %w", err)
		}
		if _, err := s.insertKey(ctx, priv, s.now().Unix()); err != nil {
			return fmt.Errorf("init data: %w", err)
		}
	}
	if len(d.Keys) > 0 {
		return s.reloadKeys(ctx)
	}
	return nil
}

func ttl(d string, hours int) (time.Duration, error) {
	if d != "" {
		v, err := time.ParseDuration(d)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("invalid duration %q", d)
		}
		return v, nil
	}
	return time.Duration(hours) * time.Hour, nil
}

// bootstrapAdmin creates the first platform admin (and its org) if missing.
func (s *Server) bootstrapAdmin(ctx context.Context, a BootstrapAdmin) error {
	if a.Org == "" {
		a.Org = "built-in"
	}
	if _, err := s.CreateOrg(ctx, Org{Name: a.Org, DisplayName: a.Org}); err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	created, err := s.CreateUser(ctx, User{Org: a.Org, Username: a.Username, Password: a.Password, Email: a.Email,
		EmailVerified: a.Email != "", IsAdmin: true, IsGlobalAdmin: true})
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if created {
		s.log.Info("iam: created platform admin", "org", a.Org, "user", a.Username)
	}
	return nil
}
