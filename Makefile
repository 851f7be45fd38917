# The README's two commands: `make run` and `make test`. Both install the
# Debian packages they need first (.ci/install-deps does nothing when present).
SWIFT ?= swift
DB ?= quickstart.lcdb
# Release builds link the Swift runtime and Foundation statically: the binary
# runs when copied anywhere, and starts in a third of the time; linked without
# PIE, so the loader has almost no relocations to apply at start-up.
RELEASE = -c release --static-swift-stdlib -Xlinker -no-pie

.PHONY: run test deps build release bench clean migrations

deps:
	@.ci/install-deps

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE)

# The tour into an on-disk database, then the shell on it (on a terminal).
run: release
	rm -f $(DB) $(DB)-wal $(DB)-shm
	.build/release/lcdb --no-init $(DB) samples/quickstart.lc
	@if [ -t 0 ]; then .build/release/lcdb $(DB); else echo "(no terminal: open the shell with .build/release/lcdb $(DB))"; fi

test: deps
	$(SWIFT) test

bench: release
	Benchmarks/run

clean:
	rm -rf .build

migrations:
	.ci/embed-migrations
