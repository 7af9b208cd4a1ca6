/*
 * The few TVM runtime entry points an edgec TVM kernel object calls, written
 * for plain C with pthreads, so that a model links without the TVM runtime:
 *
 *   TVMBackendAllocWorkspace / TVMBackendFreeWorkspace  scratch memory (64-byte aligned, a per-thread stack)
 *   TVMBackendParallelLaunch / TVMBackendParallelBarrier  parallel loops
 *   TVMFFIErrorSetRaisedFromCStrParts                     argument-check failures
 *
 * Threads: EDGEC_NUM_THREADS from the environment, else every online CPU.
 * A parallel loop runs task 0 on the calling thread and the others on a
 * persistent pool of worker threads (started once, parked between loops).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    void *sync_handle;
    int32_t num_task;
} edgec_parallel_env;

typedef int (*edgec_parallel_lambda)(int task_id, edgec_parallel_env *env, void *cdata);

#define EDGEC_MAX_THREADS 64

/*
 * Scratch memory.  TVM's kernels ask for a workspace per call (the padded
 * input) and per output row (the register tile's accumulators when they do
 * not fit the stack), and give each back before the next: nested, almost
 * always last in, first out.  Each thread therefore hands them out from its
 * own arena, a stack: an allocation is the top rounded up to 64 bytes, a free
 * marks its block and pops every marked block on top.  A request that does not
 * fit (arena full, or more than EDGEC_SCRATCH_DEPTH live blocks) goes to
 * posix_memalign; an empty arena too small for a request is replaced by one
 * twice the size (or the request's), so after the first inference nothing is
 * allocated.  A thread's arena is freed when the thread exits.
 */
#define EDGEC_SCRATCH_ALIGN 64
#define EDGEC_SCRATCH_DEPTH 32
#define EDGEC_SCRATCH_FIRST (64u * 1024u)

typedef struct {
    unsigned char *base;
    size_t size;
    size_t top;
    int depth;                              /* live (or freed, not yet popped) blocks */
    size_t start[EDGEC_SCRATCH_DEPTH];      /* each block's offset */
    unsigned char freed[EDGEC_SCRATCH_DEPTH];
} edgec_scratch;

static __thread edgec_scratch scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_key_once = PTHREAD_ONCE_INIT;

static void scratch_release(void *base)
{
    free(base);
}

static void scratch_make_key(void)
{
    (void)pthread_key_create(&scratch_key, scratch_release);
}

/* An empty arena of at least `nbytes`; 0 when none could be had (the caller falls back). */
static int scratch_reserve(size_t nbytes)
{
    size_t size = scratch.size ? 2 * scratch.size : EDGEC_SCRATCH_FIRST;
    if (size < nbytes)
        size = nbytes;
    void *base = NULL;
    if (posix_memalign(&base, EDGEC_SCRATCH_ALIGN, size) != 0)
        return 0;
    pthread_once(&scratch_key_once, scratch_make_key);
    free(scratch.base);
    scratch.base = base;
    scratch.size = size;
    scratch.top = 0;
    (void)pthread_setspecific(scratch_key, base);
    return 1;
}

void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes, int dtype_code_hint,
                               int dtype_bits_hint)
{
    (void)device_type;
    (void)device_id;
    (void)dtype_code_hint;
    (void)dtype_bits_hint;
    size_t size = ((size_t)(nbytes ? nbytes : 1) + EDGEC_SCRATCH_ALIGN - 1) & ~(size_t)(EDGEC_SCRATCH_ALIGN - 1);
    if (scratch.depth == 0 && scratch.size < size)
        (void)scratch_reserve(size);
    if (scratch.depth < EDGEC_SCRATCH_DEPTH && scratch.size - scratch.top >= size) {
        scratch.start[scratch.depth] = scratch.top;
        scratch.freed[scratch.depth] = 0;
        scratch.depth++;
        scratch.top += size;
        return scratch.base + scratch.start[scratch.depth - 1];
    }
    void *ptr = NULL;
    if (posix_memalign(&ptr, EDGEC_SCRATCH_ALIGN, size) != 0)
        return NULL;
    return ptr;
}

int TVMBackendFreeWorkspace(int device_type, int device_id, void *ptr)
{
    (void)device_type;
    (void)device_id;
    unsigned char *p = (unsigned char *)ptr;
    if (scratch.base == NULL || p < scratch.base || p >= scratch.base + scratch.size) {
        free(ptr);
        return 0;
    }
    for (int i = scratch.depth - 1; i >= 0; i--) {
        if (scratch.base + scratch.start[i] == p) {
            scratch.freed[i] = 1;
            break;
        }
    }
    while (scratch.depth > 0 && scratch.freed[scratch.depth - 1]) {
        scratch.depth--;
        scratch.top = scratch.start[scratch.depth];
    }
    return 0;
}

static int thread_count(void)
{
    static int count = 0;
    if (count == 0) {
        const char *env = getenv("EDGEC_NUM_THREADS");
        int n = env != NULL ? atoi(env) : (int)sysconf(_SC_NPROCESSORS_ONLN);
        count = n < 1 ? 1 : (n > EDGEC_MAX_THREADS ? EDGEC_MAX_THREADS : n);
    }
    return count;
}

/*
 * The thread pool: workers are started once, on the first parallel loop, and
 * park between loops.  A loop is a "job": the caller publishes it under the
 * lock, bumps `generation` and wakes the workers; worker k runs task k, the
 * caller runs task 0, and the caller waits until `pending` (workers still
 * running the job) reaches zero.  Parked workers sleep on `wake` (no
 * spinning: on a shared, oversubscribed machine a spinning thread takes the
 * CPU the others need).  The pool is shut down and its threads joined at exit.
 */
typedef struct {
    pthread_mutex_t launch;  /* one job at a time (models run from several threads take turns) */
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* workers: a new job, or shutdown */
    pthread_cond_t finished; /* caller: the last worker finished the job */
    pthread_t threads[EDGEC_MAX_THREADS];
    int workers;              /* threads started: tasks 1..workers */
    int stopping;
    unsigned long generation; /* bumped once per job */
    /* the current job */
    edgec_parallel_lambda fn;
    void *cdata;
    edgec_parallel_env env;
    pthread_barrier_t barrier;
    int barrier_size; /* 0: no barrier initialized */
    int pending;      /* workers that have not finished the job */
    int status;       /* first nonzero task status */
} edgec_pool;

static edgec_pool pool = {
    .launch = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .finished = PTHREAD_COND_INITIALIZER,
};

typedef struct {
    int task_id;
    unsigned long seen; /* the generation of the last job this worker looked at */
} edgec_worker;

static edgec_worker worker_state[EDGEC_MAX_THREADS];

static void *worker_main(void *arg)
{
    edgec_worker *self = (edgec_worker *)arg;
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        while (pool.generation == self->seen && !pool.stopping)
            pthread_cond_wait(&pool.wake, &pool.lock);
        if (pool.stopping) {
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
        self->seen = pool.generation;
        if (self->task_id >= pool.env.num_task) {
            /* Not part of this job. */
            pthread_mutex_unlock(&pool.lock);
            continue;
        }
        edgec_parallel_lambda fn = pool.fn;
        void *cdata = pool.cdata;
        pthread_mutex_unlock(&pool.lock);

        int status = fn(self->task_id, &pool.env, cdata);

        pthread_mutex_lock(&pool.lock);
        if (status != 0 && pool.status == 0)
            pool.status = status;
        if (--pool.pending == 0)
            pthread_cond_signal(&pool.finished);
        pthread_mutex_unlock(&pool.lock);
    }
}

static void pool_shutdown(void)
{
    pthread_mutex_lock(&pool.lock);
    pool.stopping = 1;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.workers; i++)
        pthread_join(pool.threads[i], NULL);
    pool.workers = 0;
    if (pool.barrier_size != 0)
        pthread_barrier_destroy(&pool.barrier);
    pool.barrier_size = 0;
}

/* Starts workers until tasks 1..n-1 each have one; called with no job running. */
static void pool_grow(int n)
{
    if (pool.workers == 0 && n > 1)
        atexit(pool_shutdown);
    while (pool.workers < n - 1) {
        edgec_worker *w = &worker_state[pool.workers];
        w->task_id = pool.workers + 1;
        w->seen = pool.generation;
        if (pthread_create(&pool.threads[pool.workers], NULL, worker_main, w) != 0) {
            /* Tasks may wait on the barrier for each other: all must run at once. */
            fprintf(stderr, "edgec: could not start %d threads\n", n);
            abort();
        }
        pool.workers++;
    }
}

int TVMBackendParallelLaunch(edgec_parallel_lambda flambda, void *cdata, int num_task)
{
    int n = num_task > 0 ? num_task : thread_count();
    if (n > EDGEC_MAX_THREADS)
        n = EDGEC_MAX_THREADS;
    if (n == 1) {
        edgec_parallel_env env = {NULL, 1};
        return flambda(0, &env, cdata);
    }
    pthread_mutex_lock(&pool.launch);
    pool_grow(n);

    pthread_mutex_lock(&pool.lock);
    if (pool.barrier_size != n) {
        if (pool.barrier_size != 0)
            pthread_barrier_destroy(&pool.barrier);
        pthread_barrier_init(&pool.barrier, NULL, (unsigned)n);
        pool.barrier_size = n;
    }
    pool.fn = flambda;
    pool.cdata = cdata;
    pool.env = (edgec_parallel_env){&pool.barrier, n};
    pool.pending = n - 1;
    pool.status = 0;
    pool.generation++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    int status = flambda(0, &pool.env, cdata);

    pthread_mutex_lock(&pool.lock);
    while (pool.pending != 0)
        pthread_cond_wait(&pool.finished, &pool.lock);
    if (status == 0)
        status = pool.status;
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.launch);
    return status;
}

int TVMBackendParallelBarrier(int task_id, edgec_parallel_env *env)
{
    (void)task_id;
    if (env->num_task > 1)
        pthread_barrier_wait((pthread_barrier_t *)env->sync_handle);
    return 0;
}

void TVMFFIErrorSetRaisedFromCStrParts(const char *kind, const char **message_parts, int32_t num_parts)
{
    fprintf(stderr, "edgec: TVM kernel %s:", kind != NULL ? kind : "error");
    for (int32_t i = 0; i < num_parts; i++) {
        if (message_parts[i] != NULL)
            fputs(message_parts[i], stderr);
    }
    fputc('\n', stderr);
}

/*
 * TVM's LLVM code reaches some of these through module-level function pointers
 * (weak, zero-initialized in kernels.o) that the TVM runtime fills when it loads
 * a module; these strong definitions fill them at link time instead.
 */
void *(*__TVMBackendAllocWorkspace)(int, int, uint64_t, int, int) = TVMBackendAllocWorkspace;
int (*__TVMBackendFreeWorkspace)(int, int, void *) = TVMBackendFreeWorkspace;
int (*__TVMBackendParallelLaunch)(edgec_parallel_lambda, void *, int) = TVMBackendParallelLaunch;
int (*__TVMBackendParallelBarrier)(int, edgec_parallel_env *) = TVMBackendParallelBarrier;
void (*__TVMFFIErrorSetRaisedFromCStrParts)(const char *, const char **, int32_t) = TVMFFIErrorSetRaisedFromCStrParts;
