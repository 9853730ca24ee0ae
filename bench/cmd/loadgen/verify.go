package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
)

// listPage is the subset of a list answer the checks read.
type listPage struct {
	Page       int          `json:"page"`
	PerPage    int          `json:"perPage"`
	TotalItems int          `json:"totalItems"`
	Items      []postRecord `json:"items"`
}

type postRecord struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	Views   float64 `json:"views"`
	Status  string  `json:"status"`
	Author  string  `json:"author"`
	Created string  `json:"created"`
	Expand  *struct {
		Author *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"author"`
	} `json:"expand"`
}

// Verify sends one request of the scenario and checks that the answer is
// what the wire protocol promises for it (filter honoured, sort order,
// expand present, ...), so a server cannot look fast by doing less work.
// want holds the expected totalItems of the list filters (0 = unknown).
func Verify(ctx context.Context, c *client, sc Scenario, d *Dataset, cfg Config, want *SetupSummary) error {
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xc0ffee))
	switch sc.Name {
	case "list", "expand":
		path := listQuery(1)
		if sc.Name == "expand" {
			path = expandQuery(1)
		}
		var p listPage
		if err := c.doJSON(ctx, http.MethodGet, path, nil, &p); err != nil {
			return err
		}
		if p.Page != 1 || p.PerPage != 20 || len(p.Items) == 0 || len(p.Items) > 20 {
			return fmt.Errorf("page %d perPage %d with %d items", p.Page, p.PerPage, len(p.Items))
		}
		if want != nil {
			exp := want.ListMatches
			if sc.Name == "expand" {
				exp = want.ExpandMatches
			}
			if p.TotalItems != exp {
				return fmt.Errorf("totalItems %d, the filter matched %d after setup", p.TotalItems, exp)
			}
		}
		for i, it := range p.Items {
			if i > 0 && it.Created > p.Items[i-1].Created {
				return fmt.Errorf("items not sorted by -created: %q after %q", it.Created, p.Items[i-1].Created)
			}
			if sc.Name == "list" && (it.Views <= 100 || it.Status != "published") {
				return fmt.Errorf("item %s (views %v, status %q) does not match %s", it.ID, it.Views, it.Status, listFilter)
			}
			if sc.Name == "expand" {
				if !strings.Contains(strings.ToLower(it.Title), "lorem") {
					return fmt.Errorf("item %s title %q does not match %s", it.ID, it.Title, expandFilter)
				}
				if it.Expand == nil || it.Expand.Author == nil || it.Expand.Author.ID != it.Author {
					return fmt.Errorf("item %s: expand.author missing or not %q", it.ID, it.Author)
				}
			}
		}
	case "view":
		id := d.PostIDs[r.IntN(len(d.PostIDs))]
		var p postRecord
		if err := c.doJSON(ctx, http.MethodGet, "/collections/posts/records/"+id, nil, &p); err != nil {
			return err
		}
		if p.ID != id || p.Title == "" || p.Created == "" {
			return fmt.Errorf("view %s: got id %q title %q created %q", id, p.ID, p.Title, p.Created)
		}
	case "create":
		_, path, body := sc.Next(r, d, cfg)
		var p postRecord
		if err := c.doJSON(ctx, http.MethodPost, path, body, &p); err != nil {
			return err
		}
		sent := body.(map[string]any)
		if p.ID == "" || p.Title != sent["title"] || p.Author != sent["author"] || p.Created == "" {
			return fmt.Errorf("create: unexpected record %+v", p)
		}
	case "update":
		id := d.PostIDs[r.IntN(len(d.PostIDs))]
		var orig, p postRecord
		if err := c.doJSON(ctx, http.MethodGet, "/collections/posts/records/"+id, nil, &orig); err != nil {
			return err
		}
		if err := c.doJSON(ctx, http.MethodPatch, "/collections/posts/records/"+id, map[string]any{"views": 4242}, &p); err != nil {
			return err
		}
		if p.ID != id || p.Views != 4242 {
			return fmt.Errorf("update %s: got id %q views %v", id, p.ID, p.Views)
		}
		// Put the record back as it was, so the list filters keep their counts.
		if err := c.doJSON(ctx, http.MethodPatch, "/collections/posts/records/"+id, map[string]any{"views": orig.Views}, nil); err != nil {
			return err
		}
	default:
		return fmt.Errorf("no check for scenario %q", sc.Name)
	}
	return nil
}
