/*
 * Entry point of the kernel-vector harness when it runs inside QEMU on a
 * Cortex-M board (tests/kernels/qemu_vectors.py builds it).
 *
 * The board's reset handler (runtime/boards/common/startup.c) calls main()
 * without arguments; this main opens newlib's semihosting channel (librdimon:
 * stdio and fopen go to the host through QEMU's -semihosting) and runs the
 * host harness, run_vectors.c compiled with main renamed to
 * run_vectors_main, on the vectors file named by EDGEC_VECTORS_FILE (a path
 * relative to QEMU's working directory).  exit() ends QEMU.
 */
#include <stdio.h>
#include <stdlib.h>

#ifndef EDGEC_VECTORS_FILE
#define EDGEC_VECTORS_FILE "vectors.txt"
#endif

extern void initialise_monitor_handles(void);
extern int run_vectors_main(int argc, char **argv);

int main(void)
{
    static char program[] = "run_vectors";
    static char vectors[] = EDGEC_VECTORS_FILE;
    char *argv[] = {program, vectors, NULL};
    int rc;

    initialise_monitor_handles();
    rc = run_vectors_main(2, argv);
    fflush(stdout);
    exit(rc);
}
