# ropewalk — build, test, sanitize, bench.
#   make            ./run and the tools
#   make test       the test suite (unit, golden vs ../shared/refs, end-to-end, bad inputs)
#   make sanitize   the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      speed figures (never pass/fail)

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
RUN      := $(if $(filter build,$(BUILD)),run,$(BUILD)/run)

.PHONY: all deps test sanitize bench demo clean
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

$(BUILD)/run_tests: $(TEST_OBJ) $(RUN_OBJ) $(BUILD)/libropewalk.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

deps:
	./tools/install_deps.sh

test: deps
	$(MAKE) $(RUN) $(BUILD)/run_tests
	RUN_BIN=./$(RUN) ./$(BUILD)/run_tests $(TEST_FILTER)

SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
sanitize: deps
	$(MAKE) BUILD=build/san OPT="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	    build/san/run build/san/run_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    RUN_BIN=./build/san/run ./build/san/run_tests $(TEST_FILTER)

bench: all
	./tools/bench.sh

clean:
	rm -rf build run

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
