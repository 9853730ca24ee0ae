package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
	"github.com/hanzoai/base/records"
	"github.com/hanzoai/base/rules"
	"github.com/hanzoai/base/store"
)

// catalogue is the pseudo-collection the collections list filters and sorts
// on: the columns of the _collections table.
var catalogue = &base.Collection{
	ID: "_collections", Name: "_collections", Type: base.TypeBase,
	Fields: []*base.Field{
		{Name: "id", Type: base.FieldText},
		{Name: "name", Type: base.FieldText},
		{Name: "type", Type: base.FieldText},
		{Name: "system", Type: base.FieldBool},
		{Name: "created", Type: base.FieldText},
		{Name: "updated", Type: base.FieldText},
	},
}

func (h *Handler) listCollections(w http.ResponseWriter, r *http.Request, e *env) error {
	if err := requireSuperuser(e); err != nil {
		return err
	}
	p, err := listParams(r)
	if err != nil {
		return err
	}
	if p.Page <= 0 {
		p.Page = 1
	}
	if p.PerPage <= 0 {
		p.PerPage = records.DefaultPerPage
	}
	p.PerPage = min(p.PerPage, records.MaxPerPage)
	d := e.db.Dialect()
	alias := catalogue.Name
	schema := records.NewSchema(0, []*base.Collection{catalogue})
	comp := &rules.Compiler{Dialect: e.svc.Compiler.Dialect, Schema: schema, Now: h.now}
	opt := rules.Options{AllowHidden: true, Superuser: true}
	where, order := "", ""
	var args, orderArgs []any
	if strings.TrimSpace(p.Filter) != "" {
		expr, err := filter.Parse(p.Filter)
		if err != nil {
			return base.BadRequest("", nil).Wrap(err)
		}
		w, a, err := comp.Where(catalogue, alias, expr, &rules.Request{Method: r.Method, Context: "default"}, opt)
		if err != nil {
			return base.BadRequest("", nil).Wrap(err)
		}
		where, args = " WHERE "+w, a
	}
	if strings.TrimSpace(p.Sort) != "" {
		items, err := filter.ParseSort(p.Sort)
		if err != nil {
			return base.BadRequest("", nil).Wrap(err)
		}
		o, a, err := comp.OrderBy(catalogue, alias, items, &rules.Request{Method: r.Method, Context: "default"}, opt)
		if err != nil {
			return base.BadRequest("", nil).Wrap(err)
		}
		if o != "" {
			order, orderArgs = " ORDER BY "+o, a
		}
	}
	from := " FROM " + d.Quote("_collections") + " AS " + d.Quote(alias)
	res := listResult{Page: p.Page, PerPage: p.PerPage, TotalItems: -1, TotalPages: -1}
	ctx := r.Context()
	if !p.SkipTotal {
		if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*)"+from+where, args...).Scan(&res.TotalItems); err != nil {
			return storeError(fmt.Errorf("count collections: %w", err))
		}
		res.TotalPages = (res.TotalItems + p.PerPage - 1) / p.PerPage
	}
	offset, ok := records.Offset(p.Page, p.PerPage)
	if !ok {
		res.Items = []any{}
		writeJSON(w, r, http.StatusOK, res)
		return nil
	}
	all := append(append(slices.Clone(args), orderArgs...), p.PerPage, offset)
	rows, err := e.db.QueryContext(ctx, "SELECT "+d.Quote(alias)+"."+d.Quote("id")+from+where+order+" LIMIT ? OFFSET ?", all...)
	if err != nil {
		return storeError(fmt.Errorf("list collections: %w", err))
	}
	defer rows.Close()
	res.Items = []any{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return storeError(err)
		}
		if c := e.svc.Schema.Collection(id); c != nil {
			res.Items = append(res.Items, c)
		}
	}
	if err := rows.Err(); err != nil {
		return storeError(err)
	}
	writeJSON(w, r, http.StatusOK, res)
	return nil
}

func (h *Handler) viewCollection(w http.ResponseWriter, r *http.Request, e *env) error {
	if err := requireSuperuser(e); err != nil {
		return err
	}
	c, err := e.svc.Collection(r.PathValue("c"))
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, c)
	return nil
}

// readJSONInto decodes a JSON request body onto v (empty body = no change).
func (h *Handler) readJSONInto(r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodySize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return base.TooLarge("")
		}
		return base.BadRequest("", nil).Wrap(err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		var foe *base.FieldOptionError
		if errors.As(err, &foe) {
			return base.BadRequest("", map[string]any{"fields": base.NewFieldError("validation_invalid_value", "Invalid "+foe.Option+" option.", nil)})
		}
		return base.BadRequest("Failed to load the submitted data due to invalid formatting.", nil).Wrap(err)
	}
	return nil
}

func (h *Handler) createCollection(w http.ResponseWriter, r *http.Request, e *env) error {
	if err := requireSuperuser(e); err != nil {
		return err
	}
	c := &base.Collection{}
	if err := h.readJSONInto(r, c); err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.saveCollection(ctx, e, c, nil, "Failed to create collection."); err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, c)
	return nil
}

func (h *Handler) updateCollection(w http.ResponseWriter, r *http.Request, e *env) error {
	if err := requireSuperuser(e); err != nil {
		return err
	}
	old, err := e.svc.Collection(r.PathValue("c"))
	if err != nil {
		return err
	}
	c := old.Clone()
	if err := h.readJSONInto(r, c); err != nil {
		return err
	}
	if err := h.saveCollection(r.Context(), e, c, old, "Failed to update collection."); err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, c)
	return nil
}

// saveCollection prepares, validates and stores c (old is nil on create) in
// one transaction.
func (h *Handler) saveCollection(ctx context.Context, e *env, c, old *base.Collection, failMsg string) error {
	if err := h.prepareCollection(ctx, e, c, old, e.svc.Schema.Collections, failMsg); err != nil {
		return err
	}
	return h.withTx(ctx, e, func(tx store.Tx) ([]base.Event, error) {
		return nil, h.storeCollection(ctx, tx, e, c, old, failMsg)
	})
}

// prepareCollection fills defaults, infers a view's fields and validates c
// against the final set of collections others (in which c replaces old).
func (h *Handler) prepareCollection(ctx context.Context, e *env, c, old *base.Collection, others []*base.Collection, failMsg string) error {
	lookup := func(nameOrID string) *base.Collection {
		for _, o := range others {
			if o == c || (old != nil && o.ID == old.ID) {
				continue // c itself (an import lists it among the final set)
			}
			if o.ID == nameOrID || strings.EqualFold(o.Name, nameOrID) {
				return o
			}
		}
		return nil
	}
	records.PrepareCollection(e.id.Org, c, old, lookup)
	// Accept a relation target by name as well as by id; store the id.
	for _, f := range c.Fields {
		if f.Type != base.FieldRelation || f.CollectionID == "" {
			continue
		}
		if strings.EqualFold(f.CollectionID, c.Name) {
			f.CollectionID = c.ID
		} else if t := lookup(f.CollectionID); t != nil {
			f.CollectionID = t.ID
		}
	}
	if c.IsView() && strings.TrimSpace(c.ViewQuery) != "" {
		fields, err := store.ViewFields(ctx, e.db, e.db.Dialect(), c.ViewQuery)
		if err != nil {
			return base.BadRequest(failMsg, map[string]any{
				"viewQuery": base.NewFieldError("validation_invalid_view_query", "Invalid view query. Raw error: "+err.Error(), nil),
			})
		}
		c.Fields = fields
	}
	errs := records.ValidateCollection(c, old, lookup)
	if errs == nil {
		errs = map[string]any{}
	}
	h.validateRules(e, c, others, old, errs)
	if !c.IsView() {
		validateIndexColumns(c, errs)
	}
	if len(errs) > 0 {
		return base.BadRequest(failMsg, errs)
	}
	now := base.FormatTime(h.now())
	if old == nil {
		c.Created = now
	} else {
		c.Created = old.Created
	}
	c.Updated = now
	return nil
}

// validateRules compiles every rule of c against the schema it will live
// in, adding validation_invalid_rule errors.
func (h *Handler) validateRules(e *env, c *base.Collection, others []*base.Collection, old *base.Collection, errs map[string]any) {
	cols := []*base.Collection{c}
	for _, o := range others {
		if o.ID != c.ID && (old == nil || o.ID != old.ID) {
			cols = append(cols, o)
		}
	}
	comp := &rules.Compiler{Dialect: e.svc.Compiler.Dialect, Schema: records.NewSchema(0, cols), Now: h.now}
	req := &rules.Request{Method: "GET", Context: "default", Auth: &rules.Auth{ID: "x", Claims: map[string]any{}}, Body: map[string]any{}}
	check := func(key string, rule *string) {
		if rule == nil || strings.TrimSpace(*rule) == "" {
			return
		}
		expr, err := filter.Parse(*rule)
		if err == nil {
			_, _, err = comp.Where(c, c.Name, expr, req, rules.Options{AllowHidden: true, Superuser: true})
		}
		if err != nil {
			errs[key] = base.NewFieldError("validation_invalid_rule", "Invalid rule. Raw error: "+err.Error(), nil)
		}
	}
	check("listRule", c.ListRule)
	check("viewRule", c.ViewRule)
	if !c.IsView() {
		check("createRule", c.CreateRule)
		check("updateRule", c.UpdateRule)
		check("deleteRule", c.DeleteRule)
	}
	if c.IsAuth() {
		check("authRule", c.AuthRule)
		check("manageRule", c.ManageRule)
	}
}

// storeCollection writes c on tx, mapping DDL failures to a 400.
func (h *Handler) storeCollection(ctx context.Context, tx store.Tx, e *env, c, old *base.Collection, failMsg string) error {
	d := e.db.Dialect()
	var err error
	if old == nil {
		err = store.CreateCollection(ctx, tx, d, c)
	} else {
		err = store.UpdateCollection(ctx, tx, d, old, c)
	}
	if err == nil {
		return nil
	}
	if isUnavailable(err) {
		return storeError(err)
	}
	var ie *store.IndexError
	if errors.As(err, &ie) {
		msg := "Invalid index expression."
		if d.IsUniqueViolation(err) {
			msg = "Existing records violate the unique index."
		}
		return base.BadRequest(failMsg, map[string]any{"indexes": map[string]any{
			fmt.Sprint(ie.Index): base.NewFieldError("validation_invalid_index_expression", msg, nil),
		}}).Wrap(err)
	}
	return base.BadRequest(failMsg, map[string]any{}).Wrap(err)
}

func (h *Handler) deleteCollection(w http.ResponseWriter, r *http.Request, e *env) error {
	if err := requireSuperuser(e); err != nil {
		return err
	}
	c, err := e.svc.Collection(r.PathValue("c"))
	if err != nil {
		return err
	}
	if c.System {
		return base.BadRequest("System collections cannot be deleted.", nil)
	}
	var refs []string
	for _, ref := range e.svc.Schema.Referencing(c.ID) {
		if ref.Collection.ID != c.ID && !slices.Contains(refs, ref.Collection.Name) {
			refs = append(refs, ref.Collection.Name)
		}
	}
	if len(refs) > 0 {
		return base.BadRequest("Failed to delete collection probably due to existing reference in "+strings.Join(refs, ", ")+".", nil)
	}
	ctx := r.Context()
	err = h.withTx(ctx, e, func(tx store.Tx) ([]base.Event, error) {
		return nil, store.DeleteCollection(ctx, tx, e.db.Dialect(), c)
	})
	if err != nil {
		return storeError(err)
	}
	writeNoContent(w)
	return nil
}

func (h *Handler) truncateCollection(w http.ResponseWriter, r *http.Request, e *env) error {
	if err := requireSuperuser(e); err != nil {
		return err
	}
	c, err := e.svc.Collection(r.PathValue("c"))
	if err != nil {
		return err
	}
	if c.IsView() {
		return base.BadRequest("View collections cannot be truncated.", nil)
	}
	ctx := r.Context()
	d := e.db.Dialect()
	err = h.withTx(ctx, e, func(tx store.Tx) ([]base.Event, error) {
		if len(e.svc.Schema.Referencing(c.ID)) == 0 {
			return e.svc.Truncate(ctx, tx, c, e.req)
		}
		// Relations point here: delete record by record so cascades and
		// required references behave as single deletes do.
		var ids []string
		rows, err := tx.QueryContext(ctx, "SELECT "+d.Quote("id")+" FROM "+d.Quote(c.Name))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		var events []base.Event
		for _, id := range ids {
			ev, err := e.svc.Delete(ctx, tx, c, id, e.req)
			if be := (*base.Error)(nil); errors.As(err, &be) && be.Status == http.StatusNotFound {
				continue // already removed by an earlier cascade
			}
			if err != nil {
				return nil, err
			}
			events = append(events, ev...)
		}
		return events, nil
	})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (h *Handler) importCollections(w http.ResponseWriter, r *http.Request, e *env) error {
	if err := requireSuperuser(e); err != nil {
		return err
	}
	var body struct {
		Collections   []json.RawMessage `json:"collections"`
		DeleteMissing bool              `json:"deleteMissing"`
	}
	if err := h.readJSONInto(r, &body); err != nil {
		return err
	}
	const failMsg = "Failed to import collections."
	importFail := func(msg string) error {
		return base.BadRequest(failMsg, map[string]any{"collections": base.NewFieldError("validation_collections_import_failure", msg, nil)})
	}
	if len(body.Collections) == 0 {
		return importFail("Missing collections to import.")
	}
	ctx := r.Context()
	schema := e.svc.Schema
	type item struct{ c, old *base.Collection }
	var items []item
	final := []*base.Collection{}
	seen := map[string]bool{}
	for _, raw := range body.Collections {
		in := &base.Collection{}
		if err := json.Unmarshal(raw, in); err != nil {
			return importFail("Invalid collection data.")
		}
		var old *base.Collection
		if in.ID != "" {
			old = schema.Collection(in.ID)
		}
		if old == nil && in.Name != "" {
			old = schema.Collection(in.Name)
		}
		c := in
		if old != nil {
			// Apply the imported keys on top of the stored definition:
			// keys the import leaves out keep their values.
			c = old.Clone()
			if err := json.Unmarshal(raw, c); err != nil {
				return importFail("Invalid collection data.")
			}
			c.ID = old.ID
		}
		items = append(items, item{c, old})
		final = append(final, c)
		seen[strings.ToLower(c.Name)] = true
	}
	var removed []*base.Collection
	for _, o := range schema.Collections {
		inImport := false
		for _, it := range items {
			if it.old != nil && it.old.ID == o.ID {
				inImport = true
			}
		}
		if inImport {
			continue
		}
		if body.DeleteMissing && !o.System {
			removed = append(removed, o)
			continue
		}
		if seen[strings.ToLower(o.Name)] {
			return importFail("Duplicated collection name " + o.Name + ".")
		}
		final = append(final, o)
	}
	for i, it := range items {
		if err := h.prepareCollection(ctx, e, it.c, it.old, final, failMsg); err != nil {
			var be *base.Error
			if errors.As(err, &be) {
				be.Data = map[string]any{"collections": map[string]any{fmt.Sprint(i): be.Data}}
			}
			return err
		}
	}
	err := h.withTx(ctx, e, func(tx store.Tx) ([]base.Event, error) {
		for _, o := range removed {
			if err := store.DeleteCollection(ctx, tx, e.db.Dialect(), o); err != nil {
				return nil, importFail("Failed to delete " + o.Name + ".")
			}
		}
		for _, it := range items {
			if err := h.storeCollection(ctx, tx, e, it.c, it.old, failMsg); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (h *Handler) scaffolds(w http.ResponseWriter, r *http.Request, e *env) error {
	if err := requireSuperuser(e); err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, records.Scaffolds(e.id.Org))
	return nil
}

func (h *Handler) oauth2Providers(w http.ResponseWriter, r *http.Request, e *env) error {
	if err := requireSuperuser(e); err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, []any{map[string]any{"name": "iam", "displayName": "IAM", "logo": ""}})
	return nil
}

func (h *Handler) dryRunView(w http.ResponseWriter, r *http.Request, e *env) error {
	if err := requireSuperuser(e); err != nil {
		return err
	}
	var body struct {
		Query string `json:"query"`
	}
	if err := h.readJSONInto(r, &body); err != nil {
		return err
	}
	rows, err := store.DryRunView(r.Context(), e.db, e.db.Dialect(), body.Query)
	if err != nil {
		if isUnavailable(err) {
			return storeError(err)
		}
		return base.BadRequest("Invalid view query. Raw error: "+err.Error(), nil)
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	writeJSON(w, r, http.StatusOK, rows)
	return nil
}

// validateIndexColumns reports indexes that name a column c does not have
// (typically after a field rename or removal), keyed by index position, as
// PocketBase does, before any DDL runs.
func validateIndexColumns(c *base.Collection, errs map[string]any) {
	bad := map[string]any{}
	for i, def := range c.Indexes {
		ix, err := store.ParseIndex(def)
		if err != nil {
			bad[fmt.Sprint(i)] = base.NewFieldError("validation_invalid_index_expression", "Invalid index expression.", nil)
			continue
		}
		for _, col := range ix.Columns {
			if !col.Expr && c.Field(col.Name) == nil {
				bad[fmt.Sprint(i)] = base.NewFieldError("validation_invalid_index_expression", "Unknown column "+col.Name+".", nil)
				break
			}
		}
	}
	if len(bad) > 0 {
		if _, taken := errs["indexes"]; !taken {
			errs["indexes"] = bad
		}
	}
}
