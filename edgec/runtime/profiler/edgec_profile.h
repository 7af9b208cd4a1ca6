/*
 * Per-op profiling hooks for generated model code.
 *
 * model.c calls EDGEC_PROFILE_BEGIN() when edgec_model_run starts and
 * EDGEC_PROFILE_OP(k) right after op k.  Built with -DEDGEC_PROFILE (the
 * firmware build) each hook reads the board's counter and stores the delta
 * since the previous hook in edgec_profile_counts[k], which the profiler
 * server sends to the host.  Without EDGEC_PROFILE (the host build) the hooks
 * compile to nothing.
 */
#ifndef EDGEC_PROFILE_H
#define EDGEC_PROFILE_H

#include <stdint.h>

#ifdef EDGEC_PROFILE

/* Counts per op, in the board's counter unit (cycles or instructions). */
extern uint32_t edgec_profile_counts[];
/* Counter value at the previous hook. */
extern uint32_t edgec_profile_mark;
/* The board's free-running counter (wraps modulo 2^32). */
uint32_t edgec_counter_read(void);

#define EDGEC_PROFILE_BEGIN()                               \
    do {                                                    \
        for (int edgec_k_ = 0; edgec_k_ < EDGEC_OP_COUNT; edgec_k_++) \
            edgec_profile_counts[edgec_k_] = 0;             \
        edgec_profile_mark = edgec_counter_read();          \
    } while (0)

#define EDGEC_PROFILE_OP(k)                                       \
    do {                                                          \
        uint32_t edgec_now_ = edgec_counter_read();               \
        edgec_profile_counts[(k)] += edgec_now_ - edgec_profile_mark; \
        edgec_profile_mark = edgec_now_;                          \
    } while (0)

#else

#define EDGEC_PROFILE_BEGIN() \
    do {                      \
    } while (0)
#define EDGEC_PROFILE_OP(k) \
    do {                    \
        (void)(k);          \
    } while (0)

#endif /* EDGEC_PROFILE */

#endif /* EDGEC_PROFILE_H */
