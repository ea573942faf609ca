# ropewalk — build, test, sanitize, bench.
#   make            ./run and the tools
#   make test       the test suite (unit, golden vs ../shared/refs, end-to-end, bad inputs)
#   make sanitize   the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-portable  the same suite on the portable C kernels (no AVX2 / F16C)
#   make test-avx2  the same suite on the AVX2 kernels alone (x86-64-v3: no AVX-512 VNNI
#                   integer tiles), for machines whose -march=native builds only the latter
#   make tsan       the thread pool's, attention's, the decoder's golden and the quantised
#                   products' tests under ThreadSanitizer
#   make bench      speed figures (never pass/fail); LLAMA_BENCH=... adds llama.cpp's, per type
#   make demo       the README's first command: deps, build, generation, RoPE-mode perplexity

CC       ?= cc
CXX      ?= c++
BUILD    ?= build
OPT      ?= -O2 -march=native
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -fopenmp-simd -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
            -pthread $(shell pkg-config --cflags openblas 2>/dev/null)
CXXFLAGS += -std=c++17 $(OPT) -g -Wall -Wextra
LDLIBS   += $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas) \
            -lsentencepiece -lstdc++ -lpthread -lm

LIB_C    := $(wildcard util/*.c engine/*.c models/*.c tokenizer/*.c)
LIB_CXX  := $(wildcard tokenizer/*.cc)
LIB_OBJ  := $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cc=$(BUILD)/%.o)
# ./run is tools/run.c over the modules tools/run_*.c (also linked into the tests)
RUN_C    := $(wildcard tools/run_*.c)
RUN_OBJ  := $(RUN_C:%.c=$(BUILD)/%.o)
TOOLS    := $(patsubst tools/%.c,$(BUILD)/tools/%,$(filter-out tools/run.c $(RUN_C),$(wildcard tools/*.c)))
TEST_C   := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_C:%.c=$(BUILD)/%.o)
# test data: the Llama 3 vocabulary, kept compressed in the repository
# (tests/llama3/make_reference.sh made it), and a Llama-3-shaped model of random weights
# made from it by the project's own tool (the same bytes on every machine: llama.cpp's
# figures in tests/llama3/llamacpp.json were measured on that file)
TEST_DATA := tests/llama3/llama3-vocab.gguf tests/llama3/llama3-tiny.gguf tests/qwen2/qwen2-tiny.gguf
LLAMA3_TINY_FLAGS := --vocab-from tests/llama3/llama3-vocab.gguf --dim 128 --hidden 384 \
    --layers 2 --heads 8 --kv-heads 2 --freq-base 500000 --rope-freqs llama3 --tied \
    --type q8_0 --stddev 0.2 --context 8192 --seed 3
# Qwen2's shape of the same: qwen2.* keys, random q/k/v biases, half-split RoPE pairs, the
# "qwen2" pre-tokenizer (digits one by one) over the Llama 3 vocabulary
QWEN2_TINY_FLAGS := --arch qwen2 --pre qwen2 --vocab-from tests/llama3/llama3-vocab.gguf \
    --dim 128 --hidden 384 --layers 2 --heads 8 --kv-heads 2 --freq-base 1000000 --tied \
    --type q8_0 --stddev 0.2 --context 4096 --seed 5
RUN      := $(if $(filter build,$(BUILD)),run,$(BUILD)/run)

.PHONY: all deps test test-portable test-avx2 sanitize tsan bench demo passkey guide clean
all: $(RUN) $(BUILD)/run_tests $(TOOLS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libropewalk.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(RUN): $(BUILD)/tools/run.o $(RUN_OBJ) $(BUILD)/libropewalk.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/tools/%.o $(BUILD)/libropewalk.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/run_tests: $(TEST_OBJ) $(RUN_OBJ) $(BUILD)/libropewalk.a | $(TEST_DATA)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

tests/llama3/llama3-vocab.gguf: tests/llama3/llama3-vocab.gguf.gz
	gunzip -c $< > $@.tmp && mv $@.tmp $@

tests/llama3/llama3-tiny.gguf: tests/llama3/llama3-vocab.gguf $(BUILD)/tools/make_random_model
	$(BUILD)/tools/make_random_model $@.tmp $(LLAMA3_TINY_FLAGS) && mv $@.tmp $@

tests/qwen2/qwen2-tiny.gguf: tests/llama3/llama3-vocab.gguf $(BUILD)/tools/make_random_model
	@mkdir -p tests/qwen2
	$(BUILD)/tools/make_random_model $@.tmp $(QWEN2_TINY_FLAGS) && mv $@.tmp $@

deps:
	./tools/install_deps.sh

test: deps
	$(MAKE) $(RUN) $(BUILD)/run_tests
	RUN_BIN=./$(RUN) ./$(BUILD)/run_tests $(TEST_FILTER)

SAN_FLAGS := -O1 -march=native -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
sanitize: deps
	$(MAKE) BUILD=build/san OPT="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	    build/san/run build/san/run_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 TEST_QUICK=1 \
	    RUN_BIN=./build/san/run ./build/san/run_tests $(TEST_FILTER)

# The lock-free chunk hand-out of the pool (threads.c) and the attention and quantised-matmul
# paths that run on it, under ThreadSanitizer (the whole suite takes minutes there; these take
# seconds).
tsan: deps
	$(MAKE) BUILD=build/tsan OPT="-O1 -march=native -fsanitize=thread" LDFLAGS="-fsanitize=thread" \
	    build/tsan/run build/tsan/run_tests
	TSAN_OPTIONS=halt_on_error=1 TEST_QUICK=1 RUN_BIN=./build/tsan/run ./build/tsan/run_tests parallel_for
	TSAN_OPTIONS=halt_on_error=1 TEST_QUICK=1 RUN_BIN=./build/tsan/run ./build/tsan/run_tests attention.
	TSAN_OPTIONS=halt_on_error=1 TEST_QUICK=1 RUN_BIN=./build/tsan/run ./build/tsan/run_tests engine_golden.
	TSAN_OPTIONS=halt_on_error=1 TEST_QUICK=1 RUN_BIN=./build/tsan/run ./build/tsan/run_tests quantised

# The portable C kernels (no -march=native, so no AVX2/F16C paths) through the same suite.
test-portable: deps
	$(MAKE) BUILD=build/portable OPT="-O2" build/portable/run build/portable/run_tests
	TEST_QUICK=1 RUN_BIN=./build/portable/run ./build/portable/run_tests $(TEST_FILTER)

# The AVX2 kernels and the sgemm path of quantised weights, where -march=native would pick
# the AVX-512 VNNI tiles instead (qgemm.c).
test-avx2: deps
	$(MAKE) BUILD=build/avx2 OPT="-O2 -march=x86-64-v3" build/avx2/run build/avx2/run_tests
	TEST_QUICK=1 RUN_BIN=./build/avx2/run ./build/avx2/run_tests $(TEST_FILTER)

# With LLAMA_BENCH=path/to/llama-bench, also ./run against llama.cpp on the same files
# (tools/bench_vs_llamacpp.sh: VS_ROUNDS rounds alternated, medians, GB/s and GFLOP/s against
# tools/membw's limits): the Llama-3.2-1B shape in F16, Q8_0, Q4_0, Q4_K_M, Q6_K and the 110M
# one in F32 and Q8_0, then decode at depth 0..32k on 1B Q4_K_M. LLAMA_QUANTIZE=path makes
# the K-quant files with llama-quantize. VS_TYPES="110M-q5_1 ..." picks other files.
VS_TYPES ?= 1B-f16 1B-q8_0 1B-q4_0 1B-q4_k_m 1B-q6_k 110M-f32 110M-q8_0
bench: all
	./tools/bench.sh
	if [ -n "$(LLAMA_BENCH)" ]; then VS_MODELS="$(VS_TYPES)" VS_ROUNDS=$${VS_ROUNDS:-3} \
	    ./tools/bench_vs_llamacpp.sh; fi

demo:
	./tools/demo.sh

# Passkey retrieval of the default model: 7 modes x 5 contexts x 5 depths, PASSKEY_TRIALS a
# cell, heat maps and tables into docs/guide/passkey (tools/passkey_sweep.sh).
PASSKEY_TRIALS ?= 10
passkey: all
	TRIALS=$(PASSKEY_TRIALS) ./tools/passkey_sweep.sh models/kjv.gguf docs/guide/passkey

# docs/GUIDE.md with every table and picture regenerated (tools/guide.sh, ~10 min on 2 cores;
# its passkey grid runs GUIDE_PASSKEY_TRIALS a cell).
GUIDE_PASSKEY_TRIALS ?= 4
guide: deps all
	PASSKEY_TRIALS=$(GUIDE_PASSKEY_TRIALS) ./tools/guide.sh

clean:
	rm -rf build run

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing (libFuzzer, clang): make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="gguf args"] ----
# Builds the library with -fsanitize=fuzzer-no-link,address,undefined in build/fuzz, one
# harness per target from tests/fuzz/, seeds from tests/fuzz/make_corpus.sh, then runs the
# targets one after another (one process each: the machine is shared) for FUZZ_SECONDS each.
# New inputs go to build/fuzz/corpus/TARGET, crashes to build/fuzz/crashes/TARGET-*.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= gguf llama2c tokenizer_bin encode spm bpe args
FUZZ_CC      ?= clang
FUZZ_CXX     ?= clang++
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -O1 -march=native -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_RUN_OBJ := $(RUN_C:%.c=$(FUZZ_DIR)/%.o)

.PHONY: fuzz fuzz-build
fuzz-build:
	$(MAKE) BUILD=$(FUZZ_DIR) CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) \
	    OPT="$(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-pass-failed" \
	    $(FUZZ_DIR)/libropewalk.a $(FUZZ_RUN_OBJ)
	for t in $(FUZZ_TARGETS); do \
	    $(FUZZ_CC) -std=c11 -g -Wall -Wextra $(FUZZ_SAN) -fsanitize=fuzzer -pthread \
	        -c tests/fuzz/fuzz_$$t.c -o $(FUZZ_DIR)/fuzz_$$t.o && \
	    $(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -pthread $(FUZZ_DIR)/fuzz_$$t.o $(FUZZ_RUN_OBJ) \
	        $(FUZZ_DIR)/libropewalk.a -o $(FUZZ_DIR)/fuzz_$$t $(LDLIBS) || exit 1; \
	done

fuzz: fuzz-build tests/llama3/llama3-vocab.gguf
	rm -rf $(FUZZ_DIR)/seeds && tests/fuzz/make_corpus.sh $(FUZZ_DIR)/seeds
	mkdir -p $(FUZZ_DIR)/crashes
	failed=""; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crashes/$$t- \
	        $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/seeds/$$t > $(FUZZ_DIR)/$$t.log 2>&1 || failed="$$failed $$t"; \
	    grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|fuzz property|Test unit written)" \
	        $(FUZZ_DIR)/$$t.log; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed (see $(FUZZ_DIR)/crashes)"; exit 1; fi; \
	echo "fuzz: no crash in $(FUZZ_TARGETS)"
