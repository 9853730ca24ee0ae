// Package handler is Base's HTTP API: one stateless net/http handler serving
// every /v1 route (and the /api alias the PocketBase SDK uses). It knows no
// listener, environment or cloud SDK; adapters run it on a platform and cmd
// wires its Config.
//
// Each request resolves an identity and an organization, acquires that
// org's database from the store, and runs the record semantics of package
// records under the collection rules. Nothing that correctness depends on
// survives between requests: the per-org schema snapshot is cached, but
// revalidated against the org's schema version on every request.
package handler
