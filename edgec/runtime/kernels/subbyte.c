/* Packed int4/int2 feature maps: row unpacking and packing around the int8 kernels (subbyte.h). */
#include <string.h>

#include "arm_dsp.h"
#include "subbyte.h"

/* Sign-extend the low `bits` bits of v. */
static inline int8_t sign_extend(uint32_t v, int32_t bits)
{
    const int32_t shift = 32 - bits;
    return (int8_t)((int32_t)(v << shift) >> shift);
}

/* Sign-extend the 4-bit (bits 4) or 2-bit (bits 2) lane in the low bits of every byte of v, whose
 * other bits are 0: USUB8 of (v ^ sign) - sign on Armv7E-M; elsewhere OR the high bits into the
 * bytes with the sign bit set (0x08 * 0x1E = 0xF0, 0x02 * 0x7F = 0xFE: no carry between bytes). */
static inline uint32_t sign_extend_lanes(uint32_t v, int32_t bits)
{
    const uint32_t sign = bits == 4 ? 0x08080808u : 0x02020202u;
#if EDGEC_DSP_NATIVE
    return __usub8(v ^ sign, sign);
#else
    return v | (v & sign) * (bits == 4 ? 0x1Eu : 0x7Fu);
#endif
}

/* The tail of a pixel (its last c % 8 channels, sequential int4 lanes) unpacked: four channels (two
 * bytes spread to four, every byte sign-extended) at a time, then one at a time. */
static inline void unpack_tail4(const uint8_t *s, int32_t c, int8_t *dst)
{
    int32_t ch = 0;
    for (; ch + 4 <= c; ch += 4, s += 2, dst += 4) {
        uint32_t v = (uint32_t)s[0] | ((uint32_t)s[1] << 16);
        v = sign_extend_lanes((v | (v << 4)) & 0x0F0F0F0Fu, 4);
        memcpy(dst, &v, 4); /* little-endian byte order: channel ch first */
    }
    for (; ch < c; ++ch) {
        *dst++ = sign_extend((uint32_t)s[(ch & 3) >> 1] >> (4 * (ch & 1)), 4);
    }
}

/* As unpack_tail4 for the last c % 16 channels of an int2 pixel (one byte spread to four at a time). */
static inline void unpack_tail2(const uint8_t *s, int32_t c, int8_t *dst)
{
    int32_t ch = 0;
    for (; ch + 4 <= c; ch += 4, ++s, dst += 4) {
        uint32_t v = (uint32_t)*s | ((uint32_t)*s << 12);
        v = sign_extend_lanes((v | (v << 6)) & 0x03030303u, 2);
        memcpy(dst, &v, 4);
    }
    for (; ch < c; ++ch) {
        *dst++ = sign_extend((uint32_t)*s >> (2 * (ch & 3)), 2);
    }
}

/* `groups` word groups of int4 lanes at s unpacked to dst (eight int8 values each). */
static void unpack_groups4(const uint8_t *s, int32_t groups, int8_t *dst)
{
    int32_t g;
    for (g = 0; g + 2 <= groups; g += 2, s += 8, dst += 16) { /* two groups a step: less loop overhead */
        uint32_t v, w, q0, q1, q2, q3;
        memcpy(&v, s, 4);
        memcpy(&w, s + 4, 4);
        q0 = sign_extend_lanes(v & 0x0F0F0F0Fu, 4);
        q1 = sign_extend_lanes((v >> 4) & 0x0F0F0F0Fu, 4);
        q2 = sign_extend_lanes(w & 0x0F0F0F0Fu, 4);
        q3 = sign_extend_lanes((w >> 4) & 0x0F0F0F0Fu, 4);
        memcpy(dst, &q0, 4);
        memcpy(dst + 4, &q1, 4);
        memcpy(dst + 8, &q2, 4);
        memcpy(dst + 12, &q3, 4);
    }
    for (; g < groups; ++g, s += 4, dst += 8) {
        uint32_t v, q0, q1;
        memcpy(&v, s, 4);
        q0 = sign_extend_lanes(v & 0x0F0F0F0Fu, 4);
        q1 = sign_extend_lanes((v >> 4) & 0x0F0F0F0Fu, 4);
        memcpy(dst, &q0, 4);
        memcpy(dst + 4, &q1, 4);
    }
}

/* `groups` word groups of int2 lanes at s unpacked to dst (sixteen int8 values each). */
static void unpack_groups2(const uint8_t *s, int32_t groups, int8_t *dst)
{
    int32_t g;
    for (g = 0; g < groups; ++g, s += 4, dst += 16) {
        uint32_t v, q0, q1, q2, q3;
        memcpy(&v, s, 4);
        q0 = sign_extend_lanes(v & 0x03030303u, 2);
        q1 = sign_extend_lanes((v >> 2) & 0x03030303u, 2);
        q2 = sign_extend_lanes((v >> 4) & 0x03030303u, 2);
        q3 = sign_extend_lanes((v >> 6) & 0x03030303u, 2);
        memcpy(dst, &q0, 4);
        memcpy(dst + 4, &q1, 4);
        memcpy(dst + 8, &q2, 4);
        memcpy(dst + 12, &q3, 4);
    }
}

void edgec_unpack_pixels(const uint8_t *src, int32_t w, int32_t c, int32_t pixel_stride, int32_t bits, int8_t *dst)
{
    /* Word groups (subbyte.h): field j of a word's four bytes is four consecutive channels; then the
     * pixel's sequential tail. */
    const int32_t group = bits == 4 ? 8 : 16, groups = c / group, tail = c - groups * group;
    int32_t x;
    if (bits == 8) {
        for (x = 0; x < w; ++x, src += pixel_stride, dst += c) {
            memcpy(dst, src, (size_t)c);
        }
        return;
    }
    for (x = 0; x < w; ++x, src += pixel_stride, dst += c) {
        if (groups && bits == 4) {
            unpack_groups4(src, groups, dst);
        } else if (groups) {
            unpack_groups2(src, groups, dst);
        }
        if (tail && bits == 4) {
            unpack_tail4(src + 4 * groups, tail, dst + group * groups);
        } else if (tail) {
            unpack_tail2(src + 4 * groups, tail, dst + group * groups);
        }
    }
}

/* Four int8 values saturated to the range of `bits` (4 or 2) at once: QADD8/QSUB8 on Armv7E-M
 * (x + k saturates at 127 exactly when x >= 127 - k, so subtracting k back gives min(x, 127 - k);
 * likewise max(x, k - 128)), bytewise clamps elsewhere. */
static inline uint32_t saturate_quad(uint32_t v, int32_t bits)
{
#if EDGEC_DSP_NATIVE
    const uint32_t k = bits == 4 ? 0x78787878u : 0x7E7E7E7Eu; /* 127 - 7, 127 - 1 */
    v = __qsub8(__qadd8(v, k), k);
    return __qadd8(__qsub8(v, k), k);
#else
    const int32_t hi = (1 << (bits - 1)) - 1, lo = -hi - 1;
    uint32_t r = 0;
    int32_t k;
    for (k = 0; k < 4; ++k) {
        const int32_t x = (int8_t)(v >> (8 * k));
        r |= (uint32_t)(uint8_t)(x < lo ? lo : x > hi ? hi : x) << (8 * k);
    }
    return r;
#endif
}

/* One int8 value saturated to the range of `bits` when `saturate`, else as it is. */
static inline uint32_t lane_value(int8_t x, int32_t bits, int saturate)
{
    const int32_t hi = (1 << (bits - 1)) - 1, lo = -hi - 1;
    return (uint32_t)(saturate ? (x < lo ? lo : x > hi ? hi : x) : x);
}

/* The tail of a pixel (its last c % 8 channels) packed as sequential int4 lanes: four channels at a
 * time (each byte's low nibble gathered into two bytes), then a pair, then one. */
static inline void pack_tail4(const int8_t *src, int32_t c, uint8_t *d, int saturate)
{
    int32_t ch = 0;
    for (; ch + 4 <= c; ch += 4, src += 4, d += 2) {
        uint32_t v;
        memcpy(&v, src, 4);
        if (saturate) {
            v = saturate_quad(v, 4);
        }
        v &= 0x0F0F0F0Fu;
        v |= v >> 4; /* byte 0: c0 | c1 << 4, byte 2: c2 | c3 << 4 */
        d[0] = (uint8_t)v;
        d[1] = (uint8_t)(v >> 16);
    }
    if (ch + 2 <= c) {
        *d++ = (uint8_t)((lane_value(src[0], 4, saturate) & 0xFu) | ((lane_value(src[1], 4, saturate) & 0xFu) << 4));
        src += 2;
        ch += 2;
    }
    if (ch < c) {
        *d = (uint8_t)(lane_value(*src, 4, saturate) & 0xFu);
    }
}

/* As pack_tail4 for the last c % 16 channels of an int2 pixel (four channels a byte). */
static inline void pack_tail2(const int8_t *src, int32_t c, uint8_t *d, int saturate)
{
    int32_t ch = 0;
    for (; ch + 4 <= c; ch += 4, src += 4) {
        uint32_t v;
        memcpy(&v, src, 4);
        if (saturate) {
            v = saturate_quad(v, 2);
        }
        v &= 0x03030303u;
        v |= v >> 6;  /* byte 0: c0 | c1 << 2, byte 2: c2 | c3 << 2 */
        v |= v >> 12; /* byte 0: c0 | c1 << 2 | c2 << 4 | c3 << 6 */
        *d++ = (uint8_t)v;
    }
    if (ch < c) {
        uint32_t byte = 0;
        int32_t k;
        for (k = 0; ch < c; ++ch, ++k) {
            byte |= (lane_value(*src++, 2, saturate) & 3u) << (2 * k);
        }
        *d = (uint8_t)byte;
    }
}

/* `groups` word groups of int4 lanes packed from src (eight int8 values each) to d; each group's
 * values are read before its word is written (in place: d <= src).  Saturating first when `saturate`. */
static void pack_groups4(const int8_t *src, int32_t groups, uint8_t *d, int saturate)
{
    int32_t g;
    for (g = 0; g < groups; ++g, src += 8, d += 4) {
        uint32_t q0, q1, v;
        memcpy(&q0, src, 4);
        memcpy(&q1, src + 4, 4);
        if (saturate) {
            q0 = saturate_quad(q0, 4);
            q1 = saturate_quad(q1, 4);
        }
        v = (q0 & 0x0F0F0F0Fu) | ((q1 & 0x0F0F0F0Fu) << 4);
        memcpy(d, &v, 4);
    }
}

/* As pack_groups4 for int2 lanes (sixteen int8 values a group). */
static void pack_groups2(const int8_t *src, int32_t groups, uint8_t *d, int saturate)
{
    int32_t g;
    for (g = 0; g < groups; ++g, src += 16, d += 4) {
        uint32_t q0, q1, q2, q3, v;
        memcpy(&q0, src, 4);
        memcpy(&q1, src + 4, 4);
        memcpy(&q2, src + 8, 4);
        memcpy(&q3, src + 12, 4);
        if (saturate) {
            q0 = saturate_quad(q0, 2);
            q1 = saturate_quad(q1, 2);
            q2 = saturate_quad(q2, 2);
            q3 = saturate_quad(q3, 2);
        }
        v = (q0 & 0x03030303u) | ((q1 & 0x03030303u) << 2) | ((q2 & 0x03030303u) << 4) | ((q3 & 0x03030303u) << 6);
        memcpy(d, &v, 4);
    }
}

/* The pixel loop of pack_pixels for one width and one `saturate`, both constants where it is
 * inlined (so the saturation is in or out of the loops, not tested per word). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void pack_pixel_loop(const int8_t *src, int32_t w, int32_t c, int32_t pixel_stride, int32_t bits,
                                   uint8_t *dst, int saturate)
{
    const int32_t group = bits == 4 ? 8 : 16, groups = c / group, tail = c % group;
    int32_t x;
    for (x = 0; x < w; ++x, src += c, dst += pixel_stride) {
        if (groups && bits == 4) {
            pack_groups4(src, groups, dst, saturate);
        } else if (groups) {
            pack_groups2(src, groups, dst, saturate);
        }
        if (tail && bits == 4) {
            pack_tail4(src + group * groups, tail, dst + 4 * groups, saturate);
        } else if (tail) {
            pack_tail2(src + group * groups, tail, dst + 4 * groups, saturate);
        }
    }
}

/* edgec_pack_pixels, saturating every value to the range of `bits` first when `saturate`: word
 * groups, then the pixel's sequential tail (subbyte.h). */
static void pack_pixels(const int8_t *src, int32_t w, int32_t c, int32_t pixel_stride, int32_t bits, uint8_t *dst,
                        int saturate)
{
    int32_t x;
    if (bits == 4 && saturate) {
        pack_pixel_loop(src, w, c, pixel_stride, 4, dst, 1);
    } else if (bits == 4) {
        pack_pixel_loop(src, w, c, pixel_stride, 4, dst, 0);
    } else if (bits == 2 && saturate) {
        pack_pixel_loop(src, w, c, pixel_stride, 2, dst, 1);
    } else if (bits == 2) {
        pack_pixel_loop(src, w, c, pixel_stride, 2, dst, 0);
    } else {
        for (x = 0; x < w; ++x, src += c, dst += pixel_stride) {
            memcpy(dst, src, (size_t)c);
        }
    }
}

void edgec_pack_pixels(const int8_t *src, int32_t w, int32_t c, int32_t pixel_stride, int32_t bits, uint8_t *dst)
{
    pack_pixels(src, w, c, pixel_stride, bits, dst, 0);
}

/* A one-row (or `rows`-row) dense int8 view of `data`. */
static void dense_rows(int8_t *data, int32_t rows, int32_t w, int32_t c, edgec_view *v)
{
    v->data = data;
    v->h = rows;
    v->w = w;
    v->c = c;
    v->row_stride = w * c;
    v->col_stride = c;
}

/* Pixels of `v` are whole word groups with nothing between them (C a multiple of 32 / bits, dense):
 * the groups of a row follow one another as if the row were one pixel. */
static inline int whole_bytes(const edgec_packed_view *v)
{
    return v->pixel_stride * 8 == v->c * v->bits && v->c % (32 / v->bits) == 0;
}

/* Rows [first, first + rows) of `in` as an int8 view: in place at 8 bits, else unpacked into scratch. */
static void rows_view(const edgec_packed_view *in, int32_t first, int32_t rows, int8_t *scratch, edgec_view *v)
{
    const uint8_t *src = in->data + first * in->row_stride;
    int32_t r;
    if (in->bits == 8) {
        v->data = (int8_t *)(uintptr_t)src;
        v->h = rows;
        v->w = in->w;
        v->c = in->c;
        v->row_stride = in->row_stride;
        v->col_stride = in->pixel_stride;
        return;
    }
    for (r = 0; r < rows; ++r) {
        if (whole_bytes(in)) { /* a row is one run of w * c lanes in word groups: no per-pixel loop */
            edgec_unpack_pixels(src + r * in->row_stride, 1, in->w * in->c, 0, in->bits, scratch + r * in->w * in->c);
        } else {
            edgec_unpack_pixels(src + r * in->row_stride, in->w, in->c, in->pixel_stride, in->bits,
                                scratch + r * in->w * in->c);
        }
    }
    dense_rows(scratch, rows, in->w, in->c, v);
}

int32_t edgec_packed_input_rows(const edgec_packed_view *in, int32_t y0, int32_t taps_h, int8_t *scratch,
                                edgec_view *rows)
{
    const int32_t first = y0 > 0 ? y0 : 0;
    int32_t last = y0 + taps_h;
    last = last < in->h ? last : in->h;
    rows_view(in, first < in->h ? first : in->h, last > first ? last - first : 0, scratch, rows);
    return first - y0;
}

void edgec_packed_rows(const edgec_packed_view *in, int32_t y, int32_t n, int8_t *scratch, edgec_view *rows)
{
    rows_view(in, y, n, scratch, rows);
}

void edgec_packed_output_rows(const edgec_packed_view *out, int32_t y, int32_t n, int8_t *scratch, edgec_view *rows)
{
    if (out->bits == 8) {
        rows->data = (int8_t *)(out->data + y * out->row_stride);
        rows->h = n;
        rows->w = out->w;
        rows->c = out->c;
        rows->row_stride = out->row_stride;
        rows->col_stride = out->pixel_stride;
        return;
    }
    dense_rows(scratch, n, out->w, out->c, rows);
}

/* Pack rows->h computed rows into out from row y; `saturate`: clamp to the range of out->bits first. */
static void store_rows(const edgec_packed_view *out, int32_t y, const edgec_view *rows, int saturate)
{
    int32_t r;
    if (out->bits == 8) {
        return;
    }
    for (r = 0; r < rows->h; ++r) {
        if (whole_bytes(out)) { /* a row is one run of w * c lanes */
            pack_pixels(rows->data + r * rows->row_stride, 1, out->w * out->c, 0, out->bits,
                        out->data + (y + r) * out->row_stride, saturate);
        } else {
            pack_pixels(rows->data + r * rows->row_stride, out->w, out->c, out->pixel_stride, out->bits,
                        out->data + (y + r) * out->row_stride, saturate);
        }
    }
}

void edgec_packed_store_rows(const edgec_packed_view *out, int32_t y, const edgec_view *rows)
{
    store_rows(out, y, rows, 0);
}

void edgec_packed_store_rows_saturated(const edgec_packed_view *out, int32_t y, const edgec_view *rows)
{
    store_rows(out, y, rows, 1);
}

/* Nonzero when some byte of d (unsigned) is greater than r (0..255), four bytes at once:
 * bytes below 128 exceed r < 128 when adding 127 - r sets their top bit; for r >= 128 only bytes
 * with the top bit set qualify, compared on their low seven bits. */
static inline uint32_t any_byte_above(uint32_t d, uint32_t r)
{
    const uint32_t ones = 0x01010101u, high = 0x80808080u;
    if (r < 128u) {
        return (((d & ~high) + (127u - r) * ones) | d) & high;
    }
    return ((d & ~high) + (255u - r) * ones) & d & high;
}

/* Nonzero when some byte of the dense run row[0..n) lies outside [lo, hi]. */
static uint32_t run_has_outlier(const int8_t *row, int32_t n, int8_t lo, uint32_t range)
{
    const uint32_t ones = 0x01010101u;
    const uint32_t lo_bytes = ((uint32_t)lo & 0xFFu) * ones;
    uint32_t hit = 0;
    int32_t i = 0;
#if EDGEC_DSP_NATIVE
    /* Armv7E-M: USUB8 gives every byte's x - lo (mod 256), UQSUB8 leaves a nonzero byte where
     * that exceeds the range; eight bytes a step. */
    {
        const uint32_t range_bytes = range * ones;
        for (; i + 8 <= n; i += 8) {
            uint32_t a, b;
            memcpy(&a, row + i, 4);
            memcpy(&b, row + i + 4, 4);
            hit |= __uqsub8(__usub8(a, lo_bytes), range_bytes) | __uqsub8(__usub8(b, lo_bytes), range_bytes);
        }
    }
#else
    {
        const uint32_t high = 0x80808080u;
        for (; i + 4 <= n; i += 4) {
            uint32_t x, d;
            memcpy(&x, row + i, 4);
            d = ((x | high) - (lo_bytes & ~high)) ^ ((x ^ ~lo_bytes) & high); /* bytewise x - lo, no borrows */
            hit |= any_byte_above(d, range);
        }
    }
#endif
    for (; i < n; ++i) {
        hit |= (uint32_t)((uint8_t)(row[i] - lo) > range);
    }
    return hit;
}

int edgec_has_outlier(const edgec_view *v, int8_t lo, int8_t hi)
{
    const uint32_t range = (uint32_t)(hi - lo) & 0xFFu; /* x is an outlier when (uint8_t)(x - lo) > range */
    int32_t y;
    if (lo > hi) {
        return v->h > 0 && v->w > 0 && v->c > 0; /* an empty range: every value is an outlier */
    }
    for (y = 0; y < v->h; ++y) {
        const int8_t *row = v->data + y * v->row_stride;
        uint32_t hit = 0;
        if (v->col_stride == v->c) { /* dense rows: one run of bytes */
            hit = run_has_outlier(row, v->w * v->c, lo, range);
        } else { /* strided columns: pixel by pixel */
            int32_t x;
            for (x = 0; x < v->w; ++x) {
                hit |= run_has_outlier(row + x * v->col_stride, v->c, lo, range);
            }
        }
        if (hit) {
            return 1;
        }
    }
    return 0;
}

/* Direct max pool on packed maps.  A lane (one channel's 4 or 2 bits) XORed with its sign bit
 * orders as an unsigned number, so the maximum of signed lanes is the unsigned maximum of the
 * biased ones.  A word of packed bytes is split into 8 / bits words of byte-sized lanes (each
 * byte holds one lane, high bits clear) whose byte maxima take two instructions on Armv7E-M. */

/* Bytewise unsigned maximum / minimum of words whose bytes are all below 128. */
static inline uint32_t max_bytes(uint32_t a, uint32_t b)
{
#if EDGEC_DSP_NATIVE
    uint32_t r;
    __asm__("usub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
#else
    const uint32_t ge = ((a | 0x80808080u) - b) & 0x80808080u; /* 0x80 in the bytes where a >= b */
    const uint32_t m = (ge >> 7) * 0xFFu;
    return (a & m) | (b & ~m);
#endif
}

static inline uint32_t min_bytes(uint32_t a, uint32_t b)
{
    return max_bytes(a, b) ^ a ^ b;
}

/* One chunk (nbytes = 4 or 1 bytes at `offset` of every pixel) of one output pixel: the maximum of
 * the taps' chunks, clamped to the biased act range lo_b..hi_b (replicated per lane), masked by `keep`. */
static inline void max_pool_chunk(const edgec_packed_view *in, uint8_t *dst, int32_t offset, int32_t nbytes,
                                  int32_t y0, int32_t y1, int32_t x0, int32_t x1, int32_t bits, uint32_t lo_b,
                                  uint32_t hi_b, int clamp_hi, uint32_t keep)
{
    const uint32_t lane_mask = bits == 4 ? 0x0F0F0F0Fu : 0x03030303u;
    const uint32_t bias = bits == 4 ? 0x88888888u : 0xAAAAAAAAu;
    const int32_t groups = 8 / bits;
    uint32_t acc[4];
    uint32_t r = 0;
    int32_t g, y, x;
    for (g = 0; g < groups; ++g) {
        acc[g] = lo_b;
    }
    for (y = y0; y < y1; ++y) {
        const uint8_t *p = in->data + y * in->row_stride + x0 * in->pixel_stride + offset;
        for (x = x0; x < x1; ++x, p += in->pixel_stride) {
            uint32_t v = 0;
            if (nbytes == 4) {
                memcpy(&v, p, 4);
            } else {
                v = *p;
            }
            v ^= bias;
            for (g = 0; g < groups; ++g) {
                acc[g] = max_bytes(acc[g], (v >> (g * bits)) & lane_mask);
            }
        }
    }
    for (g = 0; g < groups; ++g) {
        r |= (clamp_hi ? min_bytes(acc[g], hi_b) : acc[g]) << (g * bits);
    }
    r = (r ^ bias) & keep;
    if (nbytes == 4) {
        memcpy(dst, &r, 4);
    } else {
        *dst = (uint8_t)r;
    }
}

void edgec_max_pool2d_packed(const edgec_packed_view *in, const edgec_packed_view *out, const edgec_pool_params *p)
{
    const int32_t bits = out->bits;
    const int32_t pb = edgec_pixel_bytes(out->c, bits);
    const int32_t used = (out->c * bits) % 8; /* bits of the pixel's last byte that hold channels (0: all) */
    const uint32_t last_keep = used ? (1u << used) - 1u : 0xFFu;
    const uint32_t sign = 1u << (bits - 1), ones = 0x01010101u;
    const uint32_t lo_b = (((uint32_t)p->act_min ^ sign) & ((1u << bits) - 1u)) * ones;
    const uint32_t hi_b = (((uint32_t)p->act_max ^ sign) & ((1u << bits) - 1u)) * ones;
    const int clamp_hi = p->act_max < (int32_t)sign - 1;
    int32_t oy, ox, j;
    if (bits == 8 || in->bits != bits) {
        return; /* int8 maps and width changes take edgec_max_pool2d through the band loop */
    }
    for (oy = 0; oy < out->h; ++oy) {
        int32_t y0 = oy * p->stride_h - p->pad_top, y1 = y0 + p->kernel_h;
        y0 = y0 > 0 ? y0 : 0;
        y1 = y1 < in->h ? y1 : in->h;
        for (ox = 0; ox < out->w; ++ox) {
            uint8_t *dst = out->data + oy * out->row_stride + ox * out->pixel_stride;
            int32_t x0 = ox * p->stride_w - p->pad_left, x1 = x0 + p->kernel_w;
            x0 = x0 > 0 ? x0 : 0;
            x1 = x1 < in->w ? x1 : in->w;
            for (j = 0; j + 4 <= pb; j += 4) {
                const uint32_t keep = j + 4 == pb ? 0x00FFFFFFu | (last_keep << 24) : 0xFFFFFFFFu;
                if (bits == 4) {
                    max_pool_chunk(in, dst + j, j, 4, y0, y1, x0, x1, 4, lo_b, hi_b, clamp_hi, keep);
                } else {
                    max_pool_chunk(in, dst + j, j, 4, y0, y1, x0, x1, 2, lo_b, hi_b, clamp_hi, keep);
                }
            }
            for (; j < pb; ++j) {
                const uint32_t keep = j + 1 == pb ? last_keep : 0xFFu;
                if (bits == 4) {
                    max_pool_chunk(in, dst + j, j, 1, y0, y1, x0, x1, 4, lo_b, hi_b, clamp_hi, keep);
                } else {
                    max_pool_chunk(in, dst + j, j, 1, y0, y1, x0, x1, 2, lo_b, hi_b, clamp_hi, keep);
                }
            }
        }
    }
}
