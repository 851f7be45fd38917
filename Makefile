# The README's two commands: `make run` and `make test`. Both install the
# Debian packages they need first (.ci/install-deps does nothing when present).
SWIFT ?= swift
DB ?= quickstart.lcdb
# Release builds link the Swift runtime and Foundation statically: the binary
# runs when copied anywhere, and starts in a third of the time; linked without
# PIE, so the loader has almost no relocations to apply at start-up.
RELEASE = -c release --static-swift-stdlib -Xlinker -no-pie
# ... and link OpenBLAS statically: a pkg-config file in .build points the
# link at libopenblas.a (debug builds and tests use the system's openblas.pc).
# Loading the shared library costs about 2.5 ms of every start.
STATIC_BLAS = $(CURDIR)/.build/static-openblas

.PHONY: run test deps build release bench clean migrations static-openblas

deps:
	@.ci/install-deps

build: deps
	$(SWIFT) build

static-openblas: deps
	@mkdir -p $(STATIC_BLAS)
	@ln -sf "$$(pkg-config --variable=libdir openblas)/libopenblas.a" $(STATIC_BLAS)/libopenblas.a
	@printf 'Name: openblas\nDescription: OpenBLAS, static (lcdb release builds)\nVersion: 0\nCflags: %s\nLibs: -L%s -l:libopenblas.a -l:libgfortran.so.5 -lpthread -lm\n' \
		"$$(pkg-config --cflags openblas)" "$(STATIC_BLAS)" > $(STATIC_BLAS)/openblas.pc

release: deps static-openblas
	PKG_CONFIG_PATH=$(STATIC_BLAS) $(SWIFT) build $(RELEASE)

# The tour into an on-disk database, then the shell on it (on a terminal).
run: release
	rm -f $(DB) $(DB)-wal $(DB)-shm
	.build/release/lcdb --no-init $(DB) samples/quickstart.lc
	@if [ -t 0 ]; then .build/release/lcdb $(DB); else echo "(no terminal: open the shell with .build/release/lcdb $(DB))"; fi

# The tests run the debug build and, for what users run (the pseudo-terminal
# session, memory-capped statements, the samples), the release binary too.
test: deps release
	LCDB_RELEASE_BINARY=$(CURDIR)/.build/release/lcdb $(SWIFT) test

bench: release
	Benchmarks/run

clean:
	rm -rf .build

migrations:
	.ci/embed-migrations
