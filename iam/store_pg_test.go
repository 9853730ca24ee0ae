package iam_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/postgres"
	"github.com/hanzoai/base/store/sqlite"
)

// pgTestURL, when set, makes openTestStore open PostgreSQL stores on that
// server instead of SQLite. BASE_TEST_PG_URL sets it for the whole package
// run (every test on PostgreSQL); TestPostgresSuite sets it for its
// subtests. Tests of this package are sequential, so swapping it while a
// test runs is safe (parallel tests resume only after the sequential ones).
var pgTestURL = os.Getenv("BASE_TEST_PG_URL")

var pgPrefixes atomic.Int64

// openTestStore opens the store of one test IAM: SQLite in a temporary
// directory, or a fresh schema prefix on the PostgreSQL server of
// pgTestURL (as isolated as a separate database).
func openTestStore(t testing.TB) store.Store {
	t.Helper()
	var st store.Store
	var err error
	if pgTestURL != "" {
		st, err = openPGStore(pgTestURL, newPGPrefix())
	} else {
		st, err = sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newPGPrefix is a fresh schema prefix (≤ 20 bytes), unique to this
// process and call, so tests sharing a server (BASE_TEST_PG_URL) never
// see each other's state.
func newPGPrefix() string {
	return fmt.Sprintf("iam%d_%d_", os.Getpid()%1000000, pgPrefixes.Add(1))
}

// openPGStore opens a PostgreSQL store on url whose org schemas are
// prefixed with prefix: two stores with one prefix share their state (two
// IAM instances on one database).
func openPGStore(url, prefix string) (*postgres.Store, error) {
	return postgres.Open(postgres.Config{URL: url, SchemaPrefix: prefix, MaxConns: 8})
}

// pgURL returns a PostgreSQL server for tb: pgTestURL when set, else a
// throwaway cluster (skipped when PostgreSQL is not installed, failed
// under CI).
func pgURL(tb testing.TB) string {
	tb.Helper()
	if pgTestURL != "" {
		return pgTestURL
	}
	return testsrv.Postgres(tb).URL
}

// TestPostgresSuite runs the server tests whose state handling differs most
// between engines — codes, refresh rotation and reuse, throttling, device
// code, revocation, key rotation, the admin API and balances — against a
// real PostgreSQL.
func TestPostgresSuite(t *testing.T) {
	runOnPostgres(t, []namedTest{
		{"AuthorizationCodeFlow", TestAuthorizationCodeFlow}, // includes refresh rotation and reuse detection
		{"NegativeCodeRedemption", TestNegativeCodeRedemption},
		{"LoginThrottling", TestLoginThrottling},
		{"DeviceFlow", TestDeviceFlow},
		{"RevokeAndLogout", TestRevokeAndLogout},
		{"ClientCredentialsAndKeyRotation", TestClientCredentialsAndKeyRotation},
		{"InitDataCreateOnly", TestInitDataCreateOnly},
		{"AdminAuthz", TestAdminAuthz},
		{"AdminOrgUpdateAndDelete", TestAdminOrgUpdateAndDelete},
		{"AdminApplications", TestAdminApplications},
		{"AdminUsers", TestAdminUsers},
		{"AdminRoles", TestAdminRoles},
		{"BalanceVerbs", TestBalanceVerbs},
		{"BalanceConcurrentAdds", TestBalanceConcurrentAdds},
		{"TokenEndpointErrors", TestTokenEndpointErrors},
		{"DeviceFlowRefusals", TestDeviceFlowRefusals},
		{"PasswordChange", TestPasswordChange},
		{"AuditRows", TestAuditRows},
		{"ErrorMasking", TestErrorMasking},
		{"BootstrapPlatformAdmin", TestBootstrapPlatformAdmin},
		{"AMRDeviceAndMigration", TestAMRDeviceAndMigration}, // ALTER TABLE … ADD COLUMN on PostgreSQL
	})
}

type namedTest struct {
	name string
	test func(*testing.T)
}

// runOnPostgres runs tests as subtests with the IAM on a PostgreSQL
// started for them (skipped when the whole package already runs on
// BASE_TEST_PG_URL, or with -short).
func runOnPostgres(t *testing.T, tests []namedTest) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	if pgTestURL != "" {
		t.Skip("the whole package already runs on BASE_TEST_PG_URL")
	}
	pgTestURL = pgURL(t)
	t.Cleanup(func() { pgTestURL = "" })
	for _, tc := range tests {
		t.Run(tc.name, tc.test)
	}
}
