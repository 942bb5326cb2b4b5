# Passerelle: the two commands of the README, and the pieces they are made of.
#   make demo    install what is missing, build (release), run the two-site demo
#   make test    install what is missing (Debian packages, npm ci), check formatting, build
#                (dev: ASan+UBSan, -Werror), ctest (browser tests included)
#   make bench   benchmarks side by side with R; writes docs/benchmarks.md
.PHONY: all deps build build-dev demo test format format-check bench fuzz fuzz-long clean

SOURCES = $(shell git ls-files '*.cc' '*.h' 2>/dev/null)

all: build

deps:
	@scripts/install-deps

# The binary only: the demo needs nothing else (the tests build under the dev preset).
build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release --target passerelle

build-dev: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev

demo: build
	@scripts/demo

test: deps format-check build-dev
	@npm ci --no-audit --no-fund --silent
	@ctest --preset dev

format:
	@clang-format -i $(SOURCES)

format-check: deps
	@clang-format --dry-run --Werror $(SOURCES) && echo "format-check: ok"

bench: build
	@scripts/install-deps --bench
	@cmake --build --preset release --target fit_bench ledger_bench relay hold_connections
	@bench/run

clean:
	@rm -rf build demo-out bench-out

# Fuzzing of every parser that takes text from outside (clang, libFuzzer, ASan+UBSan):
# `make fuzz` is bounded and reproducible (CI); `make fuzz-long` runs each target 10 minutes.
fuzz: deps
	@scripts/fuzz

fuzz-long: deps
	@scripts/fuzz --long
