package handler

import (
	"net/http"
	"strconv"
	"strings"

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
	rec, err := e.svc.View(r.Context(), e.db, c, r.PathValue("id"), r.URL.Query().Get("expand"), e.req)
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
	body, err := h.recordBody(r)
	if err != nil {
		return err
	}
	var rec *records.Record
	err = h.withTx(r.Context(), e, func(tx store.Tx) ([]base.Event, error) {
		var events []base.Event
		rec, events, err = e.svc.Create(r.Context(), tx, c, body.Data, e.req)
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
	body, err := h.recordBody(r)
	if err != nil {
		return err
	}
	var rec *records.Record
	err = h.withTx(r.Context(), e, func(tx store.Tx) ([]base.Event, error) {
		var events []base.Event
		rec, events, err = e.svc.Update(r.Context(), tx, c, r.PathValue("id"), body.Data, e.req)
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
	err = h.withTx(r.Context(), e, func(tx store.Tx) ([]base.Event, error) {
		return e.svc.Delete(r.Context(), tx, c, r.PathValue("id"), e.req)
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

// recordBody reads a record create/update body. File uploads are refused
// until file storage exists, rather than silently dropped.
func (h *Handler) recordBody(r *http.Request) (*requestBody, error) {
	body, err := readBody(r, h.cfg.MaxBodySize)
	if err != nil {
		return nil, err
	}
	if len(body.Files) > 0 {
		data := map[string]any{}
		for k := range body.Files {
			data[strings.Trim(k, "+-")] = base.NewFieldError("validation_file_upload_unsupported", "File uploads are not supported yet.", nil)
		}
		return nil, base.BadRequest("", data)
	}
	return body, nil
}
