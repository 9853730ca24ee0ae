package handler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/records"
	"github.com/hanzoai/base/store"
)

// maxBatchBody bounds a batch request's body (PocketBase's default).
const maxBatchBody = 128 << 20

// batchRequest is one sub-request of a batch.
type batchRequest struct {
	method  string
	path    string
	query   url.Values
	headers map[string]string
	body    map[string]any
}

// batchResult is one sub-response.
type batchResult struct {
	Status int `json:"status"`
	Body   any `json:"body"`
}

// batch runs record creates, updates, upserts and deletes in one
// transaction: all succeed or nothing changes, and events are published
// only after the commit.
func (h *Handler) batch(w http.ResponseWriter, r *http.Request, e *env) error {
	if h.cfg.BatchMax < 0 {
		return base.Forbidden("Batch requests are not allowed.")
	}
	body, err := readBody(r, max(h.cfg.MaxBodySize, maxBatchBody))
	if err != nil {
		return err
	}
	invalid := func(msg string) error {
		return base.BadRequest("Invalid batch request data.", map[string]any{"requests": base.NewFieldError("validation_invalid_value", msg, nil)})
	}
	list, _ := body.Data["requests"].([]any)
	if len(list) == 0 {
		return invalid("Cannot be blank.")
	}
	if len(list) > h.cfg.BatchMax {
		return invalid(fmt.Sprintf("The allowed max number of batch requests is %d.", h.cfg.BatchMax))
	}
	if len(body.Files) > 0 && h.cfg.Files == nil {
		return invalid("File storage is not configured.")
	}
	subs := make([]*batchRequest, len(list))
	for i, item := range list {
		br, err := parseBatchRequest(item)
		if err != nil {
			return invalid(fmt.Sprintf("Request %d: %v.", i, err))
		}
		subs[i] = br
	}
	for k, fhs := range body.Files {
		i, key, ok := batchFileKey(k)
		if !ok || i >= len(subs) {
			return invalid(fmt.Sprintf("Unknown file part %q.", k))
		}
		mergeUploads(subs[i].body, key, fhs)
	}

	results := make([]batchResult, len(subs))
	err = h.writeTx(r.Context(), e, func(ctx context.Context, tx store.Tx) ([]base.Event, error) {
		var events []base.Event
		for i, br := range subs {
			res, evs, err := h.runBatchRequest(ctx, r, tx, e, br)
			if err != nil {
				be := base.AsError(err)
				if be.Status >= 500 {
					h.log.ErrorContext(ctx, "batch sub-request failed", "index", i, "err", err)
					be = base.NewError(be.Status, "", nil)
				}
				data := be.Data
				if data == nil {
					data = map[string]any{}
				}
				return nil, base.BadRequest("Batch transaction failed.", map[string]any{"requests": map[string]any{
					fmt.Sprint(i): map[string]any{
						"code": "batch_request_failed", "message": "Batch request failed.",
						"response": map[string]any{"status": be.Status, "message": be.Message, "data": data},
					},
				}}).Wrap(err)
			}
			results[i] = res
			events = append(events, evs...)
		}
		return events, nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, results)
	return nil
}

// batchFileKey splits a batch file part name, "requests.N.key" or
// "requests[N].key", into the sub-request index and its body key.
func batchFileKey(k string) (int, string, bool) {
	var idx, key string
	if rest, ok := strings.CutPrefix(k, "requests."); ok {
		idx, key, ok = strings.Cut(rest, ".")
		if !ok {
			return 0, "", false
		}
	} else if rest, ok := strings.CutPrefix(k, "requests["); ok {
		idx, key, ok = strings.Cut(rest, "].")
		if !ok {
			return 0, "", false
		}
	} else {
		return 0, "", false
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || key == "" || strconv.Itoa(i) != idx {
		return 0, "", false
	}
	return i, key, true
}

// parseBatchRequest validates one {"method","url","headers","body"} item.
func parseBatchRequest(item any) (*batchRequest, error) {
	m, ok := item.(map[string]any)
	if !ok {
		return nil, errors.New("not an object")
	}
	method, _ := m["method"].(string)
	rawURL, _ := m["url"].(string)
	u, err := url.Parse(rawURL)
	if err != nil || rawURL == "" {
		return nil, errors.New("invalid url")
	}
	br := &batchRequest{method: strings.ToUpper(method), path: u.Path, query: u.Query(), headers: map[string]string{}}
	if hdr, ok := m["headers"].(map[string]any); ok {
		for k, v := range hdr {
			if s, ok := v.(string); ok && !strings.EqualFold(k, "Authorization") {
				br.headers[strings.ToLower(strings.ReplaceAll(k, "-", "_"))] = s
			}
		}
	}
	switch b := m["body"].(type) {
	case map[string]any:
		br.body = b
	case nil:
		br.body = map[string]any{}
	default:
		return nil, errors.New("body must be an object")
	}
	return br, nil
}

// recordsPath splits /{api|v1|prefix}/collections/{c}/records[/{id}].
func (h *Handler) recordsPath(p string) (coll, id string, ok bool) {
	for _, pre := range []string{h.cfg.Prefix, "/api"} {
		if rest, found := strings.CutPrefix(p, pre+"/collections/"); found {
			parts := strings.Split(rest, "/")
			switch {
			case len(parts) == 2 && parts[1] == "records":
				return parts[0], "", parts[0] != ""
			case len(parts) == 3 && parts[1] == "records":
				return parts[0], parts[2], parts[0] != "" && parts[2] != ""
			}
		}
	}
	return "", "", false
}

// runBatchRequest performs one sub-request on tx.
func (h *Handler) runBatchRequest(ctx context.Context, r *http.Request, tx store.Tx, e *env, br *batchRequest) (batchResult, []base.Event, error) {
	cname, id, ok := h.recordsPath(br.path)
	if !ok {
		return batchResult{}, nil, base.BadRequest("Unknown batch request action.", nil)
	}
	c, err := e.svc.Collection(cname)
	if err != nil {
		return batchResult{}, nil, err
	}
	req := *e.req
	req.Method = br.method
	req.Context = "batch"
	req.Query = firstValues(br.query)
	req.Headers = make(map[string]string, len(e.req.Headers)+len(br.headers))
	for k, v := range e.req.Headers {
		req.Headers[k] = v
	}
	for k, v := range br.headers {
		req.Headers[k] = v
	}
	var rec *records.Record
	var events []base.Event
	switch {
	case br.method == http.MethodPost && id == "":
		rec, events, err = e.svc.Create(ctx, tx, c, br.body, &req)
	case br.method == http.MethodPut && id == "":
		rid, _ := br.body["id"].(string)
		exists := false
		if rid != "" {
			if exists, err = e.svc.Satisfies(ctx, tx, c, rid, "", &records.Request{Identity: &base.Identity{Superuser: true}}); err != nil {
				return batchResult{}, nil, err
			}
		}
		if exists {
			rec, events, err = e.svc.Update(ctx, tx, c, rid, br.body, &req)
		} else {
			rec, events, err = e.svc.Create(ctx, tx, c, br.body, &req)
		}
	case br.method == http.MethodPatch && id != "":
		rec, events, err = e.svc.Update(ctx, tx, c, id, br.body, &req)
	case br.method == http.MethodDelete && id != "":
		events, err = e.svc.Delete(ctx, tx, c, id, &req)
		if err != nil {
			return batchResult{}, nil, err
		}
		return batchResult{Status: http.StatusNoContent, Body: nil}, events, nil
	default:
		return batchResult{}, nil, base.BadRequest("Unknown batch request action.", nil)
	}
	if err != nil {
		return batchResult{}, nil, err
	}
	if ex := br.query.Get("expand"); ex != "" {
		if err := e.svc.Expand(ctx, tx, []*records.Record{rec}, ex, &req); err != nil {
			return batchResult{}, nil, err
		}
	}
	var out any = e.svc.Export(rec, &req)
	if f := br.query.Get("fields"); f != "" {
		out = pickFields(out, f)
	}
	return batchResult{Status: http.StatusOK, Body: out}, events, nil
}
