/*
 * Profiler server: the device end of the protocol in docs/protocol.md.
 * Holds the model's input and output buffers, runs the model on INVOKE and
 * keeps the per-op counts that EDGEC_PROFILE_OP stores.
 */
#include "edgec_server.h"

#include <string.h>

#include "edgec_board.h"
#include "edgec_cobs.h"
#include "edgec_crc16.h"
#include "edgec_profile.h"
#include "edgec_protocol.h"
#include "model.h"

#ifndef EDGEC_TARGET_NAME
#define EDGEC_TARGET_NAME "unknown"
#endif

/* +1 keeps the arrays non-empty for a model without ops. */
uint32_t edgec_profile_counts[EDGEC_OP_COUNT + 1];
uint32_t edgec_profile_mark;

static int8_t model_input[EDGEC_INPUT_SIZE];
static int8_t model_output[EDGEC_OUTPUT_SIZE];
static uint32_t total_count;

static const uint32_t input_shape[EDGEC_INPUT_RANK] = EDGEC_INPUT_SHAPE;
static const uint32_t output_shape[EDGEC_OUTPUT_RANK] = EDGEC_OUTPUT_SHAPE;

static uint8_t rx_buf[EDGEC_MAX_ENCODED];
static uint8_t tx_payload[EDGEC_MAX_PAYLOAD];
static uint8_t tx_encoded[EDGEC_MAX_ENCODED + 1];

static void put_u16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    put_u16(p, v);
    put_u16(p + 2, v >> 16);
}

static uint32_t get_u16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    return get_u16(p) | (get_u16(p + 2) << 16);
}

/* The reply body is built in place in tx_payload after the header. */
static uint8_t *reply_body(void)
{
    return tx_payload + EDGEC_HEADER_BYTES;
}

static void send_reply(uint8_t code, uint8_t seq, size_t body_len)
{
    tx_payload[0] = code;
    tx_payload[1] = seq;
    put_u16(tx_payload + 2, (uint32_t)body_len);
    size_t n = EDGEC_HEADER_BYTES + body_len;
    put_u16(tx_payload + n, edgec_crc16(tx_payload, n));
    n += EDGEC_CRC_BYTES;
    size_t encoded = edgec_cobs_encode(tx_payload, n, tx_encoded);
    tx_encoded[encoded++] = 0u;
    edgec_uart_write(tx_encoded, encoded);
}

static void send_error(uint8_t seq, uint8_t error, uint8_t command)
{
    reply_body()[0] = error;
    reply_body()[1] = command;
    send_reply((uint8_t)EDGEC_REPLY_ERROR, seq, 2u);
}

static void do_hello(uint8_t seq, const uint8_t *body, size_t len)
{
    if (len != 5u) {
        send_error(seq, EDGEC_ERR_BAD_LENGTH, EDGEC_CMD_HELLO);
        return;
    }
    if (memcmp(body, "EDGC", 4u) != 0) {
        send_error(seq, EDGEC_ERR_BAD_ARGUMENT, EDGEC_CMD_HELLO);
        return;
    }
    uint8_t *out = reply_body();
    memcpy(out, "EDGC", 4u);
    out[4] = (uint8_t)EDGEC_PROTOCOL_VERSION;
    put_u16(out + 5, EDGEC_MAX_BODY);
    send_reply(EDGEC_CMD_HELLO | EDGEC_REPLY_FLAG, seq, 7u);
}

static size_t put_shape(uint8_t *out, const uint32_t *shape, uint32_t rank)
{
    out[0] = (uint8_t)rank;
    for (uint32_t i = 0; i < rank; i++) {
        put_u32(out + 1 + 4u * i, shape[i]);
    }
    return 1u + 4u * rank;
}

static void put_f32(uint8_t *p, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_u32(p, bits);
}

static void do_info(uint8_t seq, size_t len)
{
    if (len != 0u) {
        send_error(seq, EDGEC_ERR_BAD_LENGTH, EDGEC_CMD_INFO);
        return;
    }
    uint8_t *out = reply_body();
    out[0] = (uint8_t)EDGEC_PROTOCOL_VERSION;
    out[1] = edgec_counter_unit();
    put_u16(out + 2, EDGEC_OP_COUNT);
    put_u32(out + 4, EDGEC_MODEL_HASH);
    put_u32(out + 8, EDGEC_ARENA_SIZE);
    put_u32(out + 12, EDGEC_INPUT_SIZE);
    put_u32(out + 16, EDGEC_OUTPUT_SIZE);
    put_u32(out + 20, edgec_board_clock_hz());
    put_u32(out + 24, edgec_counter_resolution());
    put_f32(out + 28, EDGEC_INPUT_SCALE);
    put_u32(out + 32, (uint32_t)(int32_t)(EDGEC_INPUT_ZERO_POINT));
    put_f32(out + 36, EDGEC_OUTPUT_SCALE);
    put_u32(out + 40, (uint32_t)(int32_t)(EDGEC_OUTPUT_ZERO_POINT));
    size_t n = 44u;
    n += put_shape(out + n, input_shape, EDGEC_INPUT_RANK);
    n += put_shape(out + n, output_shape, EDGEC_OUTPUT_RANK);
    static const char name[] = EDGEC_TARGET_NAME;
    size_t name_len = sizeof name - 1u;
    if (name_len > 32u) {
        name_len = 32u;
    }
    out[n++] = (uint8_t)name_len;
    memcpy(out + n, name, name_len);
    n += name_len;
    send_reply(EDGEC_CMD_INFO | EDGEC_REPLY_FLAG, seq, n);
}

static void do_write_input(uint8_t seq, const uint8_t *body, size_t len)
{
    if (len < 4u) {
        send_error(seq, EDGEC_ERR_BAD_LENGTH, EDGEC_CMD_WRITE_INPUT);
        return;
    }
    uint32_t offset = get_u32(body);
    size_t count = len - 4u;
    if (offset > EDGEC_INPUT_SIZE || count > EDGEC_INPUT_SIZE - offset) {
        send_error(seq, EDGEC_ERR_BAD_OFFSET, EDGEC_CMD_WRITE_INPUT);
        return;
    }
    memcpy(model_input + offset, body + 4, count);
    uint8_t *out = reply_body();
    put_u32(out, offset);
    put_u16(out + 4, (uint32_t)count);
    send_reply(EDGEC_CMD_WRITE_INPUT | EDGEC_REPLY_FLAG, seq, 6u);
}

/* INVOKE and READ_COUNTS share one reply: total, op count, first op, counts. */
static void send_counts(uint8_t code, uint8_t seq, uint32_t first)
{
    uint8_t *out = reply_body();
    put_u32(out, total_count);
    put_u32(out + 4, 0u); /* high word of the 64-bit total */
    put_u16(out + 8, EDGEC_OP_COUNT);
    put_u16(out + 10, first);
    size_t n = 12u;
    for (uint32_t k = first; k < EDGEC_OP_COUNT && n + 4u <= EDGEC_MAX_BODY; k++) {
        put_u32(out + n, edgec_profile_counts[k]);
        n += 4u;
    }
    send_reply(code, seq, n);
}

static void do_invoke(uint8_t seq, size_t len)
{
    if (len != 0u) {
        send_error(seq, EDGEC_ERR_BAD_LENGTH, EDGEC_CMD_INVOKE);
        return;
    }
    uint32_t start = edgec_counter_read();
    edgec_model_run(model_input, model_output);
    total_count = edgec_counter_read() - start;
    send_counts(EDGEC_CMD_INVOKE | EDGEC_REPLY_FLAG, seq, 0u);
}

static void do_read_counts(uint8_t seq, const uint8_t *body, size_t len)
{
    if (len != 2u) {
        send_error(seq, EDGEC_ERR_BAD_LENGTH, EDGEC_CMD_READ_COUNTS);
        return;
    }
    uint32_t first = get_u16(body);
    if (first > EDGEC_OP_COUNT) {
        send_error(seq, EDGEC_ERR_BAD_OFFSET, EDGEC_CMD_READ_COUNTS);
        return;
    }
    send_counts(EDGEC_CMD_READ_COUNTS | EDGEC_REPLY_FLAG, seq, first);
}

static void do_read_output(uint8_t seq, const uint8_t *body, size_t len)
{
    if (len != 6u) {
        send_error(seq, EDGEC_ERR_BAD_LENGTH, EDGEC_CMD_READ_OUTPUT);
        return;
    }
    uint32_t offset = get_u32(body);
    uint32_t count = get_u16(body + 4);
    if (count > EDGEC_MAX_BODY - 4u) {
        send_error(seq, EDGEC_ERR_BAD_LENGTH, EDGEC_CMD_READ_OUTPUT);
        return;
    }
    if (offset > EDGEC_OUTPUT_SIZE || count > EDGEC_OUTPUT_SIZE - offset) {
        send_error(seq, EDGEC_ERR_BAD_OFFSET, EDGEC_CMD_READ_OUTPUT);
        return;
    }
    uint8_t *out = reply_body();
    put_u32(out, offset);
    memcpy(out + 4, model_output + offset, count);
    send_reply(EDGEC_CMD_READ_OUTPUT | EDGEC_REPLY_FLAG, seq, 4u + count);
}

void edgec_server_handle(uint8_t *encoded, size_t len)
{
    long decoded = edgec_cobs_decode(encoded, len);
    if (decoded < 0) {
        send_error(0u, EDGEC_ERR_BAD_FRAME, 0u);
        return;
    }
    size_t n = (size_t)decoded;
    const uint8_t *payload = encoded;
    uint8_t code = n > 0u ? payload[0] : 0u;
    uint8_t seq = n > 1u ? payload[1] : 0u;
    if (n < EDGEC_HEADER_BYTES + EDGEC_CRC_BYTES) {
        /* Too short to be a frame: damaged in transit (e.g. truncated). */
        send_error(seq, EDGEC_ERR_BAD_FRAME, code);
        return;
    }
    size_t body_len = n - EDGEC_HEADER_BYTES - EDGEC_CRC_BYTES;
    uint32_t crc = get_u16(payload + n - EDGEC_CRC_BYTES);
    if (edgec_crc16(payload, n - EDGEC_CRC_BYTES) != crc) {
        send_error(seq, EDGEC_ERR_BAD_CRC, code);
        return;
    }
    if (get_u16(payload + 2) != body_len) {
        send_error(seq, EDGEC_ERR_BAD_LENGTH, code);
        return;
    }
    const uint8_t *body = payload + EDGEC_HEADER_BYTES;
    switch (code) {
    case EDGEC_CMD_HELLO:
        do_hello(seq, body, body_len);
        break;
    case EDGEC_CMD_INFO:
        do_info(seq, body_len);
        break;
    case EDGEC_CMD_WRITE_INPUT:
        do_write_input(seq, body, body_len);
        break;
    case EDGEC_CMD_INVOKE:
        do_invoke(seq, body_len);
        break;
    case EDGEC_CMD_READ_OUTPUT:
        do_read_output(seq, body, body_len);
        break;
    case EDGEC_CMD_READ_COUNTS:
        do_read_counts(seq, body, body_len);
        break;
    default:
        send_error(seq, EDGEC_ERR_UNKNOWN_COMMAND, code);
        break;
    }
}

void edgec_server_run(void)
{
    size_t n = 0;
    int overflow = 0;
    for (;;) {
        uint8_t byte = edgec_uart_read();
        if (byte != 0u) {
            if (n < sizeof rx_buf) {
                rx_buf[n++] = byte;
            } else {
                overflow = 1;
            }
            continue;
        }
        if (overflow) {
            send_error(0u, EDGEC_ERR_FRAME_TOO_LONG, 0u);
        } else if (n > 0u) {
            edgec_server_handle(rx_buf, n);
        }
        n = 0;
        overflow = 0;
    }
}
