package handler

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/records"
	"github.com/hanzoai/base/store"
)

func (h *Handler) listRecords(w http.ResponseWriter, r *http.Request, e *env) error {
	c, err := e.svc.Collection(r.PathValue("c"))
	if err != nil {
		return err
	}
	p, err := listParams(r)
	if err != nil {
		return err
	}
	res, err := e.svc.List(r.Context(), e.db, c, p, e.req)
	if err != nil {
		return err
	}
	items := make([]any, len(res.Items))
	for i, rec := range res.Items {
		items[i] = e.svc.Export(rec, e.req)
	}
	writeJSON(w, r, http.StatusOK, listResult{
		Page: res.Page, PerPage: res.PerPage, TotalItems: res.TotalItems, TotalPages: res.TotalPages, Items: items,
	})
	return nil
}

// listParams parses page, perPage, skipTotal, filter, sort and expand.
// Non-integer page numbers are a 400.
func listParams(r *http.Request) (records.ListParams, error) {
	q := r.URL.Query()
	p := records.ListParams{Filter: q.Get("filter"), Sort: q.Get("sort"), Expand: q.Get("expand")}
	var err error
	if s := q.Get("page"); s != "" {
		if p.Page, err = strconv.Atoi(s); err != nil {
			return p, base.BadRequest("", nil).Wrap(err)
		}
	}
	if s := q.Get("perPage"); s != "" {
		if p.PerPage, err = strconv.Atoi(s); err != nil {
			return p, base.BadRequest("", nil).Wrap(err)
		}
	}
	if s := q.Get("skipTotal"); s != "" {
		p.SkipTotal, _ = strconv.ParseBool(s)
	}
	if len(p.Filter) > 3500 {
		return p, base.BadRequest("", nil)
	}
	return p, nil
}

func (h *Handler) viewRecord(w http.ResponseWriter, r *http.Request, e *env) error {
	c, err := e.svc.Collection(r.PathValue("c"))
	if err != nil {
		return err
	}
	rec, err := e.svc.ViewFrom(r.Context(), e.db, c, r.PathValue("id"), r.URL.Query().Get("expand"), e.req, e.pre)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, e.svc.Export(rec, e.req))
	return nil
}

func (h *Handler) createRecord(w http.ResponseWriter, r *http.Request, e *env) error {
	c, err := e.svc.Collection(r.PathValue("c"))
	if err != nil {
		return err
	}
	body, err := h.recordBody(r, c)
	if err != nil {
		return err
	}
	var rec *records.Record
	err = h.writeTx(r.Context(), e, func(ctx context.Context, tx store.Tx) ([]base.Event, error) {
		var events []base.Event
		rec, events, err = e.svc.Create(ctx, tx, c, body.Data, e.req)
		return events, err
	})
	if err != nil {
		return err
	}
	return h.respondRecord(w, r, e, rec)
}

func (h *Handler) updateRecord(w http.ResponseWriter, r *http.Request, e *env) error {
	c, err := e.svc.Collection(r.PathValue("c"))
	if err != nil {
		return err
	}
	body, err := h.recordBody(r, c)
	if err != nil {
		return err
	}
	var rec *records.Record
	err = h.writeTx(r.Context(), e, func(ctx context.Context, tx store.Tx) ([]base.Event, error) {
		var events []base.Event
		rec, events, err = e.svc.Update(ctx, tx, c, r.PathValue("id"), body.Data, e.req)
		return events, err
	})
	if err != nil {
		return err
	}
	return h.respondRecord(w, r, e, rec)
}

func (h *Handler) deleteRecord(w http.ResponseWriter, r *http.Request, e *env) error {
	c, err := e.svc.Collection(r.PathValue("c"))
	if err != nil {
		return err
	}
	err = h.writeTx(r.Context(), e, func(ctx context.Context, tx store.Tx) ([]base.Event, error) {
		return e.svc.Delete(ctx, tx, c, r.PathValue("id"), e.req)
	})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// respondRecord writes a created or updated record, expanded as the query
// asks, as the caller may see it.
func (h *Handler) respondRecord(w http.ResponseWriter, r *http.Request, e *env, rec *records.Record) error {
	if ex := r.URL.Query().Get("expand"); ex != "" {
		if err := e.svc.Expand(r.Context(), e.db, []*records.Record{rec}, ex, e.req); err != nil {
			return err
		}
	}
	writeJSON(w, r, http.StatusOK, e.svc.Export(rec, e.req))
	return nil
}

// recordBody reads a record create/update body for c, within a size limit
// that leaves room for c's file fields. File parts become *records.File
// values under their part's key, after the existing names sent under the
// same key; without file storage they are refused rather than dropped.
func (h *Handler) recordBody(r *http.Request, c *base.Collection) (*requestBody, error) {
	body, err := readBody(r, h.bodyLimit(c))
	if err != nil {
		return nil, err
	}
	if len(body.Files) > 0 {
		if h.cfg.Files == nil {
			return nil, refuseUploads(slices.Collect(maps.Keys(body.Files)))
		}
		for k, fhs := range body.Files {
			mergeUploads(body.Data, k, fhs)
		}
	}
	return body, nil
}
