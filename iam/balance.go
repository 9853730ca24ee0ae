package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The legacy balance verbs of spec/iam.md "Balances", served only when
// Config.BalanceAPI is set (IAM_BALANCE_API=true); otherwise their paths
// are unknown (JSON 404). Users carry a balance in USD, kept in cents.
// Every change is a Transaction row written in the same store transaction
// as the balance it changes, so a balance is always the sum of its
// transactions and concurrent changes never lose an update. Casdoor
// envelope {status, msg, data}; a Bearer access token of this IAM is
// required:
//
//	POST /api/add-balance {user, amount}   admin of the user's org
//	POST /api/add-transaction {…}          admin of the transaction's owner
//	GET  /api/get-transactions?owner=      admin of owner
//	GET  /api/get-user-transactions?owner=&user=   admin of owner, or the user
//	GET  /api/get-account                  the caller's own account
const (
	PathAddBalance          = "/api/add-balance"
	PathAddTransaction      = "/api/add-transaction"
	PathGetTransactions     = "/api/get-transactions"
	PathGetUserTransactions = "/api/get-user-transactions"
	PathGetAccount          = "/api/get-account"
)

// ErrInsufficientBalance is returned for a change that would make a
// balance negative; nothing is written.
var ErrInsufficientBalance = errors.New("insufficient balance")

// balanceSchema is the transaction table (portable SQL, as schema).
var balanceSchema = []string{
	`CREATE TABLE IF NOT EXISTS iam_transactions (
		id TEXT PRIMARY KEY,
		org TEXT NOT NULL,
		name TEXT NOT NULL,
		username TEXT NOT NULL,
		amount_cents BIGINT NOT NULL,
		balance_cents BIGINT NOT NULL,
		doc TEXT NOT NULL DEFAULT '{}',
		created BIGINT NOT NULL
	)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS iam_transactions_name ON iam_transactions (org, name)`,
	`CREATE INDEX IF NOT EXISTS iam_transactions_user ON iam_transactions (org, username, created)`,
}

// Transaction is one balance change, in Casdoor's field names. Amount is
// the signed change in USD (negative debits); Balance is the user's
// balance after it (set by the IAM).
type Transaction struct {
	Owner       string  `json:"owner"`
	Name        string  `json:"name"`
	CreatedTime string  `json:"createdTime"`
	DisplayName string  `json:"displayName"`
	Application string  `json:"application"`
	Provider    string  `json:"provider"`
	Category    string  `json:"category"`
	Type        string  `json:"type"`
	ProductName string  `json:"productName"`
	Detail      string  `json:"detail"`
	Tag         string  `json:"tag"`
	User        string  `json:"user"`
	Amount      float64 `json:"amount"`
	Currency    string  `json:"currency"`
	Payment     string  `json:"payment"`
	State       string  `json:"state"`
	Balance     float64 `json:"balance"`
}

// toCents converts a USD amount to cents, refusing NaN, infinities and
// amounts beyond ±10¹² USD.
func toCents(usd float64) (int64, error) {
	if math.IsNaN(usd) || math.IsInf(usd, 0) || math.Abs(usd) > 1e12 {
		return 0, invalidf("invalid amount %v", usd)
	}
	return int64(math.Round(usd * 100)), nil
}

func fromCents(c int64) float64 { return float64(c) / 100 }

// AddTransaction applies t: it adds t.Amount to the balance of t.Owner's
// user t.User and records t, in one store transaction. A change that
// would make the balance negative fails with ErrInsufficientBalance; a
// transaction name already used in the org fails with ErrConflict (so a
// retried request is never applied twice). An empty name gets a random
// one. It returns t as stored.
func (s *Server) AddTransaction(ctx context.Context, t Transaction) (*Transaction, error) {
	if t.Currency == "" {
		t.Currency = "USD"
	}
	if !strings.EqualFold(t.Currency, "USD") {
		return nil, fmt.Errorf("add transaction: %w", invalidf("only USD balances are supported"))
	}
	t.Currency = "USD"
	cents, err := toCents(t.Amount)
	if err != nil {
		return nil, fmt.Errorf("add transaction: %w", err)
	}
	if cents == 0 {
		return nil, fmt.Errorf("add transaction: %w", invalidf("the amount is zero"))
	}
	if t.Name == "" {
		t.Name = "txn_" + randomID()
	}
	if !validUsername(t.Name) {
		return nil, fmt.Errorf("add transaction: %w", invalidf("invalid transaction name %q", t.Name))
	}
	now := s.now()
	t.CreatedTime = now.UTC().Format(time.RFC3339)
	t.Amount = fromCents(cents)
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("add transaction: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE iam_users SET balance_cents = balance_cents + ?, updated = ? WHERE org = ? AND username = ? AND balance_cents + ? >= 0`,
		cents, now.Unix(), t.Owner, t.User, cents)
	if err != nil {
		return nil, fmt.Errorf("add transaction: %w", err)
	}
	var balance int64
	err = tx.QueryRowContext(ctx, `SELECT balance_cents FROM iam_users WHERE org = ? AND username = ?`, t.Owner, t.User).Scan(&balance)
	if err != nil {
		if _, uerr := userTx(ctx, tx, t.Owner, t.User); errors.Is(uerr, ErrNotFound) {
			return nil, fmt.Errorf("add transaction: %w", uerr)
		}
		return nil, fmt.Errorf("add transaction: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("add transaction: %w (balance %.2f, change %.2f)", ErrInsufficientBalance, fromCents(balance), t.Amount)
	}
	t.Balance = fromCents(balance)
	doc, _ := json.Marshal(t)
	if _, err := tx.ExecContext(ctx, `INSERT INTO iam_transactions (id, org, name, username, amount_cents, balance_cents, doc, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		randomID(), t.Owner, t.Name, t.User, cents, balance, string(doc), now.UnixNano()); err != nil {
		if s.db.Dialect().IsUniqueViolation(err) {
			return nil, fmt.Errorf("add transaction: %w", conflictf("transaction %q exists in org %q", t.Name, t.Owner))
		}
		return nil, fmt.Errorf("add transaction: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("add transaction: %w", err)
	}
	return &t, nil
}

// Transactions lists org's transactions (only username's when it is not
// empty), newest first, at most limit (default 100, at most 1000).
func (s *Server) Transactions(ctx context.Context, org, username string, limit int) ([]Transaction, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT doc FROM iam_transactions WHERE org = ? AND (username = ? OR ? = '') ORDER BY created DESC, id LIMIT ?`,
		org, username, username, limit)
	if err != nil {
		return nil, fmt.Errorf("list transactions: %w", err)
	}
	defer rows.Close()
	out := []Transaction{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list transactions: %w", err)
		}
		var t Transaction
		if err := json.Unmarshal([]byte(doc), &t); err != nil {
			return nil, fmt.Errorf("list transactions: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *Server) balanceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathAddBalance, s.handleAddBalance)
	mux.HandleFunc("POST "+PathAddTransaction, s.handleAddTransaction)
	mux.HandleFunc("GET "+PathGetTransactions, s.handleGetTransactions)
	mux.HandleFunc("GET "+PathGetUserTransactions, s.handleGetTransactions)
	mux.HandleFunc("GET "+PathGetAccount, s.handleGetAccount)
}

// caller returns the claims of the request's live Bearer access token,
// answering 401 itself when there is none.
func (s *Server) caller(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	claims, err := s.activeAccess(r.Context(), bearer(r))
	if err != nil {
		if !errors.Is(err, errInvalidToken) {
			s.log.Error("iam: access token", "err", err)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="iam"`)
		envelope(w, 401, false, "An access token is required.", nil)
		return nil, false
	}
	return claims, true
}

// adminOf reports whether claims are a platform admin's, or an org admin's
// of org.
func adminOf(claims map[string]any, org string) bool {
	g, _ := claims["isGlobalAdmin"].(bool)
	adm, _ := claims["isAdmin"].(bool)
	owner, _ := claims["owner"].(string)
	return g || adm && org != "" && owner == org
}

// splitUser reads a user reference: "org/name", or name with owner.
func splitUser(user, owner string) (string, string) {
	if o, n, ok := strings.Cut(user, "/"); ok {
		return o, n
	}
	return owner, user
}

func (s *Server) handleAddBalance(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.caller(w, r)
	if !ok {
		return
	}
	var req struct {
		Owner    string  `json:"owner"`
		User     string  `json:"user"`
		Amount   float64 `json:"amount"`
		Currency string  `json:"currency"`
		Name     string  `json:"name"`
		Detail   string  `json:"detail"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	org, user := splitUser(req.User, req.Owner)
	if !adminOf(claims, org) {
		envelope(w, 403, false, "You are not an admin of this organization.", nil)
		return
	}
	t, err := s.AddTransaction(r.Context(), Transaction{Owner: org, User: user, Amount: req.Amount, Currency: req.Currency,
		Name: req.Name, Detail: req.Detail, Category: "balance", Type: "add-balance"})
	s.balanceResult(w, r, claims, t, err)
}

func (s *Server) handleAddTransaction(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.caller(w, r)
	if !ok {
		return
	}
	var t Transaction
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := json.NewDecoder(r.Body).Decode(&t); err != nil { // Casdoor clients send more fields: ignored
		envelope(w, 400, false, "Invalid JSON body: "+err.Error(), nil)
		return
	}
	t.Owner, t.User = splitUser(t.User, t.Owner)
	if !adminOf(claims, t.Owner) {
		envelope(w, 403, false, "You are not an admin of this organization.", nil)
		return
	}
	out, err := s.AddTransaction(r.Context(), t)
	s.balanceResult(w, r, claims, out, err)
}

func (s *Server) balanceResult(w http.ResponseWriter, r *http.Request, claims map[string]any, t *Transaction, err error) {
	switch {
	case err == nil:
		s.adminAuditClaims(r, claims, "balance", t.Owner, fmt.Sprintf("user=%s amount=%.2f balance=%.2f name=%s", t.User, t.Amount, t.Balance, t.Name))
		envelope(w, 200, true, "", t)
	case errors.Is(err, ErrNotFound):
		envelope(w, 404, false, "The user does not exist.", nil)
	case errors.Is(err, ErrInsufficientBalance):
		envelope(w, 400, false, "Insufficient balance.", nil)
	default:
		s.adminError(w, err)
	}
}

func (s *Server) handleGetTransactions(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.caller(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	org, user := q.Get("owner"), q.Get("user")
	if org == "" {
		org, _ = claims["owner"].(string)
	}
	if r.URL.Path == PathGetUserTransactions {
		org, user = splitUser(user, org)
		if user == "" {
			envelope(w, 400, false, "user is required.", nil)
			return
		}
	}
	sub, _ := claims["sub"].(string)
	if !adminOf(claims, org) && (user == "" || sub != org+"/"+user) {
		envelope(w, 403, false, "You may only read your own transactions.", nil)
		return
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	list, err := s.Transactions(r.Context(), org, user, limit)
	s.adminResult(w, list, err)
}

// account is the data of get-account: the caller's own user record.
type account struct {
	Owner         string    `json:"owner"`
	Name          string    `json:"name"`
	DisplayName   string    `json:"displayName"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"emailVerified"`
	IsAdmin       bool      `json:"isAdmin"`
	IsGlobalAdmin bool      `json:"isGlobalAdmin,omitempty"`
	Roles         []string  `json:"roles"`
	Orgs          []OrgRole `json:"orgs"`
	Balance       float64   `json:"balance"`
	Currency      string    `json:"balanceCurrency"`
}

func (s *Server) handleGetAccount(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.caller(w, r)
	if !ok {
		return
	}
	sub, _ := claims["sub"].(string)
	org, name, _ := strings.Cut(sub, "/")
	u, err := s.User(r.Context(), org, name)
	if errors.Is(err, ErrNotFound) {
		envelope(w, 404, false, "The token's subject is not a user.", nil)
		return
	}
	if err != nil {
		s.adminError(w, err)
		return
	}
	o, _ := s.Org(r.Context(), org)
	writeJSON(w, 200, map[string]any{"status": "ok", "msg": "", "sub": sub, "name": u.Username,
		"data": account{Owner: u.Org, Name: u.Username, DisplayName: u.DisplayName, Email: u.Email, EmailVerified: u.EmailVerified,
			IsAdmin: u.IsAdmin, IsGlobalAdmin: u.IsGlobalAdmin, Roles: u.Roles, Orgs: u.memberships(), Balance: fromCents(u.BalanceCents), Currency: "USD"},
		"data2": o})
}
