/*
 * What a board support package (runtime/boards/<bsp>/) provides to the
 * profiler server: a byte-wise serial link and a free-running counter.
 */
#ifndef EDGEC_BOARD_H
#define EDGEC_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Clocks and UART; called once from main before anything else. */
void edgec_board_init(void);

/* Sends len bytes, blocking until all are queued in the UART. */
void edgec_uart_write(const uint8_t *data, size_t len);

/* Waits for and returns the next received byte (0..255). */
uint8_t edgec_uart_read(void);

/* Starts the counter; called once after edgec_board_init. */
void edgec_counter_init(void);

/* The counter read by EDGEC_PROFILE_* (wraps modulo 2^32). */
uint32_t edgec_counter_read(void);

/* EDGEC_UNIT_CYCLES or EDGEC_UNIT_INSTRUCTIONS (edgec_protocol.h). */
uint8_t edgec_counter_unit(void);

/* Smallest step of edgec_counter_read, in counter units (1 for DWT). */
uint32_t edgec_counter_resolution(void);

/* Core clock in Hz as configured by edgec_board_init. */
uint32_t edgec_board_clock_hz(void);

#endif /* EDGEC_BOARD_H */
