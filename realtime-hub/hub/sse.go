package hub

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/realtime-hub/bus"
)

// Messages of the wire protocol.
const (
	msgMissingClient = "Missing or invalid client id."
	msgInvalidClient = "Invalid realtime client."
	msgAuthMismatch  = "The current and the previous request authorization don't match."
)

// writeTimeout bounds one write to a client; a client that cannot take a
// write in that time is disconnected.
const writeTimeout = 15 * time.Second

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// serveSSE is GET /v1/realtime: the PocketBase event stream. Every message
// is framed "id:<id>\nevent:<topic>\ndata:<json>\n\n"; PB_CONNECT's id is
// the client id, an event's id is "<clientId>:<eventId>" so that
// Last-Event-ID names both the session and the position to resume from.
func (h *Hub) serveSSE(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	ip := remoteIP(r)

	var c *client
	var replayOrg, replayAfter string
	if last := strings.TrimSpace(r.Header.Get("Last-Event-ID")); last != "" {
		oldID, after, _ := strings.Cut(last, ":")
		if _, err := bus.ParseID(after); err != nil {
			after = ""
		}
		if d := h.takeDetached(oldID); d != nil && (h.cfg.SkipIPCheck || d.ip == ip) {
			c = newClient(oldID, false, ip, h.cfg.QueueSize)
			c.ident, c.org, c.subs, c.lastQueue = d.ident, d.org, d.subs, ""
			if after == "" {
				after = d.last
			}
			if after != "" {
				c.replaying = true
				replayOrg, replayAfter = d.org, after
			}
		} else if after != "" {
			c = newClient(h.newClientID(), false, ip, h.cfg.QueueSize)
			c.resume = after
		}
	}
	if c == nil {
		c = newClient(h.newClientID(), false, ip, h.cfg.QueueSize)
	}
	if !h.register(c) {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if c.org != "" {
		h.join(c.org, c)
		h.reindex(c)
	}
	connect := []byte("id:" + c.id + "\nevent:PB_CONNECT\ndata:{\"clientId\":\"" + c.id + "\"}\n\n")
	start := func() {
		if replayOrg != "" {
			go h.replay(c, replayOrg, replayAfter)
		}
	}

	// HTTP/1.x: take the connection over. The response is written raw
	// (no chunked framing, body until close), the handler's goroutine and
	// the server's buffers are released. A plain socket is written by a
	// writer shard (writer.go) and one small goroutine notices the client
	// going away; another connection gets its own writer loop too.
	if conn, _, err := rc.Hijack(); err == nil {
		hdr.Set("Connection", "close")
		head := make([]byte, 0, 512)
		head = append(head, "HTTP/1.1 200 OK\r\n"...)
		hb := &byteWriter{b: head}
		_ = hdr.Write(hb)
		head = append(hb.b, "\r\n"...)
		head = append(head, connect...)
		c.setCloser(func() { conn.Close() })
		if out, ok := newOutConn(conn); ok {
			// A socket: a writer shard writes the stream; this goroutine
			// only notices the client going away.
			go func() {
				defer conn.Close()
				defer h.unregister(c)
				if _, err := out.Write(head); err != nil {
					return
				}
				c.lastWrite = time.Now()
				h.attach(c, out)
				start()
				readUntilGone(conn, c)
			}()
			return
		}
		go func() {
			defer conn.Close()
			defer h.unregister(c)
			write := deadlineWriter(conn)
			if !write(head) {
				return
			}
			go readUntilGone(conn, c)
			start()
			h.sseLoop(c, write, nil)
		}()
		return
	}

	// HTTP/2 (or a writer that cannot be hijacked): stream through the
	// ResponseWriter, flushing each batch.
	defer h.unregister(c)
	var last time.Time
	write := func(b []byte) bool {
		if now := time.Now(); now.Sub(last) > writeTimeout/3 {
			_ = rc.SetWriteDeadline(now.Add(writeTimeout))
			last = now
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	w.WriteHeader(http.StatusOK)
	if !write(connect) {
		return
	}
	start()
	h.sseLoop(c, write, r.Context().Done())
}

// readUntilGone reads conn until it fails, then kills c.
func readUntilGone(conn net.Conn, c *client) {
	var one [1]byte
	for {
		if _, err := conn.Read(one[:]); err != nil {
			c.kill()
			return
		}
	}
}

// byteWriter appends to b.
type byteWriter struct{ b []byte }

func (w *byteWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// deadlineWriter writes to conn with a write deadline, renewed only when a
// third of it has passed (renewing per write costs a timer update each):
// every write has between 2/3 and all of writeTimeout to complete.
func deadlineWriter(conn net.Conn) func([]byte) bool {
	var last time.Time
	return func(b []byte) bool {
		if now := time.Now(); now.Sub(last) > writeTimeout/3 {
			_ = conn.SetWriteDeadline(now.Add(writeTimeout))
			last = now
		}
		_, err := conn.Write(b)
		return err == nil
	}
}

// sseLoop writes c's queued messages until c dies, a write fails or gone
// is closed. Frames are assembled in one buffer and written with one write
// per batch: everything queued since the last write goes out together.
func (h *Hub) sseLoop(c *client, write func([]byte) bool, gone <-chan struct{}) {
	var buf []byte
	var batch []*message
	ping := time.NewTicker(h.cfg.KeepAlive)
	defer ping.Stop()
	for {
		select {
		case <-c.notify:
			batch = c.take(batch)
			if len(batch) == 0 {
				continue
			}
			buf = appendSSE(buf[:0], c.id, batch)
			n := len(batch)
			clear(batch)
			if !write(buf) {
				return
			}
			h.stats.Delivered.Add(int64(n))
			if cap(buf) > 256<<10 {
				buf = nil // don't keep a burst's buffer for an idle client
			}
		case <-ping.C:
			if !write(ssePing) {
				return
			}
		case <-c.dead:
			return
		case <-gone:
			return
		}
	}
}

// register adds c to the hub; false after Close.
func (h *Hub) register(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.clients[c.id] = c
	h.stats.Clients.Add(1)
	return true
}

// unregister removes c; a bound SSE client with subscriptions is kept
// detached for the resume window.
func (h *Hub) unregister(c *client) {
	c.kill()
	c.mu.Lock()
	org, ident, subs, last, sh := c.org, c.ident, c.subs, c.lastQueue, c.shard
	c.mu.Unlock()
	if sh != nil {
		sh.leave(c)
	}
	h.mu.Lock()
	if h.clients[c.id] == c {
		delete(h.clients, c.id)
		h.stats.Clients.Add(-1)
	}
	if !c.ws && ident != nil && len(subs) > 0 && !h.closed {
		h.detached[c.id] = &detached{ident: ident, org: org, subs: subs, last: last, ip: c.ip, expires: h.cfg.Now().Add(h.cfg.ResumeWindow)}
	}
	h.mu.Unlock()
	if org != "" {
		h.leave(org, c)
	}
}

func (h *Hub) takeDetached(id string) *detached {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.detached[id]
	if d == nil || h.cfg.Now().After(d.expires) {
		return nil
	}
	delete(h.detached, id)
	return d
}

// subscribeRequest is the body of POST /v1/realtime.
type subscribeRequest struct {
	ClientID      string   `json:"clientId"`
	Subscriptions []string `json:"subscriptions"`
}

// serveSubscribe is POST /v1/realtime: it replaces the client's
// subscriptions, binding its identity and org (first POST) or upgrading a
// guest to a user. A client held by another instance is reached through
// the bus.
func (h *Hub) serveSubscribe(w http.ResponseWriter, r *http.Request) {
	var body subscribeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, base.BadRequest("", nil))
		return
	}
	if e := validateSubscribe(&body); e != nil {
		writeError(w, e)
		return
	}
	ident, err := h.identifyRequest(r)
	if err != nil {
		writeError(w, asError(err))
		return
	}
	if err := h.subscribe(r.Context(), body.ClientID, ident, body.Subscriptions, remoteIP(r)); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func validateSubscribe(b *subscribeRequest) *base.Error {
	data := map[string]any{}
	if l := len(b.ClientID); l == 0 || l > 255 {
		msg := "Cannot be blank."
		code := "validation_required"
		if l > 255 {
			code, msg = "validation_length_out_of_range", "The length must be between 1 and 255."
		}
		data["clientId"] = map[string]any{"code": code, "message": msg}
	}
	if len(b.Subscriptions) > maxSubscriptions {
		data["subscriptions"] = map[string]any{"code": "validation_length_too_long", "message": "The length must be no more than 1000."}
	}
	for i, s := range b.Subscriptions {
		if len(s) > maxTopicLength || strings.ContainsAny(s, "\r\n") {
			data["subscriptions"] = map[string]any{"code": "validation_invalid_value", "message": "Invalid subscription at index " + itoa(i) + "."}
			break
		}
	}
	if len(data) > 0 {
		return base.BadRequest("", data)
	}
	return nil
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// call is a subscription change routed to the instance holding the client.
type call struct {
	ClientID string         `json:"clientId"`
	Topics   []string       `json:"topics"`
	Identity *base.Identity `json:"identity"`
	IP       string         `json:"ip"`
}

type reply struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// subscribe applies a subscription POST locally, or routes it to the
// client's instance.
func (h *Hub) subscribe(ctx context.Context, clientID string, ident *base.Identity, topics []string, ip string) *base.Error {
	h.mu.Lock()
	c := h.clients[clientID]
	h.mu.Unlock()
	if c == nil || c.ws {
		if c == nil && len(clientID) == 40 && clientID[:nodeLen] != h.node {
			return h.route(ctx, clientID, ident, topics, ip)
		}
		return base.NotFound(msgMissingClient)
	}
	if !h.cfg.SkipIPCheck && c.ip != ip {
		return base.BadRequest(msgInvalidClient, nil)
	}
	return h.setSubs(c, ident, topics, modeReplace)
}

func (h *Hub) route(ctx context.Context, clientID string, ident *base.Identity, topics []string, ip string) *base.Error {
	req, _ := json.Marshal(call{ClientID: clientID, Topics: topics, Identity: ident, IP: ip})
	rep, err := h.cfg.Bus.Call(ctx, clientID[:nodeLen], req)
	if errors.Is(err, bus.ErrNoNode) {
		return base.NotFound(msgMissingClient)
	}
	if err != nil {
		return base.Unavailable(err)
	}
	var rp reply
	if err := json.Unmarshal(rep, &rp); err != nil {
		return base.Unavailable(err)
	}
	if rp.Status == http.StatusNoContent {
		return nil
	}
	return base.NewError(rp.Status, rp.Message, nil)
}

// handleCall serves routed subscription POSTs for this node's clients.
func (h *Hub) handleCall(ctx context.Context, req []byte) []byte {
	var c call
	rp := reply{Status: http.StatusNoContent}
	if err := json.Unmarshal(req, &c); err != nil || c.Identity == nil {
		rp = reply{Status: http.StatusBadRequest, Message: base.DefaultMessage(http.StatusBadRequest)}
	} else {
		h.mu.Lock()
		cl := h.clients[c.ClientID]
		h.mu.Unlock()
		var e *base.Error
		switch {
		case cl == nil || cl.ws:
			e = base.NotFound(msgMissingClient)
		case !h.cfg.SkipIPCheck && cl.ip != c.IP:
			e = base.BadRequest(msgInvalidClient, nil)
		default:
			e = h.setSubs(cl, c.Identity, c.Topics, modeReplace)
		}
		if e != nil {
			rp = reply{Status: e.Status, Message: e.Message}
		}
	}
	b, _ := json.Marshal(rp)
	return b
}

type subMode int

const (
	modeReplace subMode = iota
	modeAdd
	modeRemove
)

// setSubs binds ident to c (first call) or checks that it matches the bound
// identity (a guest may become a user of the same org), then changes c's
// subscriptions. A pending resume replays once subscriptions exist.
func (h *Hub) setSubs(c *client, ident *base.Identity, topics []string, mode subMode) *base.Error {
	c.mu.Lock()
	newly := false
	switch {
	case c.ident == nil:
		c.ident, c.org, newly = ident, ident.Org, true
	case sameAuth(c.ident, ident):
		c.ident = ident // fresh claims
	case c.ident.Guest() && !ident.Guest() && ident.Org == c.org:
		c.ident = ident
	default:
		c.mu.Unlock()
		return base.Forbidden(msgAuthMismatch)
	}
	switch mode {
	case modeReplace:
		c.subs = make(map[string]*subscription, len(topics))
		fallthrough
	case modeAdd:
		for _, t := range topics {
			if _, ok := c.subs[t]; !ok {
				c.subs[t] = parseTopic(t)
			}
		}
	case modeRemove:
		for _, t := range topics {
			delete(c.subs, t)
		}
	}
	resume, org := "", c.org
	if c.resume != "" && len(c.subs) > 0 {
		resume, c.resume = c.resume, ""
		c.replaying = true
	}
	c.mu.Unlock()
	if newly {
		h.join(org, c)
	}
	h.reindex(c)
	if resume != "" {
		go h.replay(c, org, resume)
	}
	return nil
}

func sameAuth(a, b *base.Identity) bool {
	return a.Org == b.Org && a.Subject == b.Subject
}

func asError(err error) *base.Error {
	var e *base.Error
	if errors.As(err, &e) {
		return e
	}
	return base.NewError(http.StatusInternalServerError, "", nil).Wrap(err)
}

// writeError writes the PocketBase error envelope.
func writeError(w http.ResponseWriter, e *base.Error) {
	data := e.Data
	if data == nil {
		data = map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(map[string]any{"status": e.Status, "message": e.Message, "data": data})
}
