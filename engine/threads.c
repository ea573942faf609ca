/* threads.c — the pool. A parallel_for publishes the job and bumps a generation counter;
 * workers spin briefly on the counter (a decode step issues dozens of small jobs, and a
 * condition-variable wake-up per job would cost more than the job) and then sleep on a
 * condition variable. The job's chunks go to whichever thread asks first, the caller
 * included, and the caller returns once every chunk is finished: a worker that has not
 * woken yet (the cores busy with another process) is not waited for. */
#include "threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../util/errors.h"

/* Polling rounds before sleeping. Each round pauses the core (x86 PAUSE: tens of cycles),
 * so 20000 rounds last roughly half a millisecond: longer than any gap between the jobs of
 * one decode step, so a worker only sleeps between steps or when the pool is idle. Every
 * YIELD_EVERY rounds the waiting worker offers its core to the scheduler: with more threads
 * than free cores (a busy machine, or -t above the core count) a spinning worker would
 * otherwise hold a core that a thread with a chunk to run is waiting for. On 2 cores, 110M
 * Q8_0 decode with -t 8 went from 45 to 139 tok/s, and on 2 threads beside a busy process
 * from 68-72 to 92-100, with no change when the cores are free. */
enum { SPIN_ROUNDS = 20000, YIELD_EVERY = 128 };

/* A job is cut into this many chunks per thread, handed out as threads come for them: a
 * thread that the system has descheduled (another process on the cores) then delays the
 * job by at most one chunk instead of its whole share. */
enum { CHUNKS_PER_THREAD = 4, MAX_THREADS = 1024 };
/* the ticket's 16-bit chunk fields hold every job's chunk count */
_Static_assert(MAX_THREADS * CHUNKS_PER_THREAD < 0xffff, "chunk count overflows the ticket");

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct ThreadPool {
    int n_threads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    /* the current job: written by the caller before generation is bumped */
    RangeFn fn;
    void *ctx;
    int n_items, chunk;
    atomic_ulong generation;
    /* the chunks of the current job are handed out by compare-and-swap on one word:
     * generation (32 bits) | number of chunks (16) | next chunk (16) */
    _Atomic unsigned long long ticket;
    atomic_int done;      /* chunks finished in the current generation */
    atomic_int stopping;
};

typedef struct {
    ThreadPool *pool;
    int index;
} WorkerArg;

/* Runs chunks of job `generation` until none is left. A chunk whose ticket was won is
 * not finished, so its job cannot have been replaced: its fields are safe to read. */
static void take_chunks(ThreadPool *pool, unsigned long generation, int thread) {
    for (;;) {
        unsigned long long t = atomic_load_explicit(&pool->ticket, memory_order_acquire);
        unsigned next = (unsigned)(t & 0xffff), n_chunks = (unsigned)(t >> 16) & 0xffff;
        if ((t >> 32) != (generation & 0xffffffffUL) || next >= n_chunks) return;
        if (!atomic_compare_exchange_weak_explicit(&pool->ticket, &t, t + 1,
                                                   memory_order_acq_rel, memory_order_acquire))
            continue;
        int begin = (int)next * pool->chunk;
        int end = begin + pool->chunk < pool->n_items ? begin + pool->chunk : pool->n_items;
        pool->fn(pool->ctx, begin, end, thread);
        atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
    }
}

/* Waits until the generation differs from `seen` (or the pool stops); returns it. */
static unsigned long await_generation(ThreadPool *pool, unsigned long seen) {
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned long g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen || atomic_load(&pool->stopping)) return g;
        cpu_relax();
        if (i % YIELD_EVERY == YIELD_EVERY - 1) sched_yield();
    }
    pthread_mutex_lock(&pool->lock);
    unsigned long g;
    while ((g = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stopping))
        pthread_cond_wait(&pool->work_ready, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    return g;
}

static void *worker_main(void *arg) {
    WorkerArg *wa = arg;
    ThreadPool *pool = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        seen = await_generation(pool, seen);
        if (atomic_load(&pool->stopping)) break;
        take_chunks(pool, seen, index);
    }
    return NULL;
}

ThreadPool *thread_pool_create(int n_threads, char *err, size_t err_size) {
    if (n_threads < 1 || n_threads > MAX_THREADS) {
        fail(err, err_size, "thread count %d is out of range 1..%d", n_threads, MAX_THREADS);
        return NULL;
    }
    ThreadPool *pool = calloc(1, sizeof *pool);
    if (!pool) { fail(err, err_size, "out of memory for the thread pool"); return NULL; }
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work_ready, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->ticket, 0);
    atomic_init(&pool->done, 0);
    atomic_init(&pool->stopping, 0);
    pool->workers = calloc((size_t)n_threads, sizeof *pool->workers);
    for (int i = 1; i < n_threads && pool->workers; i++) {
        WorkerArg *wa = malloc(sizeof *wa);
        if (!wa) { pool->n_threads = i; break; }
        *wa = (WorkerArg){pool, i};
        if (pthread_create(&pool->workers[i], NULL, worker_main, wa) != 0) {
            free(wa);
            pool->n_threads = i; /* keep the ones that started */
            break;
        }
    }
    if (!pool->workers) { thread_pool_free(pool); fail(err, err_size, "out of memory"); return NULL; }
    return pool;
}

void thread_pool_free(ThreadPool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stopping, 1);
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i < pool->n_threads && pool->workers; i++) pthread_join(pool->workers[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work_ready);
    free(pool->workers);
    free(pool);
}

int thread_pool_size(const ThreadPool *pool) { return pool ? pool->n_threads : 1; }

void parallel_for(ThreadPool *pool, int n, int min_chunk, RangeFn fn, void *ctx) {
    if (n <= 0) return;
    if (min_chunk < 1) min_chunk = 1;
    int threads = pool ? pool->n_threads : 1;
    if (threads <= 1 || n < 2 * min_chunk) { fn(ctx, 0, n, 0); return; }
    long wanted = (long)threads * CHUNKS_PER_THREAD;
    int chunk = (int)((n + wanted - 1) / wanted);
    if (chunk < min_chunk) chunk = min_chunk;
    unsigned long long n_chunks = (unsigned long long)((n + chunk - 1) / chunk);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n_items = n;
    pool->chunk = chunk;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    pthread_mutex_lock(&pool->lock);
    unsigned long generation = atomic_load(&pool->generation) + 1;
    atomic_store_explicit(&pool->ticket, (generation & 0xffffffffULL) << 32 | n_chunks << 16,
                          memory_order_release);
    atomic_store_explicit(&pool->generation, generation, memory_order_release);
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    take_chunks(pool, generation, 0);
    for (long spins = 0;
         atomic_load_explicit(&pool->done, memory_order_acquire) < (int)n_chunks; spins++) {
        cpu_relax();
        if (spins > SPIN_ROUNDS) sched_yield();
    }
}

int one_share_per_thread(const ThreadPool *pool, int n) {
    int threads = thread_pool_size(pool);
    return (n + threads - 1) / threads;
}

int min_chunk_for_cost(double cost_per_item) {
    enum { MIN_WORK_PER_THREAD = 40000 }; /* multiply-adds: ~10 microseconds */
    if (cost_per_item <= 0) return 1;
    double items = MIN_WORK_PER_THREAD / cost_per_item;
    return items < 1 ? 1 : items > 1e9 ? 1000000000 : (int)items;
}
