package records

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
	"github.com/hanzoai/base/rules"
	"github.com/hanzoai/base/store"
)

// Create inserts a record of c built from body (JSON or multipart values,
// modifiers allowed) on tx. The create rule is evaluated against the record
// as it would be stored; failure is a 400, as is any validation error. It
// returns the stored record and the events to publish after commit.
func (s *Service) Create(ctx context.Context, tx store.Querier, c *base.Collection, body map[string]any, req *Request) (*Record, []base.Event, error) {
	if c.IsView() {
		return nil, nil, base.BadRequest(msgUnsupportedType, nil)
	}
	su := req.Superuser()
	if c.Name == base.UsersCollection && c.System {
		return nil, nil, base.Forbidden(msgUsersMirrorWrite)
	}
	if c.CreateRule == nil && !su {
		return nil, nil, base.Forbidden(msgOnlySuperusers)
	}
	input := filterInput(c, body, su)
	ups, err := takeUploads(c, input)
	if err != nil {
		return nil, nil, err
	}
	vals, err := ApplyModifiers(c, nil, input)
	if err != nil {
		return nil, nil, base.BadRequest(msgFailedCreate, nil).Wrap(err)
	}
	data := make(map[string]any, len(c.Fields))
	for _, f := range c.Fields {
		data[f.Name] = Zero(f)
	}
	for k, v := range vals {
		data[k] = v
	}
	if id, _ := data["id"].(string); id == "" {
		if data["id"], err = s.newID(c); err != nil {
			return nil, nil, err
		}
	}
	if err := Autogenerate(c, data); err != nil {
		return nil, nil, err
	}
	now := base.FormatTime(s.Now())
	for _, f := range c.Fields {
		if f.Type == base.FieldAutodate && (f.OnCreate || f.OnUpdate) {
			data[f.Name] = now
		}
	}
	rec := &Record{Collection: c, Data: data}

	if !su && strings.TrimSpace(*c.CreateRule) != "" {
		ok, err := s.checkVirtual(ctx, tx, rec, *c.CreateRule, req, vals)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, base.BadRequest(msgFailedCreate, nil)
		}
	}
	if errs := s.validate(ctx, tx, rec, nil, ups); len(errs) > 0 {
		return nil, nil, base.BadRequest(msgFailedCreate, errs)
	}
	if err := s.storeUploads(ctx, rec, ups); err != nil {
		return nil, nil, err
	}
	if err := s.insert(ctx, tx, rec); err != nil {
		return nil, nil, s.writeError(err, msgFailedCreate)
	}
	return rec, []base.Event{s.event(req, base.ActionCreate, rec)}, nil
}

// Update applies body to record id of c on tx. The update rule sees the
// stored record as fields and the submitted values (after modifiers) as
// @request.body; failure is a 404.
func (s *Service) Update(ctx context.Context, tx store.Querier, c *base.Collection, id string, body map[string]any, req *Request) (*Record, []base.Event, error) {
	if c.IsView() {
		return nil, nil, base.BadRequest(msgUnsupportedType, nil)
	}
	su := req.Superuser()
	if c.UpdateRule == nil && !su {
		return nil, nil, base.Forbidden(msgOnlySuperusers)
	}
	cur, err := s.loadByID(ctx, tx, c, id, "", nil)
	if err != nil {
		return nil, nil, err
	}
	if cur == nil {
		return nil, nil, base.NotFound("")
	}
	input := filterInput(c, body, su)
	delete(input, "id")
	ups, err := takeUploads(c, input)
	if err != nil {
		return nil, nil, err
	}
	vals, err := ApplyModifiers(c, cur.Data, input)
	if err != nil {
		return nil, nil, base.BadRequest(msgFailedUpdate, nil).Wrap(err)
	}
	delete(vals, "id")
	if !su && strings.TrimSpace(*c.UpdateRule) != "" {
		cond, args, err := s.ruleCondition(c, c.Name, *c.UpdateRule, req, vals)
		if err != nil {
			return nil, nil, err
		}
		ok, err := s.loadByID(ctx, tx, c, id, cond, args)
		if err != nil {
			return nil, nil, err
		}
		if ok == nil {
			return nil, nil, base.NotFound("")
		}
	}
	data := maps.Clone(cur.Data)
	for k, v := range vals {
		data[k] = v
	}
	now := base.FormatTime(s.Now())
	for _, f := range c.Fields {
		if f.Type == base.FieldAutodate && f.OnUpdate {
			data[f.Name] = now
		}
	}
	rec := &Record{Collection: c, Data: data}
	if errs := s.validate(ctx, tx, rec, cur, ups); len(errs) > 0 {
		return nil, nil, base.BadRequest(msgFailedUpdate, errs)
	}
	if err := s.storeUploads(ctx, rec, ups); err != nil {
		return nil, nil, err
	}
	if err := s.update(ctx, tx, rec); err != nil {
		return nil, nil, s.writeError(err, msgFailedUpdate)
	}
	s.scheduleReplaced(ctx, rec, cur)
	return rec, []base.Event{s.event(req, base.ActionUpdate, rec)}, nil
}

// Delete removes record id of c on tx, resolving every relation that points
// at it: ids are removed from referencing records, which are deleted too
// when the field cascades and nothing remains, and the whole delete fails
// when a required relation would become empty.
func (s *Service) Delete(ctx context.Context, tx store.Querier, c *base.Collection, id string, req *Request) ([]base.Event, error) {
	if c.IsView() {
		return nil, base.BadRequest(msgUnsupportedType, nil)
	}
	su := req.Superuser()
	if c.DeleteRule == nil && !su {
		return nil, base.Forbidden(msgOnlySuperusers)
	}
	var cond string
	var args []any
	if !su && strings.TrimSpace(*c.DeleteRule) != "" {
		var err error
		if cond, args, err = s.ruleCondition(c, c.Name, *c.DeleteRule, req, nil); err != nil {
			return nil, err
		}
	}
	rec, err := s.loadByID(ctx, tx, c, id, cond, args)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, base.NotFound("")
	}
	var events []base.Event
	if err := s.deleteCascade(ctx, tx, rec, req, map[string]bool{}, &events); err != nil {
		return nil, err
	}
	return events, nil
}

func (s *Service) deleteCascade(ctx context.Context, tx store.Querier, rec *Record, req *Request, visited map[string]bool, events *[]base.Event) error {
	key := rec.Collection.ID + "/" + rec.ID()
	if visited[key] {
		return nil
	}
	visited[key] = true
	d := s.Dialect
	for _, ref := range s.Schema.Referencing(rec.Collection.ID) {
		refs, err := s.referencing(ctx, tx, ref, rec.ID())
		if err != nil {
			return err
		}
		for _, r := range refs {
			if visited[r.Collection.ID+"/"+r.ID()] {
				continue
			}
			var remaining any
			empty := true
			if ref.Field.Multiple() {
				ids := slices.DeleteFunc(slices.Clone(relationIDs(r.Get(ref.Field.Name))), func(x string) bool { return x == rec.ID() })
				remaining, empty = ids, len(ids) == 0
			} else {
				remaining = ""
			}
			switch {
			case empty && ref.Field.CascadeDelete:
				if err := s.deleteCascade(ctx, tx, r, req, visited, events); err != nil {
					return err
				}
				continue
			case empty && ref.Field.Required:
				return base.BadRequest(msgFailedDelete, nil)
			}
			r.Data[ref.Field.Name] = remaining
			q := "UPDATE " + d.Quote(r.Collection.Name) + " SET " + d.Quote(ref.Field.Name) + " = ? WHERE " + d.Quote("id") + " = ?"
			if _, err := tx.ExecContext(ctx, q, Encode(ref.Field, remaining), r.ID()); err != nil {
				return classify(fmt.Errorf("unlink %s/%s: %w", r.Collection.Name, r.ID(), err))
			}
			*events = append(*events, s.event(req, base.ActionUpdate, r))
		}
	}
	q := "DELETE FROM " + d.Quote(rec.Collection.Name) + " WHERE " + d.Quote("id") + " = ?"
	if _, err := tx.ExecContext(ctx, q, rec.ID()); err != nil {
		return classify(fmt.Errorf("delete %s/%s: %w", rec.Collection.Name, rec.ID(), err))
	}
	s.scheduleRecordFiles(ctx, rec)
	*events = append(*events, s.event(req, base.ActionDelete, rec))
	return nil
}

// Truncate deletes every record of c in one statement and returns a delete
// event per record, as PocketBase's truncate (record by record, each
// delete firing its realtime event) publishes. Only for a collection no
// relation references: otherwise delete record by record so cascades and
// required references apply.
func (s *Service) Truncate(ctx context.Context, tx store.Tx, c *base.Collection, req *Request) ([]base.Event, error) {
	recs, err := s.selectRecords(ctx, tx, c, "truncate "+c.Name, nil, "")
	if err != nil {
		return nil, err
	}
	if err := store.TruncateCollection(ctx, tx, s.Dialect, c); err != nil {
		return nil, classify(err)
	}
	events := make([]base.Event, len(recs))
	for i, r := range recs {
		events[i] = s.event(req, base.ActionDelete, r)
	}
	return events, nil
}

// referencing loads the records of ref.Collection whose ref.Field holds id.
func (s *Service) referencing(ctx context.Context, q store.Querier, ref FieldRef, id string) ([]*Record, error) {
	if !safeFilterText(id) {
		return nil, nil
	}
	path := ref.Field.Name
	if ref.Field.Multiple() {
		path += ":each"
	}
	expr, err := filter.Parse(path + ` ?= "` + id + `"`)
	if err != nil {
		return nil, fmt.Errorf("referencing filter: %w", err)
	}
	c := ref.Collection
	w, args, err := s.Compiler.Where(c, c.Name, expr, &rules.Request{Method: "DELETE", Context: "default"}, rules.Options{AllowHidden: true, Superuser: true})
	if err != nil {
		return nil, fmt.Errorf("referencing %s.%s: %w", c.Name, ref.Field.Name, err)
	}
	return s.selectRecords(ctx, q, c, "referencing "+c.Name, []sqlPart{{w, args}}, "")
}

// checkVirtual evaluates rule against rec as if it were stored, without
// writing it: the rule runs over a one-row derived table of rec's values.
func (s *Service) checkVirtual(ctx context.Context, q store.Querier, rec *Record, rule string, req *Request, body map[string]any) (bool, error) {
	c := rec.Collection
	cond, cargs, err := s.ruleCondition(c, c.Name, rule, req, body)
	if err != nil {
		return false, err
	}
	ok, err := s.MatchesRow(ctx, q, rec, cond, cargs)
	if err != nil {
		return false, classify(fmt.Errorf("check create rule of %s: %w", c.Name, err))
	}
	return ok, nil
}

// MatchesRow reports whether cond, compiled for rec's collection under its
// own name (rules.Compiler.Where), holds for rec's values as they are in
// rec rather than as stored: they form a one-row derived table under that
// name, while relations and @collection still join the stored tables.
// Create rules use it for a record not yet written, the realtime hub for
// an event's version of a record that may since have changed.
func (s *Service) MatchesRow(ctx context.Context, q store.Querier, rec *Record, cond string, args []any) (bool, error) {
	c := rec.Collection
	d := s.Dialect
	cols := make([]string, 0, len(c.Fields))
	all := make([]any, 0, len(c.Fields)+len(args))
	for _, f := range c.Fields {
		param := "?"
		if st, err := store.FieldStorage(f); err == nil {
			param = store.TypedParam(d, st)
		}
		cols = append(cols, param+" AS "+d.Quote(f.Name))
		all = append(all, Encode(f, rec.Get(f.Name)))
	}
	all = append(all, args...)
	query := "SELECT 1 FROM (SELECT " + strings.Join(cols, ", ") + ") AS " + d.Quote(c.Name) + " WHERE " + cond + " LIMIT 1"
	rows, err := q.QueryContext(ctx, query, all...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	ok := rows.Next()
	return ok, rows.Err()
}

func (s *Service) insert(ctx context.Context, tx store.Querier, rec *Record) error {
	c := rec.Collection
	d := s.Dialect
	cols := make([]string, 0, len(c.Fields))
	args := make([]any, 0, len(c.Fields))
	for _, f := range c.Fields {
		cols = append(cols, d.Quote(f.Name))
		args = append(args, Encode(f, rec.Get(f.Name)))
	}
	q := "INSERT INTO " + d.Quote(c.Name) + " (" + strings.Join(cols, ", ") + ") VALUES (" + placeholders(len(cols)) + ")"
	_, err := tx.ExecContext(ctx, q, args...)
	return err
}

func (s *Service) update(ctx context.Context, tx store.Querier, rec *Record) error {
	c := rec.Collection
	d := s.Dialect
	sets := make([]string, 0, len(c.Fields))
	args := make([]any, 0, len(c.Fields)+1)
	for _, f := range c.Fields {
		if f.Name == "id" {
			continue
		}
		sets = append(sets, d.Quote(f.Name)+" = ?")
		args = append(args, Encode(f, rec.Get(f.Name)))
	}
	args = append(args, rec.ID())
	q := "UPDATE " + d.Quote(c.Name) + " SET " + strings.Join(sets, ", ") + " WHERE " + d.Quote("id") + " = ?"
	_, err := tx.ExecContext(ctx, q, args...)
	return err
}

// uniqueColumner is implemented by dialects that can name the columns of a
// unique violation.
type uniqueColumner interface {
	UniqueColumns(err error) []string
}

// writeError maps a failed INSERT/UPDATE: unique violations become field
// errors under msg, everything else is classified.
func (s *Service) writeError(err error, msg string) error {
	if !s.Dialect.IsUniqueViolation(err) {
		return classify(err)
	}
	data := map[string]any{}
	if uc, ok := s.Dialect.(uniqueColumner); ok {
		for _, col := range uc.UniqueColumns(err) {
			if col == "id" {
				data[col] = base.NewFieldError("validation_invalid_or_existing_id", "The model id is invalid or already exists.", nil)
			} else {
				data[col] = base.ErrNotUnique
			}
		}
	}
	return base.BadRequest(msg, data).Wrap(err)
}

// filterInput keeps the body keys that address a writable field of c
// (modifier forms included): unknown keys, autodate fields and, for
// non-superusers, hidden fields are dropped.
func filterInput(c *base.Collection, body map[string]any, su bool) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		f := c.Field(fieldNameOf(k))
		if f == nil || f.Type == base.FieldAutodate || (f.Hidden && !su && f.Type != base.FieldPassword) {
			continue
		}
		out[k] = v
	}
	return out
}

// fieldNameOf strips modifier syntax from a body key: "+tags", "tags+",
// "tags-", "title:autogenerate".
func fieldNameOf(key string) string {
	key = strings.TrimSuffix(key, ":autogenerate")
	key = strings.TrimPrefix(key, "+")
	key = strings.TrimSuffix(key, "+")
	key = strings.TrimSuffix(key, "-")
	return key
}

func (s *Service) newID(c *base.Collection) (string, error) {
	f := c.Field("id")
	if f == nil || f.AutogeneratePattern == "" || f.AutogeneratePattern == "[a-z0-9]{15}" {
		return NewID(), nil
	}
	id, err := Generate(f.AutogeneratePattern)
	if err != nil {
		return "", fmt.Errorf("generate id for %s: %w", c.Name, err)
	}
	return id, nil
}

func (s *Service) event(req *Request, a base.Action, rec *Record) base.Event {
	org := ""
	if req != nil && req.Identity != nil {
		org = req.Identity.Org
	}
	return base.Event{
		Org: org, CollectionID: rec.Collection.ID, CollectionName: rec.Collection.Name,
		Action: a, Record: ExportFull(&Record{Collection: rec.Collection, Data: rec.Data}),
	}
}
