/* membw.c — this machine's limits, the roofline the benchmarks are read against: streaming
 * memory bandwidth (STREAM's kernels plus a read-only sum, the access pattern of decode, which
 * reads every weight once per token) and peak arithmetic (float FMA, and 8-bit integer dot
 * products where the CPU has AVX-512 VNNI, the instructions of the engine's integer tiles),
 * on 1..T threads of the engine's own pool.
 *
 *   build/tools/membw [--threads 1,2] [--mib 2048] [--repeats 5] [--json]
 *
 * Bandwidth counts the bytes the kernel names, as STREAM does: read = 1 array (software
 * prefetched, the best a streaming reader gets here), copy = 2,
 * triad = 3 (the cache's write-allocate reads are not counted). Each figure is the best of
 * the repeats. The arrays must be several times the last-level cache, or the figures are the
 * cache's (the default is 2 GiB in all; bench_vs_llamacpp.sh asks 6 GiB, 12 times a 480 MiB
 * L3). Never pass/fail: it prints figures. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif
#if defined(__AVX512F__) && defined(__AVX512VNNI__)
#define HAVE_VNNI 1
#endif

#include "../engine/threads.h"

typedef float Vec16 __attribute__((vector_size(64)));
enum { FMA_CHAINS = 12, MAX_THREADS = 64 };

typedef struct {
    float *a, *b, *c;
    size_t n;         /* floats per array */
    int kernel;       /* one of Kernel */
    int parts;        /* the arrays are cut into this many contiguous shares */
    double sums[MAX_THREADS];
    long iterations;  /* for the arithmetic kernels */
} Job;

typedef enum { KERNEL_READ, KERNEL_COPY, KERNEL_TRIAD, KERNEL_FMA, KERNEL_INT8 } Kernel;
static const char *const KERNEL_NAMES[] = {"read", "copy", "triad", "fma_f32", "dot_int8"};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The sum of n floats, each line prefetched READ_AHEAD bytes before its use: as the engine's
 * decode kernels do, since one core's hardware prefetcher alone does not keep enough lines in
 * flight (here 14 GB/s without, 16-18 with, on one core). */
enum { READ_AHEAD = 4096 };

static double sum_floats(const float *x, size_t n) {
    Vec16 acc[4] = {{0}};
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __builtin_prefetch((const char *)(x + i + 16 * k) + READ_AHEAD);
            Vec16 v;
            memcpy(&v, x + i + 16 * k, sizeof v);
            acc[k] += v;
        }
    double s = 0;
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 16; j++) s += acc[k][j];
    for (; i < n; i++) s += x[i];
    return s;
}

/* The widest fused multiply-add this build has: FMA_LANES floats per instruction, two flops
 * each; FMA_CHAINS independent chains keep the FMA units busy. (ISO C does not contract
 * a * b + c into one instruction, so the portable fallback counts a multiply and an add.) */
#if defined(__AVX512F__)
#define FMA_LANES 16
typedef __m512 FmaVec;
#define FMA_SET1 _mm512_set1_ps
#define FMA_STEP(acc, m, a) _mm512_fmadd_ps(acc, m, a)
#define FMA_FIRST(v) _mm512_cvtss_f32(v)
#elif defined(__FMA__)
#define FMA_LANES 8
typedef __m256 FmaVec;
#define FMA_SET1 _mm256_set1_ps
#define FMA_STEP(acc, m, a) _mm256_fmadd_ps(acc, m, a)
#define FMA_FIRST(v) _mm256_cvtss_f32(v)
#else
#define FMA_LANES 16
typedef Vec16 FmaVec;
static FmaVec fma_set1(float x) { FmaVec v; for (int j = 0; j < 16; j++) v[j] = x; return v; }
#define FMA_SET1 fma_set1
#define FMA_STEP(acc, m, a) ((acc) * (m) + (a))
#define FMA_FIRST(v) ((v)[0])
#endif

static double fma_loop(long iterations) {
    FmaVec acc[FMA_CHAINS], mul = FMA_SET1(0.999999f), add = FMA_SET1(1e-7f);
    for (int k = 0; k < FMA_CHAINS; k++) acc[k] = FMA_SET1((float)k);
    for (long i = 0; i < iterations; i++) {
#pragma GCC unroll 16 /* the chains unrolled stay in registers */
        for (int k = 0; k < FMA_CHAINS; k++) acc[k] = FMA_STEP(acc[k], mul, add);
    }
    double s = 0;
    for (int k = 0; k < FMA_CHAINS; k++) s += FMA_FIRST(acc[k]);
    return s;
}

#ifdef HAVE_VNNI
/* vpdpbusd: 64 unsigned x signed byte products summed into 16 int32 per instruction, so
 * 128 integer operations; FMA_CHAINS independent accumulators. */
static double int8_loop(long iterations) {
    __m512i acc[FMA_CHAINS], a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-1);
    for (int k = 0; k < FMA_CHAINS; k++) acc[k] = _mm512_set1_epi32(k);
    for (long i = 0; i < iterations; i++) {
#pragma GCC unroll 16
        for (int k = 0; k < FMA_CHAINS; k++) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
    }
    double s = 0;
    for (int k = 0; k < FMA_CHAINS; k++) s += _mm512_reduce_add_epi32(acc[k]);
    return s;
}
#endif

static void run_share(void *ctx, int begin, int end, int thread) {
    Job *job = ctx;
    for (int part = begin; part < end; part++) {
        size_t lo = job->n * (size_t)part / (size_t)job->parts;
        size_t hi = job->n * (size_t)(part + 1) / (size_t)job->parts, n = hi - lo;
        float *a = job->a + lo, *b = job->b + lo, *c = job->c + lo;
        switch ((Kernel)job->kernel) {
        case KERNEL_READ: job->sums[thread] += sum_floats(a, n); break;
        case KERNEL_COPY: memcpy(b, a, n * sizeof *a); break;
        case KERNEL_TRIAD:
            for (size_t i = 0; i < n; i++) c[i] = a[i] + 3.0f * b[i];
            break;
        case KERNEL_FMA: job->sums[thread] += fma_loop(job->iterations); break;
        case KERNEL_INT8:
#ifdef HAVE_VNNI
            job->sums[thread] += int8_loop(job->iterations);
#endif
            break;
        }
    }
}

/* Work units of one pass: GB moved, or G operations. */
static double pass_units(const Job *job) {
    double bytes = (double)job->n * sizeof(float) * 1e-9;
    switch ((Kernel)job->kernel) {
    case KERNEL_READ: return bytes;
    case KERNEL_COPY: return 2 * bytes;
    case KERNEL_TRIAD: return 3 * bytes;
    case KERNEL_FMA: return job->parts * (double)job->iterations * 2 * FMA_LANES * FMA_CHAINS * 1e-9;
    case KERNEL_INT8: return job->parts * (double)job->iterations * 128 * FMA_CHAINS * 1e-9;
    }
    return 0;
}

/* The best rate over `repeats` passes, each thread taking one share. */
static double best_rate(ThreadPool *pool, Job *job, int repeats) {
    double best = 0;
    job->parts = thread_pool_size(pool);
    for (int r = 0; r < repeats; r++) {
        double t0 = now_seconds();
        parallel_for(pool, job->parts, 1, run_share, job);
        double rate = pass_units(job) / (now_seconds() - t0);
        best = rate > best ? rate : best;
    }
    return best;
}

typedef struct {
    int threads[8], n_threads, repeats, json;
    size_t mib;
} Options;

static int parse_threads(const char *list, Options *o) {
    o->n_threads = 0;
    for (const char *p = list; *p && o->n_threads < 8;) {
        char *end;
        long t = strtol(p, &end, 10);
        if (end == p || t < 1 || t > MAX_THREADS) return -1;
        o->threads[o->n_threads++] = (int)t;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return o->n_threads > 0 ? 0 : -1;
}

static int parse_options(int argc, char **argv, Options *o) {
    *o = (Options){.threads = {1, 2}, .n_threads = 2, .repeats = 5, .mib = 2048};
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(argv[i], "--json")) o->json = 1;
        else if (!strcmp(argv[i], "--threads") && value && parse_threads(value, o) == 0) i++;
        else if (!strcmp(argv[i], "--mib") && value && (o->mib = strtoul(value, &end, 10)) >= 64 &&
                 o->mib <= (1u << 20) && !*end) i++;
        else if (!strcmp(argv[i], "--repeats") && value && (o->repeats = (int)strtol(value, &end, 10)) >= 1 &&
                 o->repeats <= 1000 && !*end) i++;
        else {
            fprintf(stderr, "membw: bad option %s (usage: membw [--threads 1,2] [--mib 64..] "
                            "[--repeats R] [--json])\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

/* One line (or JSON object) per thread count: the five rates. */
static void print_rates(const Options *o, int threads, const double *rate, int first) {
    if (o->json) {
        printf("%s{\"threads\": %d", first ? "" : ",\n ", threads);
        for (int k = 0; k <= KERNEL_INT8; k++)
            if (rate[k] > 0) printf(", \"%s\": %.2f", KERNEL_NAMES[k], rate[k]);
        printf("}");
        return;
    }
    printf("%d thread%s: read %.1f GB/s, copy %.1f GB/s, triad %.1f GB/s, fma_f32 %.1f GFLOP/s",
           threads, threads == 1 ? " " : "s", rate[0], rate[1], rate[2], rate[3]);
    if (rate[4] > 0) printf(", dot_int8 %.1f GOP/s", rate[4]);
    printf("\n");
}

int main(int argc, char **argv) {
    Options o;
    if (parse_options(argc, argv, &o) != 0) return 2;
    size_t n = o.mib * ((size_t)1 << 20) / sizeof(float) / 3;
    float *a = malloc(3 * n * sizeof *a);
    if (!a) {
        fprintf(stderr, "membw: cannot allocate 3 x %zu MiB: lower --mib\n", (n * sizeof *a) >> 20);
        return 1;
    }
    float *b = a + n, *c = b + n;
    for (size_t i = 0; i < n; i++) a[i] = 1.0f, b[i] = 2.0f, c[i] = 0.0f; /* pages touched */
    if (!o.json) printf("arrays: 3 x %zu MiB; best of %d passes\n", (n * sizeof *a) >> 20, o.repeats);
    else printf("{\"array_mib\": %zu, \"repeats\": %d, \"runs\": [", (n * sizeof *a) >> 20, o.repeats);
    for (int i = 0; i < o.n_threads; i++) {
        char err[256];
        ThreadPool *pool = thread_pool_create(o.threads[i], err, sizeof err);
        if (!pool) {
            fprintf(stderr, "membw: %s\n", err);
            return 1;
        }
        double rate[KERNEL_INT8 + 1] = {0};
        Job job = {.a = a, .b = b, .c = c, .n = n, .iterations = 20000000};
        /* read streams all three arrays as one, so its pass is 3x the others' */
        Job read = {.a = a, .b = b, .c = c, .n = 3 * n, .kernel = KERNEL_READ};
        rate[KERNEL_READ] = best_rate(pool, &read, o.repeats);
        for (int k = KERNEL_COPY; k <= KERNEL_INT8; k++) {
#ifndef HAVE_VNNI
            if (k == KERNEL_INT8) break;
#endif
            job.kernel = k;
            rate[k] = best_rate(pool, &job, k >= KERNEL_FMA ? 3 : o.repeats);
        }
        print_rates(&o, o.threads[i], rate, i == 0);
        thread_pool_free(pool);
    }
    if (o.json) printf("]}\n");
    free(a);
    return 0;
}
