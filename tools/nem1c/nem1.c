/* nem1.c: see nem1.h. Section numbers refer to spec/NEM1.md. */
#include "nem1.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const error_names[] = {
    "OK",           "E_LIMIT",        "E_TRUNCATED",     "E_MAGIC",
    "E_VERSION",    "E_COUNT",        "E_TRAILING",      "E_CRC",
    "E_RESERVED",   "E_HEADER",       "E_SCALING",       "E_FEATURE_INDEX",
    "E_NODE_INDEX", "E_NODE_ORDER",   "E_NODE_ORPHAN",   "E_DEPTH",
    "E_BOUNDS",     "E_METADATA_UTF8", "E_METADATA_YAML", "E_METADATA_KEY",
};

const char *nem1_error_name(nem1_error code)
{
    if ((unsigned)code < sizeof error_names / sizeof error_names[0]) {
        return error_names[code];
    }
    return "E_UNKNOWN";
}

/* ---- Section 7: CRC-32 ---------------------------------------------------- */

uint32_t nem1_crc32(const uint8_t *data, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        crc ^= data[i];
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return crc ^ 0xFFFFFFFFu;
}

/* ---- Little-endian field reads (section 9.1) ------------------------------ */

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
} cursor;

static int fits(const cursor *c, size_t k)
{
    return c->size - c->pos >= k;
}

static uint32_t get_le(const cursor *c, size_t k)
{
    uint32_t v = 0;
    size_t i;
    for (i = k; i > 0; i--) {
        v = (v << 8) | c->data[c->pos + i - 1];
    }
    return v;
}

static int16_t as_i16(uint32_t v)
{
    return (int16_t)(v >= 0x8000u ? (int32_t)v - 0x10000 : (int32_t)v);
}

static double as_f64(const uint8_t *p)
{
    uint64_t bits = 0;
    double d;
    int i;
    for (i = 7; i >= 0; i--) {
        bits = (bits << 8) | p[i];
    }
    memcpy(&d, &bits, sizeof d);
    return d;
}

#define FAIL(code, off)                                                                   \
    do {                                                                                   \
        if (offset) {                                                                      \
            *offset = (uint32_t)(off);                                                     \
        }                                                                                  \
        return (code);                                                                     \
    } while (0)

/* Read a `k`-byte field into `dst`, or fail with E_TRUNCATED at its offset. */
#define FIELD(dst, k)                                                                      \
    do {                                                                                   \
        if (!fits(&c, (k))) {                                                              \
            FAIL(NEM1_E_TRUNCATED, c.pos);                                                 \
        }                                                                                  \
        (dst) = get_le(&c, (k));                                                           \
        c.pos += (k);                                                                      \
    } while (0)

static nem1_error check_tree(const nem1_reflex *r, int o, size_t tree_off, uint32_t *offset);

nem1_error nem1_read(const uint8_t *data, size_t size, unsigned flags, nem1_reflex *out,
                     uint32_t *offset)
{
    cursor c;
    uint32_t v;
    size_t tree_off[NEM1_OUTPUTS] = {0, 0};
    size_t bounds_off, meta_off, crc_off;
    int i, o;
    nem1_error err;

    memset(out, 0, sizeof *out);
    c.data = data;
    c.size = size;
    c.pos = 0;

    /* Phase 1: framing (section 9.1). */
    if (size > NEM1_MAX_FILE) {
        FAIL(NEM1_E_LIMIT, 0);
    }
    if (!fits(&c, 4)) {
        FAIL(NEM1_E_TRUNCATED, 0);
    }
    if (memcmp(data, "NEM1", 4) != 0) {
        FAIL(NEM1_E_MAGIC, 0);
    }
    c.pos = 4;
    FIELD(v, 1);
    out->version_major = (uint8_t)v;
    if (v != 1) {
        FAIL(NEM1_E_VERSION, 4);
    }
    FIELD(v, 1);
    out->version_minor = (uint8_t)v;
    FIELD(v, 2);
    out->flags = (uint16_t)v;
    FIELD(v, 1);
    out->feature_count = (uint8_t)v;
    if (v != NEM1_FEATURES) {
        FAIL(NEM1_E_COUNT, 8);
    }
    FIELD(v, 1);
    out->output_count = (uint8_t)v;
    if (v != NEM1_OUTPUTS) {
        FAIL(NEM1_E_COUNT, 9);
    }
    FIELD(v, 2);
    out->q_scale = (uint16_t)v;
    FIELD(v, 1);
    out->confirm_steps = (uint8_t)v;
    FIELD(v, 1);
    out->reserved = (uint8_t)v;
    FIELD(v, 2);
    out->dwell_steps = (uint16_t)v;

    for (i = 0; i < NEM1_FEATURES; i++) {
        if (!fits(&c, 8)) {
            FAIL(NEM1_E_TRUNCATED, c.pos);
        }
        out->lo[i] = as_f64(data + c.pos);
        c.pos += 8;
        if (!fits(&c, 8)) {
            FAIL(NEM1_E_TRUNCATED, c.pos);
        }
        out->hi[i] = as_f64(data + c.pos);
        c.pos += 8;
    }

    for (o = 0; o < NEM1_OUTPUTS; o++) {
        tree_off[o] = c.pos;
        FIELD(v, 2);
        if (v < 1 || v > NEM1_MAX_NODES) {
            FAIL(NEM1_E_LIMIT, tree_off[o]);
        }
        out->node_count[o] = (uint16_t)v;
        for (i = 0; i < out->node_count[o]; i++) {
            nem1_node *n = &out->nodes[o][i];
            FIELD(v, 1);
            n->feature = (uint8_t)v;
            FIELD(v, 1);
            n->reserved = (uint8_t)v;
            FIELD(v, 2);
            n->threshold = as_i16(v);
            FIELD(v, 2);
            n->left = (uint16_t)v;
            FIELD(v, 2);
            n->right = (uint16_t)v;
            FIELD(v, 2);
            n->value = as_i16(v);
        }
    }

    bounds_off = c.pos;
    for (o = 0; o < NEM1_OUTPUTS; o++) {
        FIELD(v, 2);
        out->bound_min[o] = as_i16(v);
        FIELD(v, 2);
        out->bound_max[o] = as_i16(v);
    }

    {
        size_t length_off = c.pos;
        FIELD(v, 4);
        if (v > NEM1_MAX_METADATA) {
            FAIL(NEM1_E_LIMIT, length_off);
        }
    }
    out->metadata_length = v;
    meta_off = c.pos;
    if (!fits(&c, v)) {
        FAIL(NEM1_E_TRUNCATED, meta_off);
    }
    out->metadata = data + meta_off;
    c.pos += v;

    crc_off = c.pos;
    FIELD(v, 4);
    out->crc = v;
    if (c.pos != size) {
        FAIL(NEM1_E_TRAILING, c.pos);
    }

    /* Phase 2: integrity (section 9.2). */
    if (nem1_crc32(data, crc_off) != out->crc) {
        FAIL(NEM1_E_CRC, crc_off);
    }

    /* Phase 3: semantics (section 9.3). */
    if (out->flags != 0) {
        FAIL(NEM1_E_RESERVED, 6);
    }
    if (out->reserved != 0) {
        FAIL(NEM1_E_RESERVED, 13);
    }
    if (out->q_scale < 1 || out->q_scale > 32767) {
        FAIL(NEM1_E_HEADER, 10);
    }
    if (out->confirm_steps < 1 || out->confirm_steps > 100) {
        FAIL(NEM1_E_HEADER, 12);
    }
    if (out->dwell_steps > 6000) {
        FAIL(NEM1_E_HEADER, 14);
    }
    for (i = 0; i < NEM1_FEATURES; i++) {
        double lo = out->lo[i], hi = out->hi[i];
        if (!isfinite(lo) || !isfinite(hi) || lo > hi || !isfinite(hi - lo)) {
            FAIL(NEM1_E_SCALING, 16 + 16 * i);
        }
    }
    for (o = 0; o < NEM1_OUTPUTS; o++) {
        err = check_tree(out, o, tree_off[o], offset);
        if (err != NEM1_OK) {
            return err;
        }
    }
    for (o = 0; o < NEM1_OUTPUTS; o++) {
        int lowest = o == 0 ? 1 : 0;
        if (out->bound_min[o] > out->bound_max[o] || out->bound_min[o] < lowest) {
            FAIL(NEM1_E_BOUNDS, bounds_off + 4 * (size_t)o);
        }
    }
    if (!(flags & NEM1_SKIP_METADATA_PROFILE)) {
        uint32_t within = 0;
        err = nem1_check_metadata(out->metadata, out->metadata_length, &within);
        if (err != NEM1_OK) {
            FAIL(err, meta_off + within);
        }
    }
    return NEM1_OK;
}

/* Section 4.1, rules 1 to 6, for tree `o` starting at file offset `tree_off`. */
static nem1_error check_tree(const nem1_reflex *r, int o, size_t tree_off, uint32_t *offset)
{
    unsigned n = r->node_count[o];
    unsigned parents[NEM1_MAX_NODES];
    unsigned depth[NEM1_MAX_NODES];
    unsigned i;

    memset(parents, 0, sizeof parents);
    for (i = 0; i < n; i++) {
        const nem1_node *nd = &r->nodes[o][i];
        size_t at = tree_off + 2 + 10 * (size_t)i;
        if (nd->reserved != 0) {
            FAIL(NEM1_E_RESERVED, at + 1);
        }
        if (nd->feature == NEM1_LEAF) {
            if (nd->threshold != 0) {
                FAIL(NEM1_E_RESERVED, at + 2);
            }
            if (nd->left != 0) {
                FAIL(NEM1_E_RESERVED, at + 4);
            }
            if (nd->right != 0) {
                FAIL(NEM1_E_RESERVED, at + 6);
            }
            continue;
        }
        if (nd->value != 0) {
            FAIL(NEM1_E_RESERVED, at + 8);
        }
        if (nd->feature >= r->feature_count) {
            FAIL(NEM1_E_FEATURE_INDEX, at);
        }
        if (nd->left >= n) {
            FAIL(NEM1_E_NODE_INDEX, at + 4);
        }
        if (nd->left <= i) {
            FAIL(NEM1_E_NODE_ORDER, at + 4);
        }
        if (nd->right >= n) {
            FAIL(NEM1_E_NODE_INDEX, at + 6);
        }
        if (nd->right <= i) {
            FAIL(NEM1_E_NODE_ORDER, at + 6);
        }
        parents[nd->left]++;
        parents[nd->right]++;
    }
    for (i = 1; i < n; i++) {
        if (parents[i] != 1) {
            FAIL(NEM1_E_NODE_ORPHAN, tree_off + 2 + 10 * (size_t)i);
        }
    }
    depth[0] = 0;
    for (i = 0; i < n; i++) {
        const nem1_node *nd = &r->nodes[o][i];
        if (nd->feature == NEM1_LEAF) {
            continue;
        }
        depth[nd->left] = depth[i] + 1;
        depth[nd->right] = depth[i] + 1;
        if (depth[i] + 1 > NEM1_MAX_DEPTH) {
            FAIL(NEM1_E_DEPTH, tree_off);
        }
    }
    return NEM1_OK;
}

/* ---- Section 6.1: canonical NEM1 YAML ------------------------------------- */

/* Length of the UTF-8 sequence at p (RFC 3629), or 0 if it is invalid. */
static unsigned utf8_len(const uint8_t *p, size_t left, uint32_t *cp)
{
    uint8_t b = p[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        if (left < 2 || (p[1] & 0xC0) != 0x80) {
            return 0;
        }
        *cp = ((uint32_t)(b & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if (b >= 0xE0 && b <= 0xEF) {
        uint8_t lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
        if (left < 2 || p[1] < lo || p[1] > hi) {
            return 0;
        }
        if (left < 3 || (p[2] & 0xC0) != 0x80) {
            return 0;
        }
        *cp = ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        uint8_t lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
        if (left < 2 || p[1] < lo || p[1] > hi) {
            return 0;
        }
        if (left < 3 || (p[2] & 0xC0) != 0x80 || left < 4 || (p[3] & 0xC0) != 0x80) {
            return 0;
        }
        *cp = ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
              ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
        return 4;
    }
    return 0;
}

enum { K_NONE, K_STRING, K_INT, K_FLOAT, K_BOOL, K_NULL, K_LIST, K_MAP };

/* The required keys of section 6.1 rule 6, in table order. */
static const char *const required_keys[] = {
    "created_at", "telemetry_hash", "trainer_commit", "lambda", "feature_schema",
};
#define N_REQUIRED 5

typedef struct {
    const uint8_t *s;
    uint32_t n;
    uint32_t pos;
    int kind[N_REQUIRED];
    uint32_t at[N_REQUIRED];   /* offset of the entry */
    uint32_t vat[N_REQUIRED];  /* offset of the value (strings: after the quote) */
    uint32_t vlen[N_REQUIRED]; /* bytes of the value (strings: between the quotes) */
    int negative[N_REQUIRED];  /* sign of a number */
} yaml_state;

static int must_escape(uint32_t cp)
{
    return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0xFFFE || cp == 0xFFFF;
}

static int lower_hex(uint8_t b, unsigned *v)
{
    if (b >= '0' && b <= '9') {
        *v = (unsigned)(b - '0');
        return 1;
    }
    if (b >= 'a' && b <= 'f') {
        *v = (unsigned)(b - 'a' + 10);
        return 1;
    }
    return 0;
}

/* Rule 3: a string starting at the opening quote; leaves pos after the closing one. */
static int parse_string(yaml_state *st, uint32_t *vat, uint32_t *vlen)
{
    uint32_t start = ++st->pos;
    while (st->pos < st->n) {
        uint8_t b = st->s[st->pos];
        uint32_t cp = 0;
        unsigned len, i, h, v;
        if (b == '"') {
            *vat = start;
            *vlen = st->pos - start;
            st->pos++;
            return 1;
        }
        if (b == '\\') {
            if (st->n - st->pos < 2) {
                return 0;
            }
            b = st->s[st->pos + 1];
            if (b == '"' || b == '\\') {
                st->pos += 2;
                continue;
            }
            len = b == 'x' ? 2u : b == 'u' ? 4u : 0u;
            if (len == 0 || st->n - st->pos < 2 + len) {
                return 0;
            }
            v = 0;
            for (i = 0; i < len; i++) {
                if (!lower_hex(st->s[st->pos + 2 + i], &h)) {
                    return 0;
                }
                v = (v << 4) | h;
            }
            if (len == 2 ? !(v <= 0x1F || (v >= 0x7F && v <= 0x9F))
                         : !(v == 0x2028 || v == 0x2029 || v == 0xFFFE || v == 0xFFFF)) {
                return 0;
            }
            st->pos += 2 + len;
            continue;
        }
        len = utf8_len(st->s + st->pos, st->n - st->pos, &cp);
        if (len == 0 || must_escape(cp)) {
            return 0;
        }
        st->pos += len;
    }
    return 0;
}

/* Reads back `digits` (nd of them) x 10^(e - nd + 1): does it give `ax`? */
static int reads_back(const char *digits, int nd, int e, double ax)
{
    char tmp[40];
    int i, len = 0;
    tmp[len++] = digits[0];
    tmp[len++] = '.';
    for (i = 1; i < nd; i++) {
        tmp[len++] = digits[i];
    }
    snprintf(tmp + len, sizeof tmp - (size_t)len, "e%d", e);
    return strtod(tmp, NULL) == ax;
}

/* The next `nd`-digit decimal above (step 1) or below (step -1) digits x 10^(e - nd + 1). */
static void step_digits(char *digits, int nd, int *e, int step)
{
    int i = nd - 1;
    if (step > 0) {
        while (i >= 0 && digits[i] == '9') {
            digits[i--] = '0';
        }
        if (i < 0) { /* 99..9 + 1 = 10..0 x 10 */
            digits[0] = '1';
            *e += 1;
        } else {
            digits[i]++;
        }
    } else {
        while (i > 0 && digits[i] == '0') {
            digits[i--] = '9';
        }
        digits[i]--; /* the leading digit is never '0' */
        if (digits[0] == '0') { /* 10..0 - 1 = 99..9 on the finer grid below */
            memset(digits, '9', (size_t)nd);
            *e -= 1;
        }
    }
}

/* Rule 5 digits: the shortest digit string that reads back as ax, nearest to ax among
 * those of its length (ties to an even last digit). For p = 1..17, the correctly rounded
 * p-digit "%.*e" is the nearest p-digit decimal (glibc breaks exact ties to even); if it
 * does not read back, the only other p-digit decimal that may is its neighbour on the
 * other side of ax (the rounding interval of ax is convex and contains ax). */
static int shortest_digits(double ax, char *digits, int *e)
{
    char tmp[40];
    int p, nd = 0;
    for (p = 1; p <= 17; p++) {
        const char *q;
        char alt[20];
        int alt_e, step;
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, ax);
        nd = 0;
        for (q = tmp; *q != 'e'; q++) {
            if (*q != '.') {
                digits[nd++] = *q;
            }
        }
        *e = atoi(q + 1);
        if (strtod(tmp, NULL) == ax) {
            return nd;
        }
        step = strtod(tmp, NULL) < ax ? 1 : -1;
        memcpy(alt, digits, (size_t)nd);
        alt_e = *e;
        step_digits(alt, nd, &alt_e, step);
        if (reads_back(alt, nd, alt_e, ax)) {
            memcpy(digits, alt, (size_t)nd);
            *e = alt_e;
            return nd;
        }
    }
    return nd; /* not reached: 17 correctly rounded digits always read back */
}

/* The canonical spelling of a finite binary64 value (rule 5); returns its length. */
static size_t canonical_float(double x, char *out, size_t cap)
{
    char digits[20];
    size_t nd, len = 0;
    int e, i;

    if (x == 0.0) {
        return (size_t)snprintf(out, cap, "%s", signbit(x) ? "-0.0" : "0.0");
    }
    nd = (size_t)shortest_digits(fabs(x), digits, &e);
    if (signbit(x)) {
        out[len++] = '-';
    }
    if (e >= -4 && e < 16) {
        if (e < 0) {
            out[len++] = '0';
            out[len++] = '.';
            for (i = 0; i < -e - 1; i++) {
                out[len++] = '0';
            }
            for (i = 0; i < (int)nd; i++) {
                out[len++] = digits[i];
            }
        } else {
            for (i = 0; i <= e; i++) {
                out[len++] = i < (int)nd ? digits[i] : '0';
            }
            out[len++] = '.';
            if ((int)nd > e + 1) {
                for (i = e + 1; i < (int)nd; i++) {
                    out[len++] = digits[i];
                }
            } else {
                out[len++] = '0';
            }
        }
    } else {
        out[len++] = digits[0];
        out[len++] = '.';
        if (nd == 1) {
            out[len++] = '0';
        }
        for (i = 1; i < (int)nd; i++) {
            out[len++] = digits[i];
        }
        len += (size_t)snprintf(out + len, cap - len, "e%c%02d", e < 0 ? '-' : '+',
                                e < 0 ? -e : e);
    }
    out[len] = '\0';
    return len;
}

static int is_bare(uint8_t b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || b == '.' || b == '+' ||
           b == '-';
}

static int token_is(const uint8_t *t, uint32_t len, const char *word)
{
    return strlen(word) == len && memcmp(t, word, len) == 0;
}

/* Rules 4 and 5 and the literals: classify a bare token; 0 if it is none of them. */
static int classify_bare(const uint8_t *t, uint32_t len, int *negative)
{
    uint32_t i;
    *negative = len > 0 && t[0] == '-';
    if (token_is(t, len, "true") || token_is(t, len, "false")) {
        return K_BOOL;
    }
    if (token_is(t, len, "null")) {
        return K_NULL;
    }
    if (memchr(t, '.', len) != NULL) {
        char buf[40], canon[48];
        char *end;
        double x;
        if (len >= sizeof buf) {
            return 0;
        }
        memcpy(buf, t, len);
        buf[len] = '\0';
        x = strtod(buf, &end);
        if (end != buf + len || !isfinite(x)) {
            return 0;
        }
        if (canonical_float(x, canon, sizeof canon) != len || memcmp(canon, t, len) != 0) {
            return 0;
        }
        return K_FLOAT;
    }
    {
        const uint8_t *d = t + (*negative ? 1 : 0);
        uint32_t nd = len - (*negative ? 1u : 0u);
        uint64_t mag = 0, limit = *negative ? 9223372036854775808u : 9223372036854775807u;
        if (nd == 0 || (d[0] == '0' && (nd > 1 || *negative))) {
            return 0;
        }
        for (i = 0; i < nd; i++) {
            unsigned dig;
            if (d[i] < '0' || d[i] > '9') {
                return 0;
            }
            dig = (unsigned)(d[i] - '0');
            if (mag > (limit - dig) / 10) {
                return 0;
            }
            mag = mag * 10 + dig;
        }
        return K_INT;
    }
}

/* One scalar: a string or a bare token. */
static int parse_scalar(yaml_state *st, int *kind, uint32_t *vat, uint32_t *vlen, int *negative)
{
    uint32_t start = st->pos;
    *negative = 0;
    if (st->pos < st->n && st->s[st->pos] == '"') {
        *kind = K_STRING;
        return parse_string(st, vat, vlen);
    }
    while (st->pos < st->n && is_bare(st->s[st->pos])) {
        st->pos++;
    }
    *vat = start;
    *vlen = st->pos - start;
    *kind = classify_bare(st->s + start, st->pos - start, negative);
    if (*kind == 0) {
        st->pos = start;
        return 0;
    }
    return 1;
}

/* `inline = scalar / list / "{}"` */
static int parse_inline(yaml_state *st, int *kind, uint32_t *vat, uint32_t *vlen, int *negative)
{
    const uint8_t *s = st->s;
    *negative = 0;
    *vat = st->pos;
    *vlen = 0;
    if (st->pos < st->n && s[st->pos] == '{') {
        if (st->n - st->pos < 2 || s[st->pos + 1] != '}') {
            return 0;
        }
        st->pos += 2;
        *kind = K_MAP;
        return 1;
    }
    if (st->pos < st->n && s[st->pos] == '[') {
        int k, neg;
        uint32_t a, l;
        *kind = K_LIST;
        st->pos++;
        if (st->pos < st->n && s[st->pos] == ']') {
            st->pos++;
            return 1;
        }
        for (;;) {
            if (!parse_scalar(st, &k, &a, &l, &neg)) {
                return 0;
            }
            if (st->pos < st->n && s[st->pos] == ']') {
                st->pos++;
                return 1;
            }
            if (st->n - st->pos < 2 || s[st->pos] != ',' || s[st->pos + 1] != ' ') {
                return 0;
            }
            st->pos += 2;
        }
    }
    return parse_scalar(st, kind, vat, vlen, negative);
}

static int key_char(uint8_t b, int first)
{
    return (b >= 'a' && b <= 'z') || b == '_' || (!first && b >= '0' && b <= '9');
}

static int forbidden_key(const uint8_t *k, uint32_t len)
{
    static const char *const words[] = {"y",   "n",    "yes",   "no",  "on",
                                        "off", "true", "false", "null"};
    size_t i;
    for (i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (token_is(k, len, words[i])) {
            return 1;
        }
    }
    return 0;
}

/* `block(n) = 1*entry(n)` with strictly increasing keys. */
static int parse_block(yaml_state *st, unsigned level)
{
    const uint8_t *s = st->s;
    const uint8_t *prev = NULL;
    uint32_t prev_len = 0, entries = 0;

    while (st->pos < st->n) {
        uint32_t line = st->pos, k = 0, key_at, key_len, cmp_len;
        int c;
        while (st->pos < st->n && s[st->pos] == ' ') {
            st->pos++;
            k++;
        }
        if (entries > 0 && k < 2 * level) {
            st->pos = line;
            return 1;
        }
        if (k != 2 * level) {
            st->pos = line + (k < 2 * level ? k : 2 * level);
            return 0;
        }
        key_at = st->pos;
        if (st->pos >= st->n || !key_char(s[st->pos], 1)) {
            return 0;
        }
        while (st->pos < st->n && key_char(s[st->pos], 0)) {
            st->pos++;
        }
        key_len = st->pos - key_at;
        if (key_len > 64 || forbidden_key(s + key_at, key_len)) {
            st->pos = key_at;
            return 0;
        }
        if (prev != NULL) {
            cmp_len = prev_len < key_len ? prev_len : key_len;
            c = memcmp(prev, s + key_at, cmp_len);
            if (c > 0 || (c == 0 && prev_len >= key_len)) {
                st->pos = key_at;
                return 0;
            }
        }
        prev = s + key_at;
        prev_len = key_len;
        entries++;
        if (st->pos >= st->n || s[st->pos] != ':') {
            return 0;
        }
        st->pos++;
        if (st->pos < st->n && s[st->pos] == ' ') {
            int kind, negative;
            uint32_t vat, vlen, r;
            st->pos++;
            if (!parse_inline(st, &kind, &vat, &vlen, &negative)) {
                return 0;
            }
            if (st->pos >= st->n || s[st->pos] != '\n') {
                return 0;
            }
            st->pos++;
            for (r = 0; level == 0 && r < N_REQUIRED; r++) {
                if (token_is(s + key_at, key_len, required_keys[r])) {
                    st->kind[r] = kind;
                    st->at[r] = line;
                    st->vat[r] = vat;
                    st->vlen[r] = vlen;
                    st->negative[r] = negative;
                }
            }
        } else if (st->pos < st->n && s[st->pos] == '\n') {
            uint32_t r;
            if (level + 1 >= NEM1_MAX_DEPTH) {
                return 0;
            }
            st->pos++;
            for (r = 0; level == 0 && r < N_REQUIRED; r++) {
                if (token_is(s + key_at, key_len, required_keys[r])) {
                    st->kind[r] = K_MAP;
                    st->at[r] = line;
                }
            }
            if (st->pos >= st->n || !parse_block(st, level + 1)) {
                return 0;
            }
        } else {
            return 0;
        }
    }
    return entries > 0;
}

static int digits_at(const uint8_t *p, const char *shape)
{
    size_t i;
    for (i = 0; shape[i] != '\0'; i++) {
        if (shape[i] == 'd' ? !(p[i] >= '0' && p[i] <= '9') : p[i] != (uint8_t)shape[i]) {
            return 0;
        }
    }
    return 1;
}

static unsigned num(const uint8_t *p, int n)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < n; i++) {
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v;
}

/* `YYYY-MM-DDTHH:MM:SSZ`, a valid UTC time in 1970..9999, no leap second. */
static int valid_created_at(const uint8_t *p, uint32_t len)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, m, d, dim;
    if (len != 20 || !digits_at(p, "dddd-dd-ddTdd:dd:ddZ")) {
        return 0;
    }
    y = num(p, 4);
    m = num(p + 5, 2);
    d = num(p + 8, 2);
    if (y < 1970 || m < 1 || m > 12) {
        return 0;
    }
    dim = mdays[m - 1] + (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
    return d >= 1 && d <= dim && num(p + 11, 2) <= 23 && num(p + 14, 2) <= 59 &&
           num(p + 17, 2) <= 59;
}

/* Characters of a string body that passed parse_string: escapes count as one. */
static uint32_t string_chars(const uint8_t *p, uint32_t len)
{
    uint32_t i = 0, count = 0, cp;
    while (i < len) {
        if (p[i] == '\\') {
            i += p[i + 1] == 'x' ? 4 : p[i + 1] == 'u' ? 6 : 2;
        } else {
            i += utf8_len(p + i, len - i, &cp);
        }
        count++;
    }
    return count;
}

/* Rule 6, in table order; `*offset` is the entry, or 0 when the key is missing. */
static int check_required(const yaml_state *st, uint32_t *offset)
{
    const uint8_t *s = st->s;
    uint32_t i;
    int r;
    for (r = 0; r < N_REQUIRED; r++) {
        const uint8_t *v = s + st->vat[r];
        uint32_t n = st->vlen[r];
        int ok = 0;
        switch (r) {
        case 0:
            ok = st->kind[r] == K_STRING && valid_created_at(v, n);
            break;
        case 1:
            ok = st->kind[r] == K_STRING && n == 40;
            for (i = 0; ok && i < n; i++) {
                ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f');
            }
            break;
        case 2:
            if (st->kind[r] == K_STRING) {
                uint32_t chars = string_chars(v, n);
                ok = chars >= 1 && chars <= 200;
            }
            break;
        case 3:
            /* A canonical negative number is below 0, except the float -0.0. */
            ok = (st->kind[r] == K_INT || st->kind[r] == K_FLOAT) &&
                 (!st->negative[r] || token_is(v, n, "-0.0"));
            break;
        default:
            ok = st->kind[r] == K_STRING && token_is(v, n, "v1");
            break;
        }
        if (!ok) {
            *offset = st->kind[r] == K_NONE ? 0 : st->at[r];
            return 0;
        }
    }
    return 1;
}

nem1_error nem1_check_metadata(const uint8_t *yaml, uint32_t length, uint32_t *offset)
{
    yaml_state st;
    uint32_t i = 0, cp;
    while (i < length) {
        unsigned len = utf8_len(yaml + i, length - i, &cp);
        if (len == 0) {
            *offset = i;
            return NEM1_E_METADATA_UTF8;
        }
        i += len;
    }
    memset(&st, 0, sizeof st);
    st.s = yaml;
    st.n = length;
    if (!parse_block(&st, 0) || st.pos != st.n) {
        *offset = st.pos;
        return NEM1_E_METADATA_YAML;
    }
    if (!check_required(&st, offset)) {
        return NEM1_E_METADATA_KEY;
    }
    *offset = 0;
    return NEM1_OK;
}

/* ---- Section 10: evaluation ----------------------------------------------- */

void nem1_quantize(const nem1_reflex *r, const double x[NEM1_FEATURES], int32_t q[NEM1_FEATURES])
{
    int i;
    double scale = (double)r->q_scale;
    for (i = 0; i < NEM1_FEATURES; i++) {
        double lo = r->lo[i], hi = r->hi[i], v = x[i], t;
        if (isnan(v) || v <= lo) {
            q[i] = 0;
        } else if (v >= hi) {
            q[i] = r->q_scale;
        } else {
            t = v - lo;
            t = t * scale;
            t = t / (hi - lo);
            q[i] = t >= scale ? (int32_t)r->q_scale : (int32_t)floor(t);
        }
    }
}

void nem1_evaluate(const nem1_reflex *r, const double x[NEM1_FEATURES], int16_t y[NEM1_OUTPUTS])
{
    int32_t q[NEM1_FEATURES];
    int o, steps;
    nem1_quantize(r, x, q);
    for (o = 0; o < NEM1_OUTPUTS; o++) {
        const nem1_node *n = &r->nodes[o][0];
        int16_t v;
        /* A validated tree reaches a leaf within NEM1_MAX_DEPTH steps; the bounds checks
         * only keep a caller's unvalidated struct from reading out of bounds. */
        for (steps = 0; n->feature != NEM1_LEAF && steps <= NEM1_MAX_DEPTH; steps++) {
            uint16_t next;
            if (n->feature >= NEM1_FEATURES) {
                break;
            }
            next = q[n->feature] <= n->threshold ? n->left : n->right;
            if (next >= NEM1_MAX_NODES) {
                break;
            }
            n = &r->nodes[o][next];
        }
        v = n->value;
        if (v < r->bound_min[o]) {
            v = r->bound_min[o];
        }
        if (v > r->bound_max[o]) {
            v = r->bound_max[o];
        }
        y[o] = v;
    }
}

/* ---- Section 11: runtime hysteresis --------------------------------------- */

void nem1_runtime_init(nem1_runtime *rt, const nem1_reflex *r)
{
    memset(rt, 0, sizeof *rt);
    rt->reflex = r;
}

static void set_active(nem1_runtime *rt, const int16_t d[NEM1_OUTPUTS])
{
    rt->active[0] = d[0];
    rt->active[1] = d[1];
    rt->held = 1;
    rt->has_candidate = 0;
    rt->streak = 0;
}

/* Counters saturate: past 2^32 - 1 steps every comparison with C or W is settled. */
static void held_step(nem1_runtime *rt)
{
    rt->held += rt->held < UINT32_MAX;
}

void nem1_runtime_step(nem1_runtime *rt, const double x[NEM1_FEATURES], int16_t y[NEM1_OUTPUTS])
{
    int16_t d[NEM1_OUTPUTS];
    nem1_evaluate(rt->reflex, x, d);
    if (!rt->started) {
        rt->started = 1;
        set_active(rt, d);
    } else if (d[0] == rt->active[0] && d[1] == rt->active[1]) {
        rt->has_candidate = 0;
        rt->streak = 0;
        held_step(rt);
    } else {
        if (rt->has_candidate && d[0] == rt->candidate[0] && d[1] == rt->candidate[1]) {
            rt->streak += rt->streak < UINT32_MAX;
        } else {
            rt->has_candidate = 1;
            rt->candidate[0] = d[0];
            rt->candidate[1] = d[1];
            rt->streak = 1;
        }
        if (rt->streak >= rt->reflex->confirm_steps && rt->held >= rt->reflex->dwell_steps) {
            set_active(rt, d);
        } else {
            held_step(rt);
        }
    }
    y[0] = rt->active[0];
    y[1] = rt->active[1];
}
