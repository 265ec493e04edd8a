# Quick start (see README.md):
#   make build   builds the default distribution (monogres build)
#   make test    installs what the tests need on Debian 12 and runs them
GO ?= go

.PHONY: build test setup check bench

build:
	$(GO) run ./cmd/monogres build

setup:
	bash .ci/setup

test: setup
	$(GO) run ./cmd/monogres lock --check
	$(GO) test -timeout 80m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...
