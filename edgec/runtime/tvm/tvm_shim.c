/*
 * The few TVM runtime entry points an edgec TVM kernel object calls, written
 * for plain C with pthreads, so that a model links without the TVM runtime:
 *
 *   TVMBackendAllocWorkspace / TVMBackendFreeWorkspace  scratch memory (64-byte aligned)
 *   TVMBackendParallelLaunch / TVMBackendParallelBarrier  parallel loops
 *   TVMFFIErrorSetRaisedFromCStrParts                     argument-check failures
 *
 * Threads: EDGEC_NUM_THREADS from the environment, else every online CPU.
 * A parallel loop runs task 0 on the calling thread and the others on
 * threads started for that loop.
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

void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes, int dtype_code_hint,
                               int dtype_bits_hint)
{
    (void)device_type;
    (void)device_id;
    (void)dtype_code_hint;
    (void)dtype_bits_hint;
    void *ptr = NULL;
    if (posix_memalign(&ptr, 64, nbytes ? (size_t)nbytes : 1) != 0)
        return NULL;
    return ptr;
}

int TVMBackendFreeWorkspace(int device_type, int device_id, void *ptr)
{
    (void)device_type;
    (void)device_id;
    free(ptr);
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

typedef struct {
    edgec_parallel_lambda fn;
    void *cdata;
    edgec_parallel_env *env;
    int task_id;
    int status;
} edgec_task;

static void *run_task(void *arg)
{
    edgec_task *task = (edgec_task *)arg;
    task->status = task->fn(task->task_id, task->env, task->cdata);
    return NULL;
}

int TVMBackendParallelLaunch(edgec_parallel_lambda flambda, void *cdata, int num_task)
{
    int n = num_task > 0 ? num_task : thread_count();
    if (n > EDGEC_MAX_THREADS)
        n = EDGEC_MAX_THREADS;
    pthread_barrier_t barrier;
    edgec_parallel_env env = {&barrier, n};
    if (n == 1)
        return flambda(0, &env, cdata);
    pthread_barrier_init(&barrier, NULL, (unsigned)n);
    edgec_task tasks[EDGEC_MAX_THREADS];
    pthread_t threads[EDGEC_MAX_THREADS];
    int started = 1;
    for (int i = 1; i < n; i++) {
        tasks[i] = (edgec_task){flambda, cdata, &env, i, 0};
        if (pthread_create(&threads[i], NULL, run_task, &tasks[i]) != 0)
            break;
        started++;
    }
    if (started != n) {
        /* Could not start every thread: tasks may wait on the barrier forever. */
        fprintf(stderr, "edgec: could not start %d threads\n", n);
        abort();
    }
    int status = flambda(0, &env, cdata);
    for (int i = 1; i < n; i++) {
        pthread_join(threads[i], NULL);
        if (tasks[i].status != 0)
            status = tasks[i].status;
    }
    pthread_barrier_destroy(&barrier);
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
