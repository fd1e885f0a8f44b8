/*
 * nem1.h: C99 reference reader, validator, evaluator and runtime for NEM1
 * `.reflex` files (spec/NEM1.md, version 1.0).
 *
 * No dynamic allocation: the caller provides every byte of storage. A
 * `nem1_reflex` is about 5 KB; its `metadata` pointer points into the
 * caller's input buffer, which must outlive it. No undefined behaviour on any
 * input. Build with -std=c99 -ffp-contract=off (spec section 10 forbids fused
 * multiply-add) and without -ffast-math. The metadata float check (spec 6.1 rule 5) uses
 * strtod and snprintf("%.*e"), so LC_NUMERIC must be "C" (the default) and the C library
 * must round correctly (glibc, musl and the BSDs do).
 */
#ifndef NEM1_H
#define NEM1_H

#include <stddef.h>
#include <stdint.h>

#define NEM1_FEATURES 10
#define NEM1_OUTPUTS 2
#define NEM1_MAX_NODES 255
#define NEM1_MAX_DEPTH 8
#define NEM1_MAX_FILE 131072u
#define NEM1_MAX_METADATA 65536u
#define NEM1_LEAF 0xFF

/* Error codes of spec section 13, in the order of that table. */
typedef enum {
    NEM1_OK = 0,
    NEM1_E_LIMIT,
    NEM1_E_TRUNCATED,
    NEM1_E_MAGIC,
    NEM1_E_VERSION,
    NEM1_E_COUNT,
    NEM1_E_TRAILING,
    NEM1_E_CRC,
    NEM1_E_RESERVED,
    NEM1_E_HEADER,
    NEM1_E_SCALING,
    NEM1_E_FEATURE_INDEX,
    NEM1_E_NODE_INDEX,
    NEM1_E_NODE_ORDER,
    NEM1_E_NODE_ORPHAN,
    NEM1_E_DEPTH,
    NEM1_E_BOUNDS,
    NEM1_E_METADATA_UTF8,
    NEM1_E_METADATA_YAML,
    NEM1_E_METADATA_KEY
} nem1_error;

/* One tree node (spec section 4.1). */
typedef struct {
    uint8_t feature;   /* 0..9, or NEM1_LEAF */
    uint8_t reserved;
    int16_t threshold; /* q <= threshold goes left */
    uint16_t left;
    uint16_t right;
    int16_t value;     /* leaf output */
} nem1_node;

/* One decoded, validated file. */
typedef struct {
    uint8_t version_major;
    uint8_t version_minor;
    uint16_t flags;
    uint8_t feature_count;
    uint8_t output_count;
    uint16_t q_scale;
    uint8_t confirm_steps;
    uint8_t reserved;
    uint16_t dwell_steps;
    double lo[NEM1_FEATURES];
    double hi[NEM1_FEATURES];
    uint16_t node_count[NEM1_OUTPUTS];
    nem1_node nodes[NEM1_OUTPUTS][NEM1_MAX_NODES];
    int16_t bound_min[NEM1_OUTPUTS];
    int16_t bound_max[NEM1_OUTPUTS];
    uint32_t metadata_length;
    const uint8_t *metadata; /* points into the input buffer */
    uint32_t crc;
} nem1_reflex;

/* Runtime hysteresis state (spec section 11). */
typedef struct {
    const nem1_reflex *reflex;
    int started;
    int16_t active[NEM1_OUTPUTS];
    uint32_t held;
    int has_candidate;
    int16_t candidate[NEM1_OUTPUTS];
    uint32_t streak;
} nem1_runtime;

/* Flags for nem1_read. */
#define NEM1_SKIP_METADATA_PROFILE 1u /* a runtime MAY skip section 6.1 */

/*
 * Read and fully validate `size` bytes at `data` into `*out`, in the order of
 * spec section 9. Returns NEM1_OK, or the first error with its byte offset in
 * `*offset` (may be NULL). `*out` is only meaningful on NEM1_OK.
 */
nem1_error nem1_read(const uint8_t *data, size_t size, unsigned flags, nem1_reflex *out,
                     uint32_t *offset);

/* Validate metadata bytes against spec section 6.1; `*offset` is within them. */
nem1_error nem1_check_metadata(const uint8_t *yaml, uint32_t length, uint32_t *offset);

/* Spec section 10, step 1: grid values of ten raw features. */
void nem1_quantize(const nem1_reflex *r, const double x[NEM1_FEATURES],
                   int32_t q[NEM1_FEATURES]);

/* Spec section 10: clamped outputs for ten raw features. */
void nem1_evaluate(const nem1_reflex *r, const double x[NEM1_FEATURES],
                   int16_t y[NEM1_OUTPUTS]);

/* Spec section 11. */
void nem1_runtime_init(nem1_runtime *rt, const nem1_reflex *r);
void nem1_runtime_step(nem1_runtime *rt, const double x[NEM1_FEATURES],
                       int16_t y[NEM1_OUTPUTS]);

/* CRC-32 (zlib polynomial) of `n` bytes. */
uint32_t nem1_crc32(const uint8_t *data, size_t n);

/* "E_LIMIT" etc.; "OK" for NEM1_OK. */
const char *nem1_error_name(nem1_error code);

#endif
