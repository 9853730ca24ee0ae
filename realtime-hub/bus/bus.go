// Package bus is the contract between the writers of committed changes (the
// stateless API handler, through handler.Publisher) and the realtime hubs
// that hold client connections, plus Memory, the in-process implementation
// used when everything runs in one binary. The Redis implementation lives
// in bus/redisbus.
//
// A bus does three things: it fans committed events out per organization
// (a hub only receives the orgs it subscribed to), it keeps a short replay
// log per organization so reconnecting clients can catch up, and it carries
// request/reply calls between hub instances (a subscription POST that
// reaches an instance other than the one holding the client's stream).
package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hanzoai/base"
)

// Bus carries events and calls between writers and hubs. Implementations
// are safe for concurrent use.
type Bus interface {
	// Publish assigns each event an ID (ordered per org), appends it to its
	// org's replay log and fans it out to that org's subscribers. It never
	// blocks on subscribers and never fails the caller's write: failures
	// are counted and logged by the implementation. It satisfies
	// handler.Publisher.
	Publish(ctx context.Context, events []base.Event)
	// Subscribe delivers org's events to fn, in ID order, until cancel is
	// called. fn is called from one goroutine per bus and must not block.
	// After a transport outage the implementation fills the gap from the
	// replay log before delivering newer events, where it can.
	Subscribe(org string, fn func([]base.Event)) (cancel func())
	// Replay returns org's events with an ID after after (exclusive),
	// oldest first. complete is false when the log no longer reaches back
	// to after (events were trimmed, or after is unknown), so the caller
	// knows there may be a gap.
	Replay(ctx context.Context, org, after string) (events []base.Event, complete bool, err error)
	// Serve answers calls addressed to node with fn until cancel is called.
	Serve(node string, fn func(ctx context.Context, req []byte) []byte) (cancel func())
	// Call sends req to the instance serving node and returns its reply.
	// It fails with ErrNoNode when no instance serves node.
	Call(ctx context.Context, node string, req []byte) ([]byte, error)
}

// ErrNoNode is returned by Call when no hub instance serves the node.
var ErrNoNode = errors.New("bus: no instance serves this node")

// ID is a parsed event ID "<unix ms>-<seq>", the form of Redis stream IDs.
// IDs of one org's events increase in publish order.
type ID struct {
	MS, Seq uint64
}

// ParseID parses "<ms>-<seq>" (or a bare "<ms>").
func ParseID(s string) (ID, error) {
	ms, seq, hasSeq := strings.Cut(s, "-")
	var id ID
	var err error
	if id.MS, err = strconv.ParseUint(ms, 10, 64); err != nil {
		return ID{}, fmt.Errorf("parse event id %q: %w", s, err)
	}
	if hasSeq {
		if id.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
			return ID{}, fmt.Errorf("parse event id %q: %w", s, err)
		}
	}
	return id, nil
}

// String formats id as "<ms>-<seq>".
func (id ID) String() string {
	return strconv.FormatUint(id.MS, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// Less reports whether id sorts before o.
func (id ID) Less(o ID) bool {
	return id.MS < o.MS || (id.MS == o.MS && id.Seq < o.Seq)
}

// After reports whether event ID a sorts after b. Unparsable IDs sort
// first, so they are never treated as newer than a valid one.
func After(a, b string) bool {
	ia, errA := ParseID(a)
	ib, errB := ParseID(b)
	switch {
	case errA != nil:
		return false
	case errB != nil:
		return true
	}
	return ib.Less(ia)
}
