package iam_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hanzoai/base/iam"
)

func TestUserClaimsMap(t *testing.T) {
	tests := []struct {
		name string
		in   iam.UserClaims
		want map[string]any
	}{
		{
			"minimal",
			iam.UserClaims{Subject: "alice", Org: "acme"},
			map[string]any{"sub": "alice", "owner": "acme", "organization": "acme", "name": "alice",
				"isAdmin": false, "scope": iam.DefaultScope},
		},
		{
			"full",
			iam.UserClaims{Subject: "acme/alice", Org: "acme", Name: "Alice", Email: "a@acme.test", EmailVerified: true,
				Admin: true, GlobalAdmin: true, Audience: "base", Scope: "openid",
				Orgs: []iam.OrgRole{{Org: "acme", Role: "owner"}, {Org: "beta", Role: "member"}}},
			map[string]any{"sub": "acme/alice", "owner": "acme", "organization": "acme", "name": "Alice",
				"email": "a@acme.test", "email_verified": true, "isAdmin": true, "isGlobalAdmin": true,
				"aud": "base", "scope": "openid",
				"orgs": []any{map[string]any{"org": "acme", "role": "owner"}, map[string]any{"org": "beta", "role": "member"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.in.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tt.in.Map(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Map() =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestUserClaimsValidate(t *testing.T) {
	bad := []iam.UserClaims{
		{Org: "acme"},
		{Subject: "a"},
		{Subject: "a", Org: "Acme"},
		{Subject: "a", Org: "-acme"},
		{Subject: "a", Org: strings.Repeat("a", 64)},
		{Subject: "a", Org: "acme", Orgs: []iam.OrgRole{{Org: "beta"}}},
		{Subject: "a", Org: "acme", Orgs: []iam.OrgRole{{Org: "b c", Role: "x"}}},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	for _, org := range []string{"a", "0", "acme", "a_b-c", strings.Repeat("a", 63)} {
		if !iam.ValidOrg(org) {
			t.Errorf("ValidOrg(%q) = false", org)
		}
	}
}
