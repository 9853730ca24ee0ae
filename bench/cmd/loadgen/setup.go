package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// Dataset is what the scenarios draw from: the ids of the seeded records.
type Dataset struct {
	PostIDs   []string
	AuthorIDs []string
}

// SetupSummary describes how the schema was created and seeded, and the
// match counts of the two list filters (the same seed gives the same data on
// every server, so these counts must agree between servers).
type SetupSummary struct {
	Method        string  `json:"method"` // "batch(N)" or "single"
	BatchEnabled  string  `json:"batchEnabled,omitempty"`
	Posts         int     `json:"posts"`
	Authors       int     `json:"authors"`
	Seconds       float64 `json:"seconds"`
	ListMatches   int     `json:"listMatches"`   // totalItems for the list scenario filter
	ExpandMatches int     `json:"expandMatches"` // totalItems for the expand scenario filter
	PeakRSSKB     int64   `json:"peakRSSKB,omitempty"`
}

// Filters used by the list and expand scenarios (unescaped).
const (
	listFilter   = "(views>100 && status='published')"
	expandFilter = "title~'lorem'"
	listSort     = "-created"
)

var words = strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do
eiusmod tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud
exercitation ullamco laboris nisi aliquip ex ea commodo consequat`)

func sentence(r *rand.Rand, min, max int) string {
	n := min + r.IntN(max-min+1)
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

// newPost returns the JSON body of a post. About 14% of titles contain
// "lorem" (5 words drawn from 35 on average), so `title~'lorem'` matches a
// real fraction of the rows.
func newPost(r *rand.Rand, authorIDs []string) map[string]any {
	status := "draft"
	if r.IntN(2) == 0 {
		status = "published"
	}
	return map[string]any{
		"title":  sentence(r, 3, 7),
		"body":   sentence(r, 30, 80),
		"views":  r.IntN(1000),
		"status": status,
		"author": authorIDs[r.IntN(len(authorIDs))],
	}
}

func authorsCollection() map[string]any {
	return map[string]any{
		"name": "authors", "type": "base",
		"listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
		"fields": []map[string]any{
			{"name": "name", "type": "text"},
			{"name": "created", "type": "autodate", "onCreate": true, "onUpdate": false},
			{"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
		},
	}
}

func postsCollection(authorsID string) map[string]any {
	return map[string]any{
		"name": "posts", "type": "base",
		"listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
		"fields": []map[string]any{
			{"name": "title", "type": "text"},
			{"name": "body", "type": "text"},
			{"name": "views", "type": "number"},
			{"name": "status", "type": "select", "values": []string{"draft", "published"}, "maxSelect": 1},
			{"name": "author", "type": "relation", "collectionId": authorsID, "maxSelect": 1},
			{"name": "created", "type": "autodate", "onCreate": true, "onUpdate": false},
			{"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
		},
	}
}

// Setup creates the authors and posts collections and seeds them.
func Setup(ctx context.Context, c *client, cfg Config, log io.Writer) (*SetupSummary, *Dataset, error) {
	var authors struct {
		ID string `json:"id"`
	}
	if err := c.doJSON(ctx, http.MethodPost, "/collections", authorsCollection(), &authors); err != nil {
		return nil, nil, fmt.Errorf("create authors collection: %w", err)
	}
	if authors.ID == "" {
		return nil, nil, errors.New("create authors collection: no id in response")
	}
	if err := c.doJSON(ctx, http.MethodPost, "/collections", postsCollection(authors.ID), nil); err != nil {
		return nil, nil, fmt.Errorf("create posts collection: %w", err)
	}

	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed))
	authorBodies := make([]map[string]any, cfg.Authors)
	for i := range authorBodies {
		authorBodies[i] = map[string]any{"name": sentence(r, 2, 3)}
	}
	s := &seeder{c: c, cfg: cfg, log: log, batch: cfg.BatchSize}
	sum := &SetupSummary{}
	authorIDs, err := s.seed(ctx, "authors", authorBodies)
	if err != nil {
		return nil, nil, fmt.Errorf("seed authors: %w", err)
	}
	postBodies := make([]map[string]any, cfg.Records)
	for i := range postBodies {
		postBodies[i] = newPost(r, authorIDs)
	}
	postIDs, err := s.seed(ctx, "posts", postBodies)
	if err != nil {
		return nil, nil, fmt.Errorf("seed posts: %w", err)
	}
	sum.Method = "single"
	if s.batch > 0 && !s.noBatch {
		sum.Method = fmt.Sprintf("batch(%d)", s.batch)
	}
	sum.BatchEnabled = s.enabledVia
	sum.Posts, sum.Authors = len(postIDs), len(authorIDs)

	if sum.ListMatches, err = countMatches(ctx, c, listFilter); err != nil {
		return nil, nil, err
	}
	if sum.ExpandMatches, err = countMatches(ctx, c, expandFilter); err != nil {
		return nil, nil, err
	}
	total, err := countMatches(ctx, c, "")
	if err != nil {
		return nil, nil, err
	}
	if total != cfg.Records {
		return nil, nil, fmt.Errorf("posts: server reports totalItems %d, seeded %d", total, cfg.Records)
	}
	fmt.Fprintf(log, "setup: %d authors, %d posts via %s; list filter matches %d, expand filter matches %d\n",
		len(authorIDs), len(postIDs), sum.Method, sum.ListMatches, sum.ExpandMatches)
	return sum, &Dataset{PostIDs: postIDs, AuthorIDs: authorIDs}, nil
}

func countMatches(ctx context.Context, c *client, filter string) (int, error) {
	q := url.Values{"page": {"1"}, "perPage": {"1"}}
	if filter != "" {
		q.Set("filter", filter)
	}
	var out struct {
		TotalItems int `json:"totalItems"`
	}
	if err := c.doJSON(ctx, http.MethodGet, "/collections/posts/records?"+q.Encode(), nil, &out); err != nil {
		return 0, fmt.Errorf("count posts %q: %w", filter, err)
	}
	return out.TotalItems, nil
}

// seeder creates records through the batch API when the server allows it,
// else through concurrent single creates.
type seeder struct {
	c          *client
	cfg        Config
	log        io.Writer
	batch      int    // current batch size; shrinks when the server refuses a size
	noBatch    bool   // batch API unavailable: single creates
	enabledVia string // how batch was enabled, when it had to be
}

func (s *seeder) seed(ctx context.Context, coll string, bodies []map[string]any) ([]string, error) {
	ids := make([]string, len(bodies))
	next := 0
	// Probe with the first chunk sequentially, so size/enablement is settled
	// before going concurrent.
	for !s.noBatch && next < len(bodies) {
		n := min(s.batch, len(bodies)-next)
		err := s.sendBatch(ctx, coll, bodies[next:next+n], ids[next:next+n])
		if err == nil {
			next += n
			break
		}
		var se *statusError
		if !errors.As(err, &se) {
			return nil, err
		}
		switch {
		case se.Status == http.StatusForbidden && s.enabledVia == "":
			// PocketBase ships with batch disabled; a superuser may enable it.
			s.enabledVia = "PATCH /settings"
			patch := map[string]any{"batch": map[string]any{"enabled": true, "maxRequests": 1000}}
			if perr := s.c.doJSON(ctx, http.MethodPatch, "/settings", patch, nil); perr != nil {
				fmt.Fprintf(s.log, "setup: batch refused and cannot be enabled (%v); using single creates\n", perr)
				s.noBatch = true
			}
		case se.Status == http.StatusBadRequest && s.batch > 1 && strings.Contains(se.Body, "Invalid batch request data"):
			s.batch /= 2 // too many sub-requests for this server
		case se.Status == http.StatusNotFound || se.Status == http.StatusMethodNotAllowed || se.Status == http.StatusForbidden:
			fmt.Fprintf(s.log, "setup: batch unavailable (%v); using single creates\n", err)
			s.noBatch = true
		default:
			return nil, err
		}
	}
	if next >= len(bodies) {
		return ids, nil
	}

	type job struct{ lo, hi int }
	jobs := make(chan job)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		done     atomic.Int64
	)
	workers := s.cfg.Clients
	chunk := 1
	if !s.noBatch {
		workers, chunk = min(4, s.cfg.Clients), s.batch
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var err error
				if s.noBatch {
					err = s.createOne(ctx, coll, bodies[j.lo], &ids[j.lo])
				} else {
					err = s.sendBatch(ctx, coll, bodies[j.lo:j.hi], ids[j.lo:j.hi])
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					continue
				}
				if n := done.Add(int64(j.hi - j.lo)); n/2000 != (n-int64(j.hi-j.lo))/2000 {
					fmt.Fprintf(s.log, "setup: %s %d/%d\n", coll, n+int64(next), len(bodies))
				}
			}
		}()
	}
feed:
	for lo := next; lo < len(bodies); lo += chunk {
		select {
		case jobs <- job{lo, min(lo+chunk, len(bodies))}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ids, nil
}

func (s *seeder) createOne(ctx context.Context, coll string, body map[string]any, id *string) error {
	var out struct {
		ID string `json:"id"`
	}
	if err := s.c.doJSON(ctx, http.MethodPost, "/collections/"+coll+"/records", body, &out); err != nil {
		return err
	}
	if out.ID == "" {
		return fmt.Errorf("create %s record: no id in response", coll)
	}
	*id = out.ID
	return nil
}

func (s *seeder) sendBatch(ctx context.Context, coll string, bodies []map[string]any, ids []string) error {
	type sub struct {
		Method string         `json:"method"`
		URL    string         `json:"url"`
		Body   map[string]any `json:"body"`
	}
	reqs := make([]sub, len(bodies))
	for i, b := range bodies {
		reqs[i] = sub{Method: http.MethodPost, URL: s.cfg.Prefix + "/collections/" + coll + "/records", Body: b}
	}
	var out []struct {
		Status int `json:"status"`
		Body   struct {
			ID string `json:"id"`
		} `json:"body"`
	}
	if err := s.c.doJSON(ctx, http.MethodPost, "/batch", map[string]any{"requests": reqs}, &out); err != nil {
		return err
	}
	if len(out) != len(bodies) {
		return fmt.Errorf("batch: %d responses for %d requests", len(out), len(bodies))
	}
	for i, o := range out {
		if o.Status/100 != 2 || o.Body.ID == "" {
			return fmt.Errorf("batch: sub-request %d: status %d, id %q", i, o.Status, o.Body.ID)
		}
		ids[i] = o.Body.ID
	}
	return nil
}

// LoadDataset reads the ids of an already seeded posts/authors pair.
func LoadDataset(ctx context.Context, c *client) (*Dataset, error) {
	posts, err := listIDs(ctx, c, "posts")
	if err != nil {
		return nil, err
	}
	authors, err := listIDs(ctx, c, "authors")
	if err != nil {
		return nil, err
	}
	if len(posts) == 0 || len(authors) == 0 {
		return nil, fmt.Errorf("no seeded records (%d posts, %d authors): run with -setup", len(posts), len(authors))
	}
	return &Dataset{PostIDs: posts, AuthorIDs: authors}, nil
}

func listIDs(ctx context.Context, c *client, coll string) ([]string, error) {
	var ids []string
	for page := 1; ; page++ {
		q := url.Values{"page": {fmt.Sprint(page)}, "perPage": {"1000"}, "skipTotal": {"1"}, "fields": {"id"}}
		var out struct {
			PerPage int `json:"perPage"`
			Items   []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		if err := c.doJSON(ctx, http.MethodGet, "/collections/"+coll+"/records?"+q.Encode(), nil, &out); err != nil {
			return nil, fmt.Errorf("list %s ids: %w", coll, err)
		}
		for _, it := range out.Items {
			ids = append(ids, it.ID)
		}
		if len(out.Items) == 0 || len(out.Items) != out.PerPage {
			return ids, nil
		}
	}
}
