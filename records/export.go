package records

import (
	"github.com/hanzoai/base"
)

// Export renders r as the wire JSON object req may see: collectionId and
// collectionName, every field except passwords, hidden fields only for
// superusers, an auth record's email only when visible, and expand when
// expansion was requested.
func (s *Service) Export(r *Record, req *Request) map[string]any {
	return exportRecord(r, req.Superuser(), req.Identity)
}

// ExportFull renders r as a superuser sees it (hidden fields included), the
// form carried by events.
func ExportFull(r *Record) map[string]any {
	return exportRecord(r, true, nil)
}

func exportRecord(r *Record, su bool, id *base.Identity) map[string]any {
	c := r.Collection
	m := make(map[string]any, len(c.Fields)+3)
	m["collectionId"] = c.ID
	m["collectionName"] = c.Name
	for _, f := range c.Fields {
		if f.Type == base.FieldPassword || (f.Hidden && !su) {
			continue
		}
		m[f.Name] = Export(f, r.Get(f.Name))
	}
	if c.IsAuth() && !su {
		visible, _ := r.Get("emailVisibility").(bool)
		self := id != nil && !id.Guest() && c.Name == base.UsersCollection && id.UserID == r.ID()
		if !visible && !self {
			delete(m, "email")
		}
	}
	if r.Expand != nil {
		ex := make(map[string]any, len(r.Expand))
		for k, v := range r.Expand {
			switch x := v.(type) {
			case *Record:
				ex[k] = exportRecord(x, su, id)
			case []*Record:
				list := make([]any, len(x))
				for i, rr := range x {
					list[i] = exportRecord(rr, su, id)
				}
				ex[k] = list
			}
		}
		m["expand"] = ex
	}
	return m
}
