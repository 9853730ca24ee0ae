# Base — build and test entry points. `make test` is the one command that
# installs what the tests need and runs the whole suite (CI runs exactly it).

GO       ?= go
export CGO_ENABLED ?= 0

.PHONY: test deps vet unit build lambda images serve fuzz bench

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

# lambda builds the AWS Lambda deployment packages (provided.al2023,
# -tags lambda.norpc) for both architectures: bin/base-lambda-arm64.zip and
# bin/base-lambda-x86_64.zip, the names Lambda's `architecture` uses (about
# 8 MB each). The file time is fixed, so the same binary gives the same zip
# and does not redeploy; a zip over the 15 MB budget fails the target.
lambda:
	@mkdir -p bin
	@set -e; for arch in arm64 amd64; do \
	  name=$$arch; [ $$arch = amd64 ] && name=x86_64; \
	  dir=$$(mktemp -d); \
	  GOOS=linux GOARCH=$$arch $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $$dir/bootstrap ./cmd/base-lambda; \
	  touch -t 198001010000 $$dir/bootstrap; \
	  rm -f bin/base-lambda-$$name.zip; \
	  (cd $$dir && zip -q -X -9 $(CURDIR)/bin/base-lambda-$$name.zip bootstrap); \
	  rm -rf $$dir; \
	  size=$$(wc -c < bin/base-lambda-$$name.zip); \
	  echo "bin/base-lambda-$$name.zip: $$size bytes"; \
	  [ $$size -le 15000000 ] || { echo "bin/base-lambda-$$name.zip is over the 15 MB budget"; exit 1; }; \
	done

# images builds the realtime hub and Cloud Run images without Docker
# (docker-archive tarballs in bin/; IMAGE_ARCH=arm64 for Graviton/Axion).
IMAGE_ARCH ?= amd64
images:
	@mkdir -p bin
	$(GO) run ./cmd/mkimage -cmd ./cmd/realtime-hub -arch $(IMAGE_ARCH) -tag base-hub:latest -o bin/base-hub-$(IMAGE_ARCH).tar
	$(GO) run ./cmd/mkimage -cmd ./cmd/base-cloudrun -arch $(IMAGE_ARCH) -tag base-cloudrun:latest -o bin/base-cloudrun-$(IMAGE_ARCH).tar

serve:
	$(GO) run ./cmd/base serve

# fuzz runs every fuzz target for FUZZTIME each (default 60s).
FUZZTIME ?= 60s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)
