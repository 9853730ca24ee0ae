# Base — build and test entry points. `make test` is the one command that
# installs what the tests need and runs the whole suite (CI runs exactly it).

GO       ?= go
export CGO_ENABLED ?= 0

.PHONY: test deps vet unit build serve fuzz bench

test: deps vet unit

# deps installs what the test suite needs beyond Go modules: the npm
# packages of the end-to-end SDK suite.
deps:
	./scripts/test-deps.sh

vet:
	@test -z "$$(gofmt -l . | grep -v '^bench/results/')" || (gofmt -l .; echo 'gofmt needed'; exit 1)
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 30m ./...

build:
	$(GO) build -trimpath -ldflags='-s -w' -o bin/base ./cmd/base

serve:
	$(GO) run ./cmd/base serve

# fuzz runs every fuzz target for FUZZTIME each (default 60s).
FUZZTIME ?= 60s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)
