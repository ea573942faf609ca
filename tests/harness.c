/* harness.c — runner for the registered suites: fork per test, collect verdicts through a
 * pipe, print one line per failure or skip and a closing "N passed, N failed, N skipped". */
#define _GNU_SOURCE
#include "harness.h"
#include "../util/errors.h"
#include "../util/read_file.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SUITES 64

typedef struct {
    const char *name;
    const TestCase *cases;
} Suite;

static struct {
    Suite suites[MAX_SUITES];
    int n_suites;
    char temp_dir[256];
} registry; /* filled by constructors before main; read-only afterwards */

struct TestContext {
    int failures;
    int skipped;
    int report_fd; /* verdict lines to the parent */
};

void test_register_suite(const char *suite, const TestCase *cases) {
    if (registry.n_suites < MAX_SUITES)
        registry.suites[registry.n_suites++] = (Suite){suite, cases};
}

static void report(TestContext *t, const char *kind, const char *msg) {
    char line[1200];
    int n = snprintf(line, sizeof line, "%s %s\n", kind, msg);
    if (n > 0 && write(t->report_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0) {
        /* the parent counts a silent failure anyway */
    }
}

void test_fail_at(TestContext *t, const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++) if (*p == '\n') *p = ' ';
    t->failures++;
    if (t->failures <= 5) report(t, "FAIL", msg);
}

void test_skip(TestContext *t, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t->skipped = 1;
    report(t, "SKIP", msg);
}

int test_failed(const TestContext *t) { return t->failures > 0; }

const char *shared_path(const char *relative) {
    static char slots[8][1024];
    static int next;
    char *path = slots[next++ % 8];
    const char *root = getenv("ROPEWALK_SHARED");
    snprintf(path, sizeof slots[0], "%s/%s", root && *root ? root : "../shared", relative);
    return access(path, R_OK) == 0 ? path : NULL;
}

const char *temp_path(const char *name) {
    static char slots[8][512];
    static int next;
    char *slot = slots[next++ % 8];
    snprintf(slot, sizeof slots[0], "%s/%d-%s", registry.temp_dir, (int)getpid(), name);
    return slot;
}

int write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t written = size ? fwrite(data, 1, size, f) : 0;
    return (fclose(f) == 0 && written == size) ? 0 : -1;
}

char *read_file(const char *path, size_t *size) {
    char err[ERR_LEN];
    return read_whole_file(path, "file", size, err, sizeof err);
}

int file_fnv1a64(const char *path, char hex[17]) {
    size_t size;
    char *bytes = read_file(path, &size);
    if (!bytes) return -1;
    unsigned long long h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < size; i++) h = (h ^ (unsigned char)bytes[i]) * 0x100000001b3ull;
    snprintf(hex, 17, "%016llx", h);
    free(bytes);
    return 0;
}

const char *run_binary(void) {
    const char *bin = getenv("RUN_BIN");
    return bin && *bin ? bin : "./run";
}

static void slurp_fd(int fd, char *buf, size_t size) {
    size_t n = 0;
    if (lseek(fd, 0, SEEK_SET) == 0) {
        ssize_t got;
        while (n + 1 < size && (got = read(fd, buf + n, size - 1 - n)) > 0) n += (size_t)got;
    }
    if (size) buf[n] = 0;
}

static int wait_with_timeout(pid_t pid, int timeout_seconds) {
    int status = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= timeout_seconds) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(2000);
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

int run_command(const char *const argv[], char *out, size_t out_size, char *err_text,
                size_t err_size, int timeout_seconds) {
    FILE *out_file = tmpfile(), *err_file = tmpfile();
    if (!out_file || !err_file) {
        if (out_file) fclose(out_file);
        if (err_file) fclose(err_file);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(fileno(out_file), 1);
        dup2(fileno(err_file), 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int code = pid < 0 ? -1 : wait_with_timeout(pid, timeout_seconds);
    if (out) slurp_fd(fileno(out_file), out, out_size);
    if (err_text) slurp_fd(fileno(err_file), err_text, err_size);
    fclose(out_file);
    fclose(err_file);
    return code;
}

int test_quick(void) {
    const char *quick = getenv("TEST_QUICK");
    return quick && *quick && strcmp(quick, "0") != 0;
}

double rel_diff(double a, double b) {
    double scale = fabs(b) > 1e-30 ? fabs(b) : 1e-30;
    return fabs(a - b) / scale;
}

typedef struct {
    int passed, failed, skipped;
} Tally;

/* Runs one test in a child; the child's verdict lines come through a pipe. */
static void run_one(const char *suite, const TestCase *tc, Tally *tally) {
    int fds[2];
    if (pipe(fds) != 0) { perror("pipe"); exit(2); }
    fflush(NULL);
    struct timespec started, ended;
    clock_gettime(CLOCK_MONOTONIC, &started);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        TestContext t = {0, 0, fds[1]};
        tc->fn(&t);
        _exit(t.failures ? 1 : 0);
    }
    close(fds[1]);
    char buf[8192];
    size_t n = 0;
    ssize_t got;
    while (n + 1 < sizeof buf && (got = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)got;
    buf[n] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &ended);
    double seconds = (double)(ended.tv_sec - started.tv_sec) + 1e-9 * (double)(ended.tv_nsec - started.tv_nsec);
    int skipped = strncmp(buf, "SKIP", 4) == 0;
    int crashed = !WIFEXITED(status);
    int failed = crashed || WEXITSTATUS(status) != 0;
    if (failed) {
        tally->failed++;
        printf("FAIL %s.%s\n", suite, tc->name);
        if (crashed) printf("     killed by signal %d\n", WTERMSIG(status));
    } else if (skipped) {
        tally->skipped++;
        printf("skip %s.%s: %s", suite, tc->name, buf + 5);
        return;
    } else {
        tally->passed++;
        if (getenv("TEST_VERBOSE")) printf("ok   %s.%s (%.2f s)\n", suite, tc->name, seconds);
    }
    for (char *line = strtok(buf, "\n"); line && failed; line = strtok(NULL, "\n"))
        printf("     %s\n", line);
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    snprintf(registry.temp_dir, sizeof registry.temp_dir, "/tmp/ropewalk-tests-XXXXXX");
    if (!mkdtemp(registry.temp_dir)) { perror("mkdtemp"); return 2; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    Tally tally = {0, 0, 0};
    for (int s = 0; s < registry.n_suites; s++) {
        const Suite *suite = &registry.suites[s];
        for (const TestCase *tc = suite->cases; tc->name; tc++) {
            char full[256];
            snprintf(full, sizeof full, "%s.%s", suite->name, tc->name);
            if (filter && !strstr(full, filter)) continue;
            run_one(suite->name, tc, &tally);
        }
    }
    char cleanup[300];
    snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", registry.temp_dir);
    if (system(cleanup) != 0) fprintf(stderr, "could not remove %s\n", registry.temp_dir);
    printf("%d passed, %d failed, %d skipped\n", tally.passed, tally.failed, tally.skipped);
    return tally.failed ? 1 : 0;
}
