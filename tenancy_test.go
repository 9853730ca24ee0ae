package base

import (
	"net/http"
	"testing"
)

func TestTenancyIdentify(t *testing.T) {
	ten := Tenancy{DefaultOrg: "lobby", OrgDomains: map[string]string{"acme.example.com": "acme"}}
	orgs := []any{map[string]any{"org": "globex", "role": "member"}, map[string]any{"org": "initech", "role": "admin"}}
	tests := []struct {
		name             string
		claims           map[string]any
		xorg, host       string
		org              string
		superuser, guest bool
		status           int
	}{
		{name: "guest default", org: "lobby", guest: true},
		{name: "guest host map", host: "acme.example.com:443", org: "acme", guest: true},
		{name: "guest X-Org-Id", xorg: "globex", org: "globex", guest: true},
		{name: "guest bad org", xorg: "../x", status: http.StatusBadRequest},
		{name: "no sub is a guest", claims: map[string]any{"owner": "acme"}, org: "lobby", guest: true},
		{name: "owner", claims: map[string]any{"sub": "acme/alice", "owner": "acme"}, org: "acme"},
		{name: "organization claim", claims: map[string]any{"sub": "u1", "organization": "globex"}, org: "globex"},
		{name: "org from sub", claims: map[string]any{"sub": "initech/bob"}, org: "initech"},
		{name: "no org at all", claims: map[string]any{"sub": "bob"}, org: "lobby"},
		{name: "admin of own org", claims: map[string]any{"sub": "acme/a", "owner": "acme", "isAdmin": true}, org: "acme", superuser: true},
		{name: "listed org as member", claims: map[string]any{"sub": "acme/a", "owner": "acme", "isAdmin": true, "orgs": orgs}, xorg: "globex", org: "globex"},
		{name: "listed org as admin", claims: map[string]any{"sub": "acme/a", "owner": "acme", "orgs": orgs}, xorg: "initech", org: "initech", superuser: true},
		{name: "unlisted org", claims: map[string]any{"sub": "acme/a", "owner": "acme", "isAdmin": true}, xorg: "globex", status: http.StatusForbidden},
		{name: "platform by flag", claims: map[string]any{"sub": "x/root", "owner": "x", "isGlobalAdmin": true}, xorg: "globex", org: "globex", superuser: true},
		{name: "platform by owner", claims: map[string]any{"sub": "built-in/root", "owner": "built-in"}, org: "lobby", superuser: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := ten.Identify(tc.claims, "tok", tc.xorg, tc.host)
			if tc.status != 0 {
				if e := AsError(err); err == nil || e.Status != tc.status {
					t.Fatalf("err = %v, want status %d", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Org != tc.org || id.IsSuperuser() != tc.superuser || id.Guest() != tc.guest {
				t.Fatalf("got org %q superuser %v guest %v; want %q %v %v", id.Org, id.IsSuperuser(), id.Guest(), tc.org, tc.superuser, tc.guest)
			}
			if !tc.guest && id.UserID != UserRecordID(tc.claims["sub"].(string)) {
				t.Fatalf("UserID %q", id.UserID)
			}
		})
	}
}
