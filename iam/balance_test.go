package iam_test

import (
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/hanzoai/base/iam"
)

func TestBalanceAPIOffByDefault(t *testing.T) {
	f := newAdminFixture(t)
	for _, c := range []struct{ method, path string }{
		{"POST", iam.PathAddBalance}, {"POST", iam.PathAddTransaction}, {"GET", iam.PathGetTransactions},
		{"GET", iam.PathGetUserTransactions}, {"GET", iam.PathGetAccount},
	} {
		st, m := f.call(t, c.method, c.path, f.root, map[string]any{"user": "acme/bob", "amount": 1})
		if st != 404 || m["code"] != float64(404) {
			t.Errorf("%s %s with the balance API off: %d %v, want the JSON 404", c.method, c.path, st, m)
		}
	}
}

func balanceOn(c *iam.Config) { c.BalanceAPI = true }

// balanceOf is the stored balance of org/user in USD.
func (f *adminFixture) balanceOf(t *testing.T, org, user string) float64 {
	t.Helper()
	u, err := f.User(t.Context(), org, user)
	if err != nil {
		t.Fatal(err)
	}
	return float64(u.BalanceCents) / 100
}

func TestBalanceVerbs(t *testing.T) {
	f := newAdminFixture(t, balanceOn)
	// Authorization: writes are admin-only, of the user's org.
	for _, c := range []struct {
		token string
		body  map[string]any
		want  int
	}{
		{"", map[string]any{"user": "acme/bob", "amount": 5}, 401},
		{f.bob, map[string]any{"user": "acme/bob", "amount": 5}, 403},
		{f.bea, map[string]any{"user": "acme/bob", "amount": 5}, 403},
		{f.alice, map[string]any{"user": "beta/bea", "amount": 5}, 403},
		{f.alice, map[string]any{"user": "acme/nobody", "amount": 5}, 404},
		{f.alice, map[string]any{"user": "acme/bob", "amount": 0}, 400},
		{f.alice, map[string]any{"user": "acme/bob", "amount": 5, "currency": "EUR"}, 400},
	} {
		if st, m := f.call(t, "POST", iam.PathAddBalance, c.token, c.body); st != c.want {
			t.Errorf("add-balance %v: %d %v, want %d", c.body, st, m, c.want)
		}
	}
	if b := f.balanceOf(t, "acme", "bob"); b != 0 {
		t.Fatalf("refused changes moved the balance to %v", b)
	}
	m := f.ok(t, "POST", iam.PathAddBalance, f.alice, map[string]any{"user": "acme/bob", "amount": 10.25})
	if d := m["data"].(map[string]any); d["balance"] != 10.25 || d["amount"] != 10.25 || d["owner"] != "acme" || d["user"] != "bob" {
		t.Fatalf("add-balance answer %v", m)
	}
	f.ok(t, "POST", iam.PathAddBalance, f.root, map[string]any{"owner": "beta", "user": "bea", "amount": 1})
	// A debit beyond the balance is refused whole.
	if st, _ := f.call(t, "POST", iam.PathAddBalance, f.alice, map[string]any{"user": "acme/bob", "amount": -11}); st != 400 {
		t.Errorf("overdraft: %d, want 400", st)
	}
	// add-transaction: Casdoor fields (unknown ones ignored), named, once.
	txn := map[string]any{"owner": "acme", "name": "order-17", "user": "bob", "amount": -3.5, "currency": "USD",
		"category": "usage", "productName": "gpu-hour", "application": "web", "unknownCasdoorField": true}
	m = f.ok(t, "POST", iam.PathAddTransaction, f.alice, txn)
	if d := m["data"].(map[string]any); d["balance"] != 6.75 || d["productName"] != "gpu-hour" || d["createdTime"] == "" {
		t.Fatalf("add-transaction answer %v", m)
	}
	if st, _ := f.call(t, "POST", iam.PathAddTransaction, f.alice, txn); st != 409 {
		t.Errorf("replayed transaction: %d, want 409", st)
	}
	if b := f.balanceOf(t, "acme", "bob"); b != 6.75 {
		t.Fatalf("balance %v, want 6.75", b)
	}

	// Reads.
	m = f.ok(t, "GET", iam.PathGetTransactions+"?owner=acme", f.alice, nil)
	if list := m["data"].([]any); len(list) != 2 || list[0].(map[string]any)["name"] != "order-17" {
		t.Fatalf("get-transactions %v", m["data"])
	}
	if st, _ := f.call(t, "GET", iam.PathGetTransactions+"?owner=acme", f.bob, nil); st != 403 {
		t.Errorf("non-admin get-transactions: %d", st)
	}
	if st, _ := f.call(t, "GET", iam.PathGetTransactions+"?owner=beta", f.alice, nil); st != 403 {
		t.Errorf("other org's transactions: %d", st)
	}
	m = f.ok(t, "GET", iam.PathGetUserTransactions+"?owner=acme&user=bob", f.bob, nil)
	if list := m["data"].([]any); len(list) != 2 {
		t.Errorf("bob's own transactions %v", list)
	}
	if st, _ := f.call(t, "GET", iam.PathGetUserTransactions+"?owner=acme&user=alice", f.bob, nil); st != 403 {
		t.Errorf("bob reads alice's transactions: %d", st)
	}
	m = f.ok(t, "GET", iam.PathGetAccount, f.bob, nil)
	if d := m["data"].(map[string]any); d["balance"] != 6.75 || d["name"] != "bob" || m["sub"] != "acme/bob" {
		t.Errorf("get-account %v", m)
	}
	if st, _ := f.call(t, "GET", iam.PathGetAccount, "", nil); st != 401 {
		t.Errorf("get-account without a token: %d", st)
	}
	if err := f.FlushAudit(t.Context()); err != nil {
		t.Fatal(err)
	}
	entries, _ := f.Audit(t.Context(), "acme", 1000)
	n := 0
	for _, e := range entries {
		if e.Event == "admin.balance" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d balance audit rows, want 2", n)
	}
	// Deleting the user deletes its history with its balance.
	f.ok(t, "DELETE", "/v1/iam/admin/orgs/acme/users/bob", f.alice, nil)
	if list, err := f.Transactions(t.Context(), "acme", "bob", 0); err != nil || len(list) != 0 {
		t.Errorf("transactions of a deleted user: %v %v", list, err)
	}
}

// TestBalanceConcurrentAdds sends 50 add-balance calls at once: none is
// lost, and the balance is the sum of the transaction rows.
func TestBalanceConcurrentAdds(t *testing.T) {
	f := newAdminFixture(t, balanceOn)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, m := f.call(t, "POST", iam.PathAddBalance, f.alice, map[string]any{"user": "acme/bob", "amount": 1.01, "name": fmt.Sprintf("c%d", i)})
			if st != 200 {
				errs <- fmt.Sprintf("call %d: %d %v", i, st, m)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if b := f.balanceOf(t, "acme", "bob"); math.Abs(b-50.50) > 1e-9 {
		t.Fatalf("balance after %d concurrent adds of 1.01: %v, want 50.50", n, b)
	}
	list, err := f.Transactions(t.Context(), "acme", "bob", 1000)
	if err != nil || len(list) != n {
		t.Fatalf("%d transactions, %v", len(list), err)
	}
	var sum float64
	seen := map[float64]bool{}
	for _, tx := range list {
		sum += tx.Amount
		seen[tx.Balance] = true
	}
	if math.Abs(sum-50.50) > 1e-9 || len(seen) != n {
		t.Fatalf("transactions sum to %v with %d distinct running balances", sum, len(seen))
	}
}
