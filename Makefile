# The README's two commands: `make run` and `make test`. Both install the
# Debian packages they need first (.ci/install-deps does nothing when present).
SWIFT ?= swift
DB ?= quickstart.lcdb

.PHONY: run test deps build release bench clean migrations

deps:
	@.ci/install-deps

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: release
	.build/release/lcdb

test: deps
	$(SWIFT) test

bench: release
	Benchmarks/run

clean:
	rm -rf .build

migrations:
	.ci/embed-migrations
