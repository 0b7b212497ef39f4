# The two commands (docs/design.md §1): `make run` and `make test`. `make bench` for figures.
# `make package`: the zlh-agent and zlh-api .deb files in build/ (docs/operations.md).
PRESET ?= release
BUILD_DIR := $(if $(filter release,$(PRESET)),build,build-$(PRESET))
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test bench package format format-check clean fuzz

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# `make run ZLH_MINECRAFT=1.21.4` also imports that Minecraft server (needs
# internet; ZLH_MINECRAFT_VARIANT=paper|purpur|fabric): make exports
# command-line variables to the script.
run: build
	@./scripts/run-local.sh

test: build format-check
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) -L 'unit|integration|e2e|fuzz'

bench: build
	@./bench/run.sh
	@./bench/install.sh
	@./bench/console.sh
	@./bench/upload.sh
	@./bench/backup.sh
	@./bench/api.sh
	@./bench/ide.sh
	@./bench/ide_workbench.sh
	@./bench/portal.sh
	@./bench/lxc.sh
	@./bench/noisy.sh
	@./bench/stats.sh
	@./bench/replicas.sh

# The libFuzzer harnesses (clang `fuzz` preset, build-fuzz/), each for
# FUZZ_SECONDS against a scratch copy of its corpus; FUZZ_MERGE=1 writes the
# minimized corpus back (docs/testing.md). `test` only replays the corpora.
FUZZ_SECONDS ?= 600
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) ./scripts/fuzz.sh

# Always the release preset (build/), whatever PRESET says; not part of `test`.
package: deps
	@cmake --preset release >/dev/null
	@cmake --build build -j $(JOBS)
	@cd build && cpack -G DEB

# clang-format 14 (Debian 12), .clang-format; `make test` runs format-check.
format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format-14 -i

format-check: deps
	@./scripts/check-format.sh

clean:
	@rm -rf build build-debug build-asan build-fuzz
