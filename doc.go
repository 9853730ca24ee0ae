// Package base holds Base's domain types: collections and their fields,
// identities, change events and the error kinds every layer reports.
//
// Base is a backend-as-a-service that speaks the PocketBase wire protocol
// under /v1. The packages below this one do the work: filter parses the
// filter language, rules compiles it to SQL, store keeps per-organization
// databases, records implements record semantics, handler is the stateless
// HTTP API and the adapters run it on a platform. This package does no I/O.
package base
