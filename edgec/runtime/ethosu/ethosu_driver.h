/*
 * The part of the Arm Ethos-U core driver's API that edgec's generated NPU
 * glue calls, declared by edgec from the driver's public API description so
 * that the glue compiles without the driver.
 *
 * On a device, link the real driver from your SDK (Arm's ethos-u-core-driver,
 * built for your NPU and CPU) and put its include folder before this one, or
 * delete this file: the real header declares the same functions. The driver
 * must have been initialised (ethosu_init with the NPU's base address) before
 * the model runs. edgec compiles against this header only: linking and
 * running with the driver are untested here (docs/ethosu.md).
 */
#ifndef ETHOSU_DRIVER_H
#define ETHOSU_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The driver's state for one NPU; opaque to callers. */
struct ethosu_driver;

/* Claim an initialised, idle NPU driver; blocks until one is free (NULL on failure). */
struct ethosu_driver *ethosu_reserve_driver(void);

/* Give back a driver claimed with ethosu_reserve_driver. */
void ethosu_release_driver(struct ethosu_driver *drv);

/*
 * Run one Vela command stream (the driver payload: COP1 header and register
 * commands) and wait for it to finish.
 *   custom_data_ptr/custom_data_size: the payload and its size in bytes.
 *   base_addr[i]/base_addr_size[i]: the address and size of memory region i
 *     the command stream refers to; Vela's (and TFLM's) order is
 *     0 read-only data (encoded weights), 1 scratch, 2 fast scratch, then the
 *     segment's inputs and outputs.
 *   num_base_addr: the number of entries in both arrays.
 *   user_arg: passed on to the driver's inference begin/end hooks.
 * Returns 0 on success, a negative number on failure.
 */
int ethosu_invoke_v3(struct ethosu_driver *drv,
                     const void *custom_data_ptr,
                     const int custom_data_size,
                     uint64_t *const base_addr,
                     const size_t *base_addr_size,
                     const int num_base_addr,
                     void *user_arg);

#ifdef __cplusplus
}
#endif

#endif /* ETHOSU_DRIVER_H */
