package hub

import (
	"encoding/json"
	"strconv"

	"github.com/hanzoai/base"
)

// class is the clients of one org that share an identity and a
// subscription topic. Whether an event may be seen, and what it looks like,
// depends only on the identity and the subscription, so the delivery worker
// decides and renders each event once per class and queues the same
// message to every member: ten thousand guests on posts/* are one rule
// evaluation and one JSON rendering per event.
type class struct {
	key     string
	ident   *base.Identity
	sub     *subscription
	members map[*client]struct{} // guarded by the org's mu
}

// snapshot appends the class's members to buf.
func (cl *class) snapshot(st *orgState, buf []*client) []*client {
	st.mu.Lock()
	for c := range cl.members {
		buf = append(buf, c)
	}
	st.mu.Unlock()
	return buf
}

// identityKey identifies what rules can see of an identity: guests of an
// org are all alike; users differ by subject, role and claims.
func identityKey(id *base.Identity) string {
	if id.Guest() {
		return "g\x00" + id.Org
	}
	claims, _ := json.Marshal(id.Claims) // sorted keys
	return "u\x00" + id.Org + "\x00" + id.Subject + "\x00" + strconv.FormatBool(id.Superuser) + "\x00" + string(claims)
}

// reindex puts c in the classes of its current identity and subscriptions
// (and out of its previous ones). It runs after every change of either.
func (h *Hub) reindex(c *client) {
	c.imu.Lock()
	defer c.imu.Unlock()
	c.mu.Lock()
	ident, org := c.ident, c.org
	subs := make([]*subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	if ident == nil {
		return
	}
	h.mu.Lock()
	st := h.orgs[org]
	h.mu.Unlock()
	if st == nil {
		return
	}
	ik := identityKey(ident)
	st.mu.Lock()
	h.unindexLocked(st, c)
	classes := make([]*class, 0, len(subs))
	for _, s := range subs {
		k := ik + "\x01" + s.topic
		cl := st.classes[k]
		if cl == nil {
			cl = &class{key: k, ident: ident, sub: s, members: map[*client]struct{}{}}
			st.classes[k] = cl
		}
		cl.members[c] = struct{}{}
		classes = append(classes, cl)
	}
	c.classes = classes
	st.mu.Unlock()
}

// unindex removes c from every class of st.
func (h *Hub) unindex(st *orgState, c *client) {
	st.mu.Lock()
	h.unindexLocked(st, c)
	st.mu.Unlock()
}

func (h *Hub) unindexLocked(st *orgState, c *client) {
	for _, cl := range c.classes {
		delete(cl.members, c)
		if len(cl.members) == 0 && st.classes[cl.key] == cl {
			delete(st.classes, cl.key)
		}
	}
	c.classes = nil
}
