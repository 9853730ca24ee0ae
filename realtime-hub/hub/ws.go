package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/realtime-hub/bus"
)

// wsIn is a client frame (base-v1.md §5).
type wsIn struct {
	Type        string   `json:"type"`
	Token       string   `json:"token"`
	Org         string   `json:"org"`
	Topics      []string `json:"topics"`
	LastEventID string   `json:"lastEventId"`
}

// serveWS is GET /v1/realtime/ws: JSON text frames. The identity is the
// upgrade request's (Authorization, X-Org-Id) unless an auth frame names
// another; it is bound at the first auth or subscribe frame, after which
// only a guest → user upgrade is accepted.
func (h *Hub) serveWS(w http.ResponseWriter, r *http.Request) {
	hj := &wsHijacker{ResponseWriter: w}
	conn, err := websocket.Accept(hj, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	conn.SetReadLimit(1 << 20)
	c := newClient(h.newClientID(), true, remoteIP(r), h.cfg.QueueSize)
	if !h.register(c) {
		conn.Close(websocket.StatusGoingAway, "shutting down")
		conn.CloseNow()
		return
	}
	ident, identErr := h.identifyRequest(r)
	req := wsRequest{host: r.Host, ident: ident, identErr: identErr}
	// The connection outlives this handler (see below), so not its
	// request's context.
	ctx, cancel := context.WithCancel(context.Background())

	// The library serializes whole frames; wmu orders the reader's
	// replies with the event frames of an own-goroutine writer.
	var wmu sync.Mutex
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		wmu.Lock()
		defer wmu.Unlock()
		wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
		defer wcancel()
		return conn.Write(wctx, websocket.MessageText, b) == nil
	}
	done := func() {
		cancel()
		h.unregister(c)
		conn.CloseNow()
	}
	if !send(map[string]string{"type": "connect", "clientId": c.id}) {
		done()
		return
	}
	if hj.out != nil {
		// A socket: a writer shard writes the events (writer.go), and a
		// new goroutine reads the client's frames, so that this handler
		// returns and the HTTP server lets go of the request and its
		// buffers.
		c.wsc = conn
		c.lastWrite = time.Now()
		// The close handshake ends the read.
		c.setCloser(func() { go conn.Close(websocket.StatusPolicyViolation, "closed") })
		h.attach(c, hj.out)
		go func() {
			defer done()
			h.wsRead(ctx, req, c, conn, send)
		}()
		return
	}
	defer done()
	go func() {
		defer c.kill()
		h.wsRead(ctx, req, c, conn, send)
	}()
	h.wsLoop(ctx, c, conn, &wmu)
}

// wsRequest is what the reader keeps of the upgrade request.
type wsRequest struct {
	host     string
	ident    *base.Identity
	identErr error
}

// wsRead serves the client's frames until the connection fails.
func (h *Hub) wsRead(ctx context.Context, req wsRequest, c *client, conn *websocket.Conn, send func(any) bool) {
	ident, identErr := req.ident, req.identErr
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var in wsIn
		if err := json.Unmarshal(data, &in); err != nil {
			send(wsError("Invalid frame."))
			continue
		}
		switch in.Type {
		case "auth":
			id, err := h.identify(ctx, in.Token, in.Org, req.host)
			if err != nil {
				send(wsError(asError(err).Message))
				continue
			}
			if e := h.setSubs(c, id, nil, modeAdd); e != nil {
				send(wsError(e.Message))
				continue
			}
			ident, identErr = id, nil
		case "subscribe", "unsubscribe":
			if identErr != nil {
				send(wsError(asError(identErr).Message))
				continue
			}
			if e := validateTopics(in.Topics); e != nil {
				send(wsError(e.Message))
				continue
			}
			mode := modeAdd
			if in.Type == "unsubscribe" {
				mode = modeRemove
			}
			if e := h.setSubs(c, ident, in.Topics, mode); e != nil {
				send(wsError(e.Message))
			}
		case "resume":
			if _, err := bus.ParseID(in.LastEventID); err != nil {
				send(wsError("Invalid lastEventId."))
				continue
			}
			c.mu.Lock()
			c.resume = in.LastEventID
			c.mu.Unlock()
			if ident != nil {
				// Replays now when subscriptions exist, else at the
				// next subscribe.
				if e := h.setSubs(c, ident, nil, modeAdd); e != nil {
					send(wsError(e.Message))
				}
			}
		default:
			send(wsError("Unknown frame type."))
		}
	}
}

// wsLoop writes c's events from its own goroutine (a connection that is
// not a plain socket) until c dies or ctx ends.
func (h *Hub) wsLoop(ctx context.Context, c *client, conn *websocket.Conn, wmu *sync.Mutex) {
	ping := time.NewTicker(h.cfg.KeepAlive)
	defer ping.Stop()
	var batch []*message
	for {
		select {
		case <-c.notify:
			batch = c.take(batch)
			if len(batch) == 0 {
				continue
			}
			// One deadline for the batch; each frame is rendered once per
			// message and shared by every client that receives it.
			wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
			wmu.Lock()
			n := 0
			var err error
			for _, m := range batch {
				if err = conn.Write(wctx, websocket.MessageText, m.wsFrame()); err != nil {
					break
				}
				n++
			}
			wmu.Unlock()
			wcancel()
			clear(batch)
			h.stats.Delivered.Add(int64(n))
			if err != nil {
				return
			}
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, writeTimeout)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
		case <-c.dead:
			conn.Close(websocket.StatusPolicyViolation, "closed")
			return
		case <-ctx.Done():
			return
		}
	}
}

func wsError(msg string) map[string]string { return map[string]string{"type": "error", "message": msg} }

func validateTopics(topics []string) *base.Error {
	if len(topics) > maxSubscriptions {
		return base.BadRequest("Too many topics.", nil)
	}
	for _, t := range topics {
		if len(t) > maxTopicLength || strings.ContainsAny(t, "\r\n") || t == "" {
			return base.BadRequest("Invalid topic.", nil)
		}
	}
	return nil
}
