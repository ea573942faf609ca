/* harness.h — the project's own test harness: suites register themselves, each test runs
 * in a forked child (a crash is a failure, not the end of the run), and the runner ends with
 * "N passed, N failed, N skipped".  Helpers for files in ../shared, temporary files and
 * running ./run as a user would. */
#ifndef ROPEWALK_HARNESS_H
#define ROPEWALK_HARNESS_H

#include <stddef.h>

typedef struct TestContext TestContext;
typedef void (*TestFn)(TestContext *t);
typedef struct {
    const char *name;
    TestFn fn;
} TestCase;

void test_register_suite(const char *suite, const TestCase *cases);
/* Put at the end of a test file: TEST_SUITE(rope, rope_tests) */
#define TEST_SUITE(suite, cases) \
    __attribute__((constructor)) static void register_##suite(void) { \
        test_register_suite(#suite, cases); \
    }

void test_fail_at(TestContext *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void test_skip(TestContext *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int test_failed(const TestContext *t);

#define CHECK(t, cond, ...) \
    do { if (!(cond)) test_fail_at((t), __FILE__, __LINE__, __VA_ARGS__); } while (0)
#define REQUIRE(t, cond, ...) \
    do { if (!(cond)) { test_fail_at((t), __FILE__, __LINE__, __VA_ARGS__); return; } } while (0)
#define SKIP(t, ...) do { test_skip((t), __VA_ARGS__); return; } while (0)

/* Path of a file under ../shared (or $ROPEWALK_SHARED); NULL if it does not exist.
 * Static storage, one per call slot (up to 8 live at once). */
const char *shared_path(const char *relative);
/* Convenience: SKIP the test with a clear message when a shared file is absent. */
#define REQUIRE_SHARED(t, var, relative) \
    const char *var = shared_path(relative); \
    if (!var) SKIP((t), "../shared/%s is absent", (relative))

/* A fresh path inside this run's temporary directory. Static storage, one per call slot
 * (up to 8 live at once). */
const char *temp_path(const char *name);

/* Writes size bytes to path; 0 on success. */
int write_file(const char *path, const void *data, size_t size);
/* Reads a whole file (NUL-terminated); caller frees; NULL on error. */
char *read_file(const char *path, size_t *size);

/* FNV-1a (64 bits) of a whole file as 16 hex digits in hex[17], as the reference scripts
 * hash the files they measured; 0, or -1 when the file cannot be read. */
int file_fnv1a64(const char *path, char hex[17]);

/* Path of the ./run binary under test ($RUN_BIN, default ./run). */
const char *run_binary(void);
/* Runs argv (argv[0] is the program), stdin from /dev/null, with a time limit in seconds.
 * Captures stdout and stderr (NUL-terminated, truncated to their sizes). Returns the exit
 * code, 128 + signal number if killed by a signal, or -1 if it could not start or timed out. */
int run_command(const char *const argv[], char *out, size_t out_size, char *err_text,
                size_t err_size, int timeout_seconds);

/* True under `make sanitize` (TEST_QUICK set): the few tests whose cost is quadratic in a
 * long context run a shorter or smaller case, so the instrumented suite stays in CI's time.
 * The full cases run in `make test`. */
int test_quick(void);

/* Relative difference |a-b| / max(|b|, tiny). */
double rel_diff(double a, double b);

#endif
