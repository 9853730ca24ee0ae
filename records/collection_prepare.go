package records

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/hanzoai/base"
)

// CollectionLookup finds an existing collection of the org by id or by
// name (names compared case-insensitively), or returns nil.
type CollectionLookup func(nameOrID string) *base.Collection

// maxSafeJSONInt is the largest integer a JSON number carries exactly.
const maxSafeJSONInt = 1<<53 - 1

// maxCollectionIDSuffix bounds the collision suffixes tried for a
// generated collection id (PocketBase tries 2..999).
const maxCollectionIDSuffix = 999

// PrepareCollection fills the defaults of c, a collection about to be
// created (old == nil) or the new state of old, before ValidateCollection:
//
//   - type "base" when empty; on update an empty id or type is old's;
//   - on create an empty id becomes base.NewCollectionID(org, type, name),
//     suffixed 2..999 while lookup finds a collection with that id;
//   - base and auth collections get the system "id" field first when they
//     have no field named "id";
//   - auth collections get the missing system fields email,
//     emailVisibility and verified after it (no password or tokenKey: Base
//     stores no passwords), and on create a unique index on email;
//   - fields without an id get old's id for a field of the same name and
//     type, else base.DefaultFieldID;
//   - null entries of fields are dropped, nil fields and indexes become
//     empty; viewQuery is cleared on non-view collections.
//
// lookup may be nil when no collection exists yet.
func PrepareCollection(org string, c, old *base.Collection, lookup CollectionLookup) {
	if old != nil {
		if c.ID == "" {
			c.ID = old.ID
		}
		if c.Type == "" {
			c.Type = old.Type
		}
		if c.Created == "" {
			c.Created = old.Created
		}
	}
	if c.Type == "" {
		c.Type = base.TypeBase
	}
	if old == nil && c.ID == "" {
		c.ID = newCollectionID(org, c, lookup)
	}
	fields := make([]*base.Field, 0, len(c.Fields))
	for _, f := range c.Fields {
		if f != nil {
			fields = append(fields, f)
		}
	}
	c.Fields = fields
	if c.Indexes == nil {
		c.Indexes = []string{}
	}
	if !c.IsView() {
		c.ViewQuery = ""
		if c.Field("id") == nil {
			c.Fields = append([]*base.Field{base.RecordIDField()}, c.Fields...)
		}
	}
	if c.IsAuth() {
		addAuthFields(c)
		if old == nil && !hasUniqueIndexOn(c.Indexes, "email") {
			c.Indexes = append(c.Indexes, fmt.Sprintf(
				"CREATE UNIQUE INDEX `idx_email_%s` ON `%s` (`email`) WHERE `email` != ''", c.ID, c.Name))
		}
	}
	for _, f := range c.Fields {
		if f == nil || f.ID != "" {
			continue
		}
		if old != nil {
			if of := old.Field(f.Name); of != nil && of.Type == f.Type {
				f.ID = of.ID
				continue
			}
		}
		f.ID = base.DefaultFieldID(f.Type, f.Name)
	}
}

func newCollectionID(org string, c *base.Collection, lookup CollectionLookup) string {
	id := base.NewCollectionID(org, c.Type, c.Name, 0)
	if lookup == nil {
		return id
	}
	for i := 2; i <= maxCollectionIDSuffix; i++ {
		if found := lookup(id); found == nil || found.ID != id {
			return id
		}
		id = base.NewCollectionID(org, c.Type, c.Name, i)
	}
	return id // still taken: ValidateCollection reports it
}

// authSystemFields are the system fields every auth collection has in
// Base, after id.
func authSystemFields() []*base.Field {
	f := func(t base.FieldType, name string) *base.Field {
		return &base.Field{ID: base.DefaultFieldID(t, name), Name: name, Type: t, System: true}
	}
	return []*base.Field{
		f(base.FieldEmail, "email"),
		f(base.FieldBool, "emailVisibility"),
		f(base.FieldBool, "verified"),
	}
}

// addAuthFields inserts the missing auth system fields after the id field.
func addAuthFields(c *base.Collection) {
	var missing []*base.Field
	for _, f := range authSystemFields() {
		if c.Field(f.Name) == nil {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return
	}
	at := 0
	for i, f := range c.Fields {
		if f != nil && f.Name == "id" {
			at = i + 1
			break
		}
	}
	fields := make([]*base.Field, 0, len(c.Fields)+len(missing))
	fields = append(fields, c.Fields[:at]...)
	fields = append(fields, missing...)
	fields = append(fields, c.Fields[at:]...)
	c.Fields = fields
}

// Scaffolds returns the default models of new base, auth and view
// collections, keyed by type, with empty id and name, as
// GET /api/collections/meta/scaffolds reports them. org is accepted for
// symmetry with PrepareCollection; the scaffolds do not depend on it.
func Scaffolds(org string) map[string]*base.Collection {
	_ = org
	baseC := &base.Collection{
		Type:    base.TypeBase,
		Fields:  []*base.Field{base.RecordIDField()},
		Indexes: []string{},
	}
	auth := &base.Collection{
		Type:       base.TypeAuth,
		AuthRule:   base.StringPtr(""),
		Fields:     append([]*base.Field{base.RecordIDField()}, authSystemFields()...),
		Indexes:    []string{},
		ManageRule: nil,
	}
	view := &base.Collection{
		Type:    base.TypeView,
		Fields:  []*base.Field{},
		Indexes: []string{},
	}
	return map[string]*base.Collection{
		string(base.TypeBase): baseC,
		string(base.TypeAuth): auth,
		string(base.TypeView): view,
	}
}

// --- validation ---------------------------------------------------------------

// collectionIDRe is the shape of collection ids: word characters and "-"
// (generated ids embed the org, which may contain "-").
var collectionIDRe = regexp.MustCompile(`^[\w-]+$`)

// reservedFieldNames are names a field cannot have: filter literals and
// the keys every record response carries.
var reservedFieldNames = []string{"null", "true", "false", "_rowid_", "collectionId", "collectionName", "expand"}

// reservedAuthFieldNames are body keys of auth collections that cannot be
// field names.
var reservedAuthFieldNames = []string{"passwordConfirm", "oldPassword"}

// thumbRe is the shape of a file field thumb size.
var thumbRe = regexp.MustCompile(`^(\d+)x(\d+)(t|b|f)?$`)

// indexRe is a loose shape check of a CREATE INDEX statement.
var indexRe = regexp.MustCompile("(?is)^\\s*create\\s+(unique\\s+)?index\\s+(if\\s+not\\s+exists\\s+)?([`\"\\[]?[\\w.-]+[`\"\\]]?)\\s+on\\s+[`\"\\[]?[\\w-]*[`\"\\]]?\\s*\\((.+)\\)\\s*(where\\s+.+)?;?\\s*$")

// ValidateCollection checks c, a prepared collection (see
// PrepareCollection), against old (nil on create) and the org's other
// collections, reachable through lookup. It returns nil when c is valid,
// else the errors in PocketBase's nested shape: top-level keys are model
// keys, each holding a *base.FieldError or a map (e.g. {"name": err},
// {"fields": {"2": {"name": err}}}, {"indexes": {"0": err}}). As in
// PocketBase, each key reports its first failure only. Rule syntax and the
// view query are checked elsewhere; only their presence is checked here.
func ValidateCollection(c, old *base.Collection, lookup CollectionLookup) map[string]any {
	if lookup == nil {
		lookup = func(string) *base.Collection { return nil }
	}
	for i, f := range c.Fields {
		if f == nil {
			return map[string]any{"fields": map[string]any{
				strconv.Itoa(i): base.NewFieldError("validation_invalid_value", "Invalid value.", nil)}}
		}
	}
	v := &collectionValidator{c: c, old: old, lookup: lookup}
	errs := map[string]any{}
	set := func(key string, err any) {
		if err != nil {
			errs[key] = err
		}
	}
	set("id", v.checkID())
	set("system", v.checkSystem())
	set("type", v.checkType())
	set("name", v.checkName())
	set("fields", v.checkFields())
	set("listRule", v.checkRule(c.ListRule, oldRule(old, func(o *base.Collection) *string { return o.ListRule }), false))
	set("viewRule", v.checkRule(c.ViewRule, oldRule(old, func(o *base.Collection) *string { return o.ViewRule }), false))
	set("createRule", v.checkRule(c.CreateRule, oldRule(old, func(o *base.Collection) *string { return o.CreateRule }), c.IsView()))
	set("updateRule", v.checkRule(c.UpdateRule, oldRule(old, func(o *base.Collection) *string { return o.UpdateRule }), c.IsView()))
	set("deleteRule", v.checkRule(c.DeleteRule, oldRule(old, func(o *base.Collection) *string { return o.DeleteRule }), c.IsView()))
	set("authRule", v.checkRule(c.AuthRule, oldRule(old, func(o *base.Collection) *string { return o.AuthRule }), !c.IsAuth()))
	set("manageRule", v.checkRule(c.ManageRule, oldRule(old, func(o *base.Collection) *string { return o.ManageRule }), !c.IsAuth()))
	if c.IsView() && strings.TrimSpace(c.ViewQuery) == "" {
		errs["viewQuery"] = required()
	}
	set("indexes", v.checkIndexes())
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func oldRule(old *base.Collection, get func(*base.Collection) *string) *string {
	if old == nil {
		return nil
	}
	return get(old)
}

type collectionValidator struct {
	c, old *base.Collection
	lookup CollectionLookup
}

// errOrNil keeps a typed nil out of the interface.
func errOrNil(fe *base.FieldError) any {
	if fe == nil {
		return nil
	}
	return fe
}

func mapOrNil(m map[string]any) any {
	if len(m) == 0 {
		return nil
	}
	return m
}

func lengthErr(minN, maxN int) *base.FieldError {
	return base.NewFieldError("validation_length_out_of_range",
		fmt.Sprintf("The length must be between %d and %d", minN, maxN), map[string]any{"min": minN, "max": maxN})
}

func matchErr() *base.FieldError {
	return base.NewFieldError("validation_match_invalid", "Must be in a valid format", nil)
}

func minErr(threshold any) *base.FieldError {
	return base.NewFieldError("validation_min_greater_equal_than_required",
		fmt.Sprintf("Must be no less than %v", threshold), map[string]any{"threshold": threshold})
}

func maxErr(threshold any) *base.FieldError {
	return base.NewFieldError("validation_max_less_equal_than_required",
		fmt.Sprintf("Must be no greater than %v", threshold), map[string]any{"threshold": threshold})
}

func blankErr() *base.FieldError {
	return base.NewFieldError("validation_empty", "Must be blank", nil)
}

func mismatchErr() *base.FieldError {
	return base.NewFieldError("validation_values_mismatch", "Values don't match", nil)
}

func viaErr(s string) *base.FieldError {
	if strings.Contains(strings.ToLower(s), "_via_") {
		return base.NewFieldError("validation_found_via", `The value cannot contain "_via_".`, nil)
	}
	return nil
}

func (v *collectionValidator) checkID() any {
	c := v.c
	if c.ID == "" {
		return required()
	}
	if v.old != nil {
		if c.ID != v.old.ID {
			return mismatchErr()
		}
		return nil
	}
	if len(c.ID) > 100 {
		return lengthErr(1, 100)
	}
	if !collectionIDRe.MatchString(c.ID) {
		return matchErr()
	}
	if found := v.lookup(c.ID); found != nil && found.ID == c.ID {
		return base.NewFieldError("validation_invalid_or_existing_id", "The model id is invalid or already exists.", nil)
	}
	return nil
}

func (v *collectionValidator) checkSystem() any {
	if v.old != nil && v.c.System != v.old.System {
		return base.NewFieldError("validation_collection_system_flag_change", "System collection state cannot be changed.", nil)
	}
	return nil
}

func (v *collectionValidator) checkType() any {
	switch v.c.Type {
	case "":
		return required()
	case base.TypeBase, base.TypeAuth, base.TypeView:
	default:
		return base.NewFieldError("validation_in_invalid", "Must be a valid value", nil)
	}
	if v.old != nil && v.c.Type != v.old.Type {
		return base.NewFieldError("validation_collection_type_change", "Collection type cannot be changed.", nil)
	}
	return nil
}

func (v *collectionValidator) checkName() any {
	c, old := v.c, v.old
	name := c.Name
	if name == "" {
		return required()
	}
	if len(name) > 255 {
		return lengthErr(1, 255)
	}
	if fe := viaErr(name); fe != nil {
		return fe
	}
	if !base.ValidName(name) {
		return matchErr()
	}
	if old != nil && old.System && name != old.Name {
		return base.NewFieldError("validation_collection_system_name_change", "System collection name cannot be changed.", nil)
	}
	if (strings.HasPrefix(name, "_") || strings.HasPrefix(strings.ToLower(name), "sqlite_")) && (old == nil || old.Name != name) {
		return base.NewFieldError("validation_collection_name_invalid",
			"Names starting with _ or sqlite_ are reserved for system tables.", nil)
	}
	selfID := c.ID
	if old != nil {
		selfID = old.ID
	}
	if found := v.lookup(name); found != nil && found.ID != selfID {
		if strings.EqualFold(found.Name, name) {
			return base.NewFieldError("validation_collection_name_exists", "Collection name must be unique (case insensitive).", nil)
		}
		if found.ID == name {
			return base.NewFieldError("validation_collection_name_id_duplicate", "The name must not match an existing collection id.", nil)
		}
	}
	return nil
}

func (v *collectionValidator) checkRule(rule, oldRule *string, mustBeNil bool) any {
	if mustBeNil && rule != nil {
		return base.NewFieldError("validation_nil", "Must be blank", nil)
	}
	if v.old != nil && v.old.System {
		same := (rule == nil && oldRule == nil) || (rule != nil && oldRule != nil && *rule == *oldRule)
		if !same {
			return base.NewFieldError("validation_collection_system_rule_change", "System collection API rule cannot be changed.", nil)
		}
	}
	return nil
}

// checkFields runs the collection-wide field checks in PocketBase's order
// and returns the first failure, then the per-field option checks.
func (v *collectionValidator) checkFields() any {
	for _, check := range []func() any{
		v.checkFieldDuplicates,
		v.checkMinFields,
		v.checkSystemFieldsChange,
		v.checkFieldsTypeChange,
		v.checkReservedAuthNames,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	errs := map[string]any{}
	for i, f := range v.c.Fields {
		if fe := v.checkField(f); fe != nil {
			errs[strconv.Itoa(i)] = fe
		}
	}
	return mapOrNil(errs)
}

func (v *collectionValidator) checkFieldDuplicates() any {
	ids := map[string]bool{}
	names := map[string]bool{}
	for i, f := range v.c.Fields {
		if ids[f.ID] {
			return map[string]any{strconv.Itoa(i): map[string]any{
				"id": base.NewFieldError("validation_duplicated_field_id", fmt.Sprintf("Duplicated or invalid field id %q", f.ID), nil),
			}}
		}
		lower := strings.ToLower(f.Name)
		if names[lower] {
			return map[string]any{strconv.Itoa(i): map[string]any{
				"name": base.NewFieldError("validation_duplicated_field_name",
					"Duplicated or invalid field name "+f.Name, map[string]any{"fieldName": f.Name}),
			}}
		}
		ids[f.ID] = true
		names[lower] = true
	}
	return nil
}

func (v *collectionValidator) checkMinFields() any {
	c := v.c
	if c.IsView() {
		return nil // view fields come from the query
	}
	if len(c.Fields) == 0 {
		return required()
	}
	if id := c.Field("id"); id == nil || id.Type != base.FieldText || !id.PrimaryKey {
		return base.NewFieldError("validation_missing_primary_key", `Missing or invalid "id" PK field.`, nil)
	}
	if !c.IsAuth() {
		return nil
	}
	for _, want := range authSystemFields() {
		f := c.Field(want.Name)
		if f == nil || f.Type != want.Type {
			return base.NewFieldError("validation_missing_"+want.Name+"_field",
				fmt.Sprintf("System %q field is required.", want.Name), nil)
		}
		if !f.System {
			return map[string]any{want.Name: base.NewFieldError("validation_must_be_system",
				`The field must be marked as "System".`, nil)}
		}
	}
	return nil
}

func (v *collectionValidator) checkSystemFieldsChange() any {
	if v.old == nil || v.c.IsView() {
		return nil
	}
	for _, of := range v.old.Fields {
		if !of.System {
			continue
		}
		nf := v.c.FieldByID(of.ID)
		if nf == nil || nf.Name != of.Name {
			return base.NewFieldError("validation_system_field_change", "System fields cannot be deleted or renamed.", nil)
		}
	}
	return nil
}

func (v *collectionValidator) checkFieldsTypeChange() any {
	if v.old == nil || v.c.IsView() {
		return nil
	}
	errs := map[string]any{}
	for i, f := range v.c.Fields {
		if of := v.old.FieldByID(f.ID); of != nil && of.Type != f.Type {
			errs[strconv.Itoa(i)] = base.NewFieldError("validation_field_type_change", "Field type cannot be changed.", nil)
		}
	}
	return mapOrNil(errs)
}

func (v *collectionValidator) checkReservedAuthNames() any {
	if !v.c.IsAuth() {
		return nil
	}
	errs := map[string]any{}
	for i, f := range v.c.Fields {
		for _, r := range reservedAuthFieldNames {
			if f.Name == r {
				errs[strconv.Itoa(i)] = map[string]any{"name": base.NewFieldError(
					"validation_reserved_field_name", "The field name is reserved and cannot be used.", nil)}
			}
		}
	}
	return mapOrNil(errs)
}

// checkField validates the options of one field; nil when valid.
func (v *collectionValidator) checkField(f *base.Field) map[string]any {
	errs := map[string]any{}
	set := func(key string, err any) {
		if err != nil {
			errs[key] = err
		}
	}
	set("id", checkFieldID(f.ID))
	set("name", checkFieldName(f.Name))
	if !base.KnownFieldType(f.Type) {
		errs["type"] = base.NewFieldError("validation_in_invalid", "Must be a valid value", nil)
		return errs
	}
	switch f.Type {
	case base.FieldText:
		v.checkTextField(f, set)
	case base.FieldPassword:
		set("min", checkIntRange(f.Min, 0, maxSafeJSONInt))
		set("max", checkIntRange(f.Max, f.Min, maxSafeJSONInt))
		set("pattern", checkRegex(f.Pattern))
	case base.FieldNumber:
		set("min", checkOnlyInt(f, f.MinNumber))
		maxE := checkOnlyInt(f, f.MaxNumber)
		if maxE == nil && f.MinNumber != nil && f.MaxNumber != nil && *f.MaxNumber != 0 && *f.MaxNumber < *f.MinNumber {
			maxE = minErr(*f.MinNumber)
		}
		set("max", maxE)
	case base.FieldEmail, base.FieldURL:
		set("exceptDomains", checkDomains(f.ExceptDomains, len(f.OnlyDomains) > 0))
		set("onlyDomains", checkDomains(f.OnlyDomains, len(f.ExceptDomains) > 0))
	case base.FieldDate:
		set("min", checkDateOption(f.MinDate))
		maxE := checkDateOption(f.MaxDate)
		if maxE == nil && f.MinDate != "" && f.MaxDate != "" {
			minT, ok1 := parseDate(f.MinDate)
			maxT, ok2 := parseDate(f.MaxDate)
			if ok1 && ok2 && maxT.Before(minT) {
				maxE = base.NewFieldError("validation_date_out_of_range", "The date is out of range", nil)
			}
		}
		set("max", maxE)
	case base.FieldAutodate:
		v.checkAutodateField(f, set)
	case base.FieldSelect:
		set("values", checkSelectValues(f.Values))
		limit := max(len(f.Values), 1)
		set("maxSelect", checkIntRange(f.MaxSelect, 0, limit))
	case base.FieldRelation:
		set("collectionId", v.checkRelationCollection(f))
		set("minSelect", checkIntRange(f.MinSelect, 0, maxSafeJSONInt))
		if f.MinSelect > 0 && f.MaxSelect == 0 {
			errs["maxSelect"] = required()
		} else {
			set("maxSelect", checkIntRange(f.MaxSelect, max(f.MinSelect, 0), maxSafeJSONInt))
		}
	case base.FieldFile:
		set("maxSelect", checkIntRange(f.MaxSelect, 0, maxSafeJSONInt))
		set("maxSize", checkInt64Range(f.MaxSize))
		set("thumbs", checkThumbs(f.Thumbs))
	case base.FieldEditor, base.FieldJSON:
		set("maxSize", checkInt64Range(f.MaxSize))
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func checkFieldID(id string) any {
	if id == "" {
		return required()
	}
	if len(id) > 100 {
		return lengthErr(1, 100)
	}
	return nil
}

func checkFieldName(name string) any {
	if name == "" {
		return required()
	}
	if len(name) > 100 {
		return lengthErr(1, 100)
	}
	if !base.ValidName(name) {
		return matchErr()
	}
	for _, r := range reservedFieldNames {
		if name == r {
			return base.NewFieldError("validation_not_in_invalid", "Must not be in list", nil)
		}
	}
	return errOrNil(viaErr(name))
}

// checkIntRange is ozzo's Min(lo) + Max(hi) on an int: 0 passes both, as
// empty values do in PocketBase.
func checkIntRange(n, lo, hi int) any {
	if n == 0 {
		return nil
	}
	if n < lo {
		return minErr(lo)
	}
	if n > hi {
		return maxErr(hi)
	}
	return nil
}

func checkInt64Range(n int64) any {
	if n < 0 {
		return minErr(0)
	}
	if n > maxSafeJSONInt {
		return maxErr(int64(maxSafeJSONInt))
	}
	return nil
}

func checkRegex(p string) any {
	if p == "" {
		return nil
	}
	if _, err := regexp.Compile(p); err != nil {
		return base.NewFieldError("validation_invalid_regex", err.Error(), nil)
	}
	return nil
}

func (v *collectionValidator) checkTextField(f *base.Field, set func(string, any)) {
	if f.PrimaryKey && f.Name != "id" {
		set("name", base.NewFieldError("validation_in_invalid", `The primary key must be named "id".`, nil))
	}
	if f.PrimaryKey {
		pks := 0
		for _, o := range v.c.Fields {
			if o.Type == base.FieldText && o.PrimaryKey {
				pks++
			}
		}
		if pks > 1 {
			set("primaryKey", base.NewFieldError("validation_unsupported_composite_pk",
				"Composite PKs are not supported and the collection must have only 1 PK.", nil))
		}
	}
	set("min", checkIntRange(f.Min, 0, maxSafeJSONInt))
	set("max", checkIntRange(f.Max, f.Min, maxSafeJSONInt))
	if f.PrimaryKey && f.Pattern == "" {
		set("pattern", required())
	} else {
		set("pattern", checkRegex(f.Pattern))
	}
	if f.PrimaryKey && f.Hidden {
		set("hidden", blankErr())
	}
	if f.PrimaryKey && !f.Required {
		set("required", required())
	}
	if f.AutogeneratePattern != "" {
		if err := checkRegex(f.AutogeneratePattern); err != nil {
			set("autogeneratePattern", err)
			return
		}
		// Generated values must pass the field's own checks.
		probe := *f
		for range 10 {
			s, err := Generate(f.AutogeneratePattern)
			if err != nil {
				set("autogeneratePattern", base.NewFieldError("validation_invalid_autogenerate_pattern", err.Error(), nil))
				return
			}
			if validateText(&probe, s) != nil {
				set("autogeneratePattern", base.NewFieldError("validation_invalid_autogenerate_pattern_value",
					fmt.Sprintf("The provided autogenerate pattern could produce invalid field values, ex.: %q", s), nil))
				return
			}
		}
	}
}

func checkOnlyInt(f *base.Field, n *float64) any {
	if n == nil || !f.OnlyInt {
		return nil
	}
	if math.Trunc(*n) != *n {
		return base.NewFieldError("validation_only_int_constraint", "Decimal numbers are not allowed.", nil)
	}
	return nil
}

// domainRe is the shape of a domain name in onlyDomains/exceptDomains.
var domainRe = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)

func checkDomains(list []string, mustBeEmpty bool) any {
	if mustBeEmpty {
		if len(list) > 0 {
			return blankErr()
		}
		return nil
	}
	errs := map[string]any{}
	for i, d := range list {
		if len(d) > 253 || !domainRe.MatchString(d) {
			errs[strconv.Itoa(i)] = base.NewFieldError("validation_is_domain", "Must be a valid domain", nil)
		}
	}
	return mapOrNil(errs)
}

func checkDateOption(s string) any {
	if s == "" {
		return nil
	}
	if _, ok := parseDate(s); !ok {
		return base.NewFieldError("validation_date_invalid", "Must be a valid date", nil)
	}
	return nil
}

func (v *collectionValidator) checkAutodateField(f *base.Field, set func(string, any)) {
	if f.System && v.old != nil {
		if of := v.old.FieldByID(f.ID); of != nil && of.Type == base.FieldAutodate {
			if f.OnCreate != of.OnCreate {
				set("onCreate", mismatchErr())
			}
			if f.OnUpdate != of.OnUpdate {
				set("onUpdate", mismatchErr())
			}
		}
	}
	if !f.OnCreate && !f.OnUpdate {
		e := func() *base.FieldError {
			return base.NewFieldError(base.ErrRequired.Code, "Either onCreate or onUpdate must be enabled.", nil)
		}
		set("onCreate", e())
		set("onUpdate", e())
	}
}

func checkSelectValues(values []string) any {
	if len(values) == 0 {
		return required()
	}
	errs := map[string]any{}
	seen := map[string]bool{}
	for i, s := range values {
		switch {
		case s == "":
			errs[strconv.Itoa(i)] = required()
		case seen[s]:
			errs[strconv.Itoa(i)] = base.NewFieldError("validation_duplicated_value", "Duplicated value "+s, map[string]any{"value": s})
		}
		seen[s] = true
	}
	return mapOrNil(errs)
}

func (v *collectionValidator) checkRelationCollection(f *base.Field) any {
	id := f.CollectionID
	if id == "" {
		return required()
	}
	if v.old != nil {
		if of := v.old.FieldByID(f.ID); of != nil && of.Type == base.FieldRelation && of.CollectionID != id {
			return base.NewFieldError("validation_field_relation_change", "The relation collection cannot be changed.", nil)
		}
	}
	var target *base.Collection
	if id == v.c.ID {
		target = v.c // a self relation
	} else if found := v.lookup(id); found != nil && found.ID == id {
		target = found
	}
	if target == nil {
		return base.NewFieldError("validation_field_relation_missing_collection", "The relation collection doesn't exist.", nil)
	}
	if !v.c.IsView() && target.IsView() {
		return base.NewFieldError("validation_relation_field_non_view_base_collection",
			"Only view collections are allowed to have relations to other views.", nil)
	}
	return nil
}

func checkThumbs(thumbs []string) any {
	errs := map[string]any{}
	for i, t := range thumbs {
		switch {
		case t == "0x0" || t == "0x0t" || t == "0x0b" || t == "0x0f":
			errs[strconv.Itoa(i)] = base.NewFieldError("validation_not_in_invalid", "Must not be in list", nil)
		case !thumbRe.MatchString(t):
			errs[strconv.Itoa(i)] = matchErr()
		}
	}
	return mapOrNil(errs)
}

func (v *collectionValidator) checkIndexes() any {
	c := v.c
	if c.IsView() && len(c.Indexes) > 0 {
		return base.NewFieldError("validation_indexes_not_supported", "View collections don't support indexes.", nil)
	}
	names := map[string]bool{}
	for i, idx := range c.Indexes {
		m := indexRe.FindStringSubmatch(idx)
		if m == nil {
			return map[string]any{strconv.Itoa(i): base.NewFieldError(
				"validation_invalid_index_expression", "Invalid CREATE INDEX expression.", nil)}
		}
		name := strings.ToLower(strings.Trim(m[3], "`\"[]"))
		if names[name] {
			return map[string]any{strconv.Itoa(i): base.NewFieldError(
				"validation_duplicated_index_name", "The index name already exists.", nil)}
		}
		names[name] = true
	}
	return nil
}

// hasUniqueIndexOn reports whether indexes hold a single-column unique
// index on column.
func hasUniqueIndexOn(indexes []string, column string) bool {
	for _, idx := range indexes {
		m := indexRe.FindStringSubmatch(idx)
		if m == nil || strings.TrimSpace(m[1]) == "" {
			continue
		}
		cols := strings.Split(m[4], ",")
		if len(cols) != 1 {
			continue
		}
		col := strings.Fields(strings.TrimSpace(cols[0]))
		if len(col) > 0 && strings.EqualFold(strings.Trim(col[0], "`\"[]"), column) {
			return true
		}
	}
	return false
}
