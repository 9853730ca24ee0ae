package base

// Action is what happened to a record.
type Action string

// Record actions carried by events.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// Event is a committed change to one record, published after the write's
// transaction commits. Record is the full stored record as exported to a
// superuser (hidden fields included); the hub strips per subscriber.
type Event struct {
	ID             string         `json:"id,omitempty"`
	Org            string         `json:"org"`
	CollectionID   string         `json:"collectionId"`
	CollectionName string         `json:"collectionName"`
	Action         Action         `json:"action"`
	Record         map[string]any `json:"record"`
}
