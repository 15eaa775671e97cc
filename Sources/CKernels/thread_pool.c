// A minimal spin-then-sleep thread pool for the C kernels (OpenBLAS keeps its own threads).
#include "ckernels_quant.h"
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------
// Thread pool: workers wait for a new "generation", run their slice, count themselves done.


#define MAX_THREADS 64
static int pool_threads = 0;                // including the caller; 0 = not started
static pthread_t workers[MAX_THREADS];
static atomic_uint generation;
static atomic_int remaining;
static sb_task_fn current_fn;
static void *current_ctx;
static int current_n;
static int current_grain;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t dispatch_lock = PTHREAD_MUTEX_INITIALIZER;

static void slice(int n, int grain, int parts, int index, int *begin, int *end) {
    // Whole grains per part (8 output columns keep stores on separate cache lines).
    int groups = (n + grain - 1) / grain;
    int b = (int)((long)groups * index / parts) * grain, e = (int)((long)groups * (index + 1) / parts) * grain;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

static void *worker_main(void *arg) {
    int index = (int)(long)arg;
    unsigned seen = 0;  // generation starts at 0 and only moves after the pool exists
    for (;;) {
        // Spin briefly (a decode step issues the next call within microseconds), then sleep.
        int spins = 0;
        while (atomic_load_explicit(&generation, memory_order_acquire) == seen) {
            if (++spins < 20000) { _mm_pause(); continue; }
            pthread_mutex_lock(&pool_lock);
            while (atomic_load(&generation) == seen) pthread_cond_wait(&pool_wake, &pool_lock);
            pthread_mutex_unlock(&pool_lock);
        }
        seen = atomic_load(&generation);
        int begin, end;
        slice(current_n, current_grain, pool_threads, index, &begin, &end);
        if (begin < end) current_fn(current_ctx, begin, end);
        atomic_fetch_sub_explicit(&remaining, 1, memory_order_release);
    }
    return NULL;
}

static void start_pool(void) {
    if (pool_threads > 0) return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int wanted = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
    pool_threads = wanted;
    for (int i = 1; i < wanted; i++) pthread_create(&workers[i], NULL, worker_main, (void *)(long)i);
}

void sb_set_thread_count(int threads) {
    pthread_mutex_lock(&dispatch_lock);
    if (pool_threads == 0) {
        if (threads < 1) threads = 1;
        if (threads > MAX_THREADS) threads = MAX_THREADS;
        pool_threads = threads;
        for (int i = 1; i < threads; i++) pthread_create(&workers[i], NULL, worker_main, (void *)(long)i);
    }
    pthread_mutex_unlock(&dispatch_lock);
}

int sb_thread_count(void) { return pool_threads; }

void sb_parallel_for(int n, int grain, sb_task_fn fn, void *ctx) {
    pthread_mutex_lock(&dispatch_lock);
    start_pool();
    if (pool_threads == 1 || n <= grain) {
        fn(ctx, 0, n);
        pthread_mutex_unlock(&dispatch_lock);
        return;
    }
    current_fn = fn;
    current_ctx = ctx;
    current_n = n;
    current_grain = grain;
    atomic_store(&remaining, pool_threads - 1);
    pthread_mutex_lock(&pool_lock);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_lock);
    int begin, end;
    slice(n, grain, pool_threads, 0, &begin, &end);
    if (begin < end) fn(ctx, begin, end);
    while (atomic_load_explicit(&remaining, memory_order_acquire) > 0) _mm_pause();
    pthread_mutex_unlock(&dispatch_lock);
}

