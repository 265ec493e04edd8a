# Quick start (see README.md):
#   make build   builds the default distribution (monogres build)
#   make test    installs what the tests need on Debian 12 and runs both tiers (CI)
#   make test-short  the fast unit tier only (go test -short)
#   make catalog-check  builds every fetchable catalog extension, writes docs/extensions-status.md
GO ?= go

.PHONY: build test test-short setup check bench catalog-check

build:
	$(GO) run ./cmd/monogres build

setup:
	bash .ci/setup

test: setup
	# lock --check verifies every deb/* pin against the signed Debian index
	# offline; the pinned index files (~17 MB) go into the store first.
	$(GO) run ./cmd/monogres fetch 'index/*'
	$(GO) run ./cmd/monogres lock --check
	# Tests get their Postgres parents from the shared test store
	# ($$MONOGRES_TEST_CACHE/store) through buildtest.SharedPostgres (or the
	# CLI), building a missing one, so no test relies on package order.
	# -p 1 runs one package at a time: two packages would otherwise build
	# the same missing parent at once, and 2 cores gain nothing from it.
	$(GO) test -p 1 -timeout 85m ./...

test-short:
	$(GO) test -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

# Every extension of monogres.catalog.json this machine can fetch, built
# against postgres~15.18~regular~amd64 (or 18.6), smoke-tested; writes
# docs/extensions-status.md (see scripts/catalog-check).
catalog-check:
	bash scripts/catalog-check
