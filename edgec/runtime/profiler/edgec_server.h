/* The on-device profiler server: answers host commands over the UART. */
#ifndef EDGEC_SERVER_H
#define EDGEC_SERVER_H

#include <stddef.h>
#include <stdint.h>

/* Handles one received frame (COBS-encoded, without the 0x00 delimiter;
 * decoded in place) and sends the reply. */
void edgec_server_handle(uint8_t *encoded, size_t len);

/* Reads frames from the UART and answers them; never returns. */
void edgec_server_run(void);

#endif /* EDGEC_SERVER_H */
