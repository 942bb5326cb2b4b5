# Passerelle: the two commands of the README, and the pieces they are made of.
#   make demo    install what is missing, build (release), run the two-site demo
#   make test    install what is missing (Debian packages, npm ci), check formatting, build
#                (dev: ASan+UBSan, -Werror), ctest (browser tests included)
#   make bench   benchmarks side by side with R; writes docs/benchmarks.md
.PHONY: all deps build build-dev demo test format format-check bench fuzz clean

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
	@cmake --build --preset release --target fit_bench ledger_bench
	@bench/run

clean:
	@rm -rf build demo-out bench-out

# Bounded, reproducible fuzzing of every parser (clang, libFuzzer): fixed seed and run count; new
# inputs go to build/fuzz/corpus, the committed seeds stay as they are.
fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz --target csv_fuzz dictionary_fuzz policy_fuzz formula_fuzz \
	  protocol_fuzz
	@for t in csv dictionary policy formula protocol; do \
	  mkdir -p build/fuzz/corpus/$$t; \
	  out=$$(build/fuzz/tests/fuzz/$${t}_fuzz -seed=1 -runs=$${FUZZ_RUNS:-100000} -max_len=4096 \
	    build/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>&1); \
	  echo "$$out" | grep -a -E '^Done|ERROR|SUMMARY'; \
	  if echo "$$out" | grep -a -q ERROR || ! echo "$$out" | grep -a -q '^Done'; then \
	    echo "fuzz: $$t failed"; exit 1; fi; \
	done
