package iam

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// auditEvent is one row of the audit log: every authentication event
// (login, failure, logout, token, refresh, revoke, password change).
type auditEvent struct {
	At       int64
	Event    string
	Result   string
	Org      string
	Username string
	ClientID string
	IP       string
	UA       string
	Detail   string
}

// AuditEntry is an audit log row as the admin API returns it.
type AuditEntry struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	Result    string    `json:"result"`
	Org       string    `json:"organization,omitempty"`
	Username  string    `json:"user,omitempty"`
	ClientID  string    `json:"clientId,omitempty"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"userAgent,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

func requestEvent(r *http.Request) auditEvent {
	ua := r.UserAgent()
	if len(ua) > 300 {
		ua = ua[:300]
	}
	return auditEvent{IP: clientIP(r), UA: ua}
}

// audit queues e for the audit writer; it never blocks the request (when
// the queue is full the event is logged and dropped).
func (s *Server) audit(e auditEvent) {
	if e.At == 0 {
		e.At = s.now().Unix()
	}
	select {
	case s.auditCh <- e:
	default:
		s.log.Warn("iam: audit queue full, event dropped", "event", e.Event, "org", e.Org, "user", e.Username)
	}
}

// auditWriter writes queued events in batches, one transaction per batch,
// and drains the queue on Close.
func (s *Server) auditWriter() {
	defer s.wg.Done()
	batch := make([]auditEvent, 0, 256)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := s.writeAudit(context.Background(), batch); err != nil {
			s.log.Error("iam: write audit log", "err", err, "events", len(batch))
		}
		batch = batch[:0]
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case e := <-s.auditCh:
			batch = append(batch, e)
			if len(batch) == cap(batch) {
				flush()
			}
		case <-t.C:
			flush()
		case <-s.done:
			for {
				select {
				case e := <-s.auditCh:
					batch = append(batch, e)
				default:
					flush()
					return
				}
			}
		}
	}
}

func (s *Server) writeAudit(ctx context.Context, batch []auditEvent) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, e := range batch {
		if _, err := tx.ExecContext(ctx, `INSERT INTO iam_audit (id, at, event, result, org, username, client_id, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			randomID(), e.At, e.Event, e.Result, e.Org, e.Username, e.ClientID, e.IP, e.UA, e.Detail); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// FlushAudit waits until the events queued so far are written (tests and
// admin reads).
func (s *Server) FlushAudit(ctx context.Context) error {
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for len(s.auditCh) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("flush audit: timeout")
		case <-time.After(5 * time.Millisecond):
		}
	}
	time.Sleep(60 * time.Millisecond) // one writer tick for the last batch
	return nil
}

// Audit returns the newest audit entries of org (every org when empty),
// newest first, at most limit.
func (s *Server) Audit(ctx context.Context, org string, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT at, event, result, org, username, client_id, ip, user_agent, detail FROM iam_audit
		WHERE org = ? OR ? = '' ORDER BY at DESC, id LIMIT ?`, org, org, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.Event, &e.Result, &e.Org, &e.Username, &e.ClientID, &e.IP, &e.UserAgent, &e.Detail); err != nil {
			return nil, fmt.Errorf("read audit: %w", err)
		}
		e.Time = time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
