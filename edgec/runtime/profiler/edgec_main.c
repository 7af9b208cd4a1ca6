/* Firmware entry point: set up the board, then serve the host forever. */
#include "edgec_board.h"
#include "edgec_server.h"

int main(void)
{
    edgec_board_init();
    edgec_counter_init();
    edgec_server_run();
    return 0;
}
