package base

// Identity is who a request acts as, and in which organization. It is derived
// from a verified IAM token (or its absence) once per request and travels in
// the request context.
type Identity struct {
	// Org is the organization the request acts in. Always set.
	Org string
	// Subject is the token's sub claim; empty for guests.
	Subject string
	// UserID is the id of the caller's mirror record in the org's users
	// collection; empty for guests.
	UserID string
	// Claims are the verified token's claims, readable by rules as
	// @request.auth.*; nil for guests.
	Claims map[string]any
	// Token is the raw token as presented (without "Bearer ").
	Token string
	// Superuser means the caller bypasses rules in Org: an org admin
	// (isAdmin) or a platform superuser.
	Superuser bool
	// Platform means a platform superuser (isGlobalAdmin, or owner
	// built-in/superuser): may act in any org.
	Platform bool
}

// Guest reports whether the identity carries no authenticated user.
func (id *Identity) Guest() bool { return id == nil || id.Subject == "" }

// IsSuperuser reports whether the identity bypasses rules.
func (id *Identity) IsSuperuser() bool { return id != nil && id.Superuser }
