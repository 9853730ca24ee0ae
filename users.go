package base

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"hash/crc32"
	"regexp"
	"strings"
)

// NewCollectionID returns the default id of a new collection in org:
// "pbc_<crc32(type+name)>_<org>". Embedding the org makes a file URL
// (/v1/files/{collectionId}/...) identify its org with no headers. suffix
// resolves collisions (0 = none; PocketBase appends 2..999).
func NewCollectionID(org string, typ CollectionType, name string, suffix int) string {
	id := fmt.Sprintf("pbc_%d", crc32.ChecksumIEEE([]byte(string(typ)+name)))
	if suffix > 1 {
		id += fmt.Sprint(suffix)
	}
	return id + "_" + org
}

var collectionIDOrg = regexp.MustCompile(`^pbc_[0-9]+_([a-z0-9][a-z0-9_-]{0,62})$`)

// OrgFromCollectionID returns the org embedded by NewCollectionID, or "" for
// ids of another shape (custom or imported ids).
func OrgFromCollectionID(id string) string {
	m := collectionIDOrg.FindStringSubmatch(id)
	if m == nil {
		return ""
	}
	return m[1]
}

// UserRecordID is the id of the users mirror record of IAM subject sub: 15
// characters of [a-z2-7] derived from the subject alone, so every instance
// computes the same id without coordination.
func UserRecordID(sub string) string {
	sum := sha256.Sum256([]byte("base-user:" + sub))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:15]
}

// RecordIDField is the system id field every collection starts with.
func RecordIDField() *Field {
	return &Field{
		ID: "text3208210256", Name: "id", Type: FieldText, System: true, PrimaryKey: true,
		Required: true, Min: 15, Max: 15, Pattern: "^[a-z0-9]+$", AutogeneratePattern: "[a-z0-9]{15}",
	}
}

// AutodateFields are the created/updated fields Base adds to the users
// mirror (the API scaffolds do not add them, as in PocketBase).
func AutodateFields() []*Field {
	return []*Field{
		{ID: DefaultFieldID(FieldAutodate, "created"), Name: "created", Type: FieldAutodate, System: true, OnCreate: true},
		{ID: DefaultFieldID(FieldAutodate, "updated"), Name: "updated", Type: FieldAutodate, System: true, OnCreate: true, OnUpdate: true},
	}
}

// UsersMirror is the definition of org's users collection: an auth
// collection mirroring IAM identities. Clients cannot create its records;
// Base upserts them from token claims. Its rules let a user see and update
// only their own record; superusers see all.
func UsersMirror(org string) *Collection {
	self := "id = @request.auth.id"
	f := func(t FieldType, name string) *Field {
		return &Field{ID: DefaultFieldID(t, name), Name: name, Type: t, System: true}
	}
	email := f(FieldEmail, "email")
	sub := f(FieldText, "sub")
	sub.Hidden = true
	fields := []*Field{
		RecordIDField(),
		sub,
		email,
		f(FieldBool, "emailVisibility"),
		f(FieldBool, "verified"),
		f(FieldText, "name"),
		f(FieldURL, "avatar"),
	}
	fields = append(fields, AutodateFields()...)
	return &Collection{
		ID:         NewCollectionID(org, TypeAuth, UsersCollection, 0),
		Name:       UsersCollection,
		Type:       TypeAuth,
		System:     true,
		ListRule:   StringPtr(self),
		ViewRule:   StringPtr(self),
		CreateRule: nil,
		UpdateRule: nil,
		DeleteRule: nil,
		AuthRule:   StringPtr(""),
		ManageRule: nil,
		Fields:     fields,
		Indexes: []string{
			"CREATE UNIQUE INDEX `idx_users_sub` ON `users` (`sub`)",
		},
	}
}
