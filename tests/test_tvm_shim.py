"""The TVM shim's thread pool and workspaces (edgec/runtime/tvm/tvm_shim.c), driven from C.

A small C driver launches parallel loops the way TVM's kernels do
(``TVMBackendParallelLaunch`` with a barrier inside the task) and checks
what a pool must guarantee: every task runs once per loop, the barrier holds
all tasks, a task's nonzero status comes back, ``EDGEC_NUM_THREADS`` sets the
task count, the same worker thread runs a task id loop after loop (threads
are started once), and the process exits cleanly (workers joined at exit);
and that workspaces (a per-thread stack) never overlap and come back whatever
the order of frees.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from edgec.resources import RUNTIME_DIR

DRIVER = r"""
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct { void *sync_handle; int32_t num_task; } env_t;
int TVMBackendParallelLaunch(int (*)(int, env_t *, void *), void *, int);
int TVMBackendParallelBarrier(int, env_t *);
void *TVMBackendAllocWorkspace(int, int, uint64_t, int, int);
int TVMBackendFreeWorkspace(int, int, void *);

#define LOOPS 2000
#define MAX_TASKS 8
static int written[MAX_TASKS], runs[MAX_TASKS], barrier_failures, tasks_seen;
static pthread_t runner[MAX_TASKS];
static int thread_changes;

static int task(int id, env_t *env, void *cdata)
{
    int loop = *(int *)cdata;
    tasks_seen = env->num_task;
    runs[id]++;
    if (loop > 0 && !pthread_equal(runner[id], pthread_self()))
        __atomic_add_fetch(&thread_changes, 1, __ATOMIC_RELAXED);
    runner[id] = pthread_self();
    __atomic_store_n(&written[id], loop, __ATOMIC_RELEASE);
    TVMBackendParallelBarrier(id, env);
    for (int k = 0; k < env->num_task; k++)
        if (__atomic_load_n(&written[k], __ATOMIC_ACQUIRE) != loop)
            __atomic_add_fetch(&barrier_failures, 1, __ATOMIC_RELAXED);
    TVMBackendParallelBarrier(id, env);
    return (loop % 7 == 3 && id == env->num_task - 1) ? 5 : 0;
}

/* Nested workspaces (one larger than a first arena), filled and checked for overlap, freed out of
   order; then the arena must be empty again (the next block lands where the first one did). */
static int scratch_errors(void)
{
    static const uint64_t sizes[5] = {1, 100, 4096, 200000, 64};
    static const int order[5] = {1, 4, 3, 0, 2};
    int errors = 0;
    for (int round = 0; round < 3; round++) {
        unsigned char *p[5];
        for (int i = 0; i < 5; i++) {
            p[i] = TVMBackendAllocWorkspace(1, 0, sizes[i], 0, 8);
            if (p[i] == NULL || (uintptr_t)p[i] % 64 != 0)
                return 100;
            memset(p[i], i + 1, sizes[i]);
        }
        for (int i = 0; i < 5; i++)
            for (uint64_t k = 0; k < sizes[i]; k++)
                if (p[i][k] != i + 1) {
                    errors++;
                    break;
                }
        for (int i = 0; i < 5; i++)
            TVMBackendFreeWorkspace(1, 0, p[order[i]]);
    }
    void *first = TVMBackendAllocWorkspace(1, 0, 1000, 0, 8);
    TVMBackendFreeWorkspace(1, 0, first);
    void *again = TVMBackendAllocWorkspace(1, 0, 1000, 0, 8);
    TVMBackendFreeWorkspace(1, 0, again);
    return errors + (first != again);
}

int main(void)
{
    int wrong_status = 0;
    for (int loop = 0; loop < LOOPS; loop++) {
        int status = TVMBackendParallelLaunch(task, &loop, 0);
        int want = (loop % 7 == 3) ? 5 : 0;
        if (status != want)
            wrong_status++;
    }
    printf("tasks %d\n", tasks_seen);
    for (int k = 0; k < tasks_seen; k++)
        printf("runs %d\n", runs[k]);
    printf("scratch_errors %d\n", scratch_errors());
    printf("barrier_failures %d\nwrong_status %d\nthread_changes %d\n", barrier_failures, wrong_status,
           thread_changes);
    return 0;
}
"""


@pytest.fixture(scope="module")
def pool_driver(tmp_path_factory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler on PATH to build the shim's driver")
    folder = tmp_path_factory.mktemp("tvm_shim")
    (folder / "driver.c").write_text(DRIVER)
    exe = folder / "driver"
    subprocess.run(
        [
            cc,
            "-std=c11",
            "-O2",
            "-Wall",
            "-Werror",
            "-pthread",
            str(folder / "driver.c"),
            str(RUNTIME_DIR / "tvm" / "tvm_shim.c"),
            "-o",
            str(exe),
        ],
        check=True,
    )
    return exe


def run_driver(exe: Path, threads: int) -> dict[str, list[int]]:
    env = {**os.environ, "EDGEC_NUM_THREADS": str(threads)}
    done = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=60, check=True)
    fields: dict[str, list[int]] = {}
    for line in done.stdout.splitlines():
        key, value = line.split()
        fields.setdefault(key, []).append(int(value))
    return fields


@pytest.mark.parametrize("threads", [1, 3])
def test_pool_runs_every_task_once_per_loop_behind_the_barrier(pool_driver, threads):
    got = run_driver(pool_driver, threads)
    assert got["tasks"] == [threads]
    assert got["runs"] == [2000] * threads
    assert got["barrier_failures"] == [0]
    assert got["wrong_status"] == [0]
    assert got["thread_changes"] == [0]  # threads started once: task k always on the same thread


def test_workspaces_are_stacked_without_overlap_and_freed_in_any_order(pool_driver):
    assert run_driver(pool_driver, 1)["scratch_errors"] == [0]
