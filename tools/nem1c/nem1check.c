/*
 * nem1check: command-line driver for the NEM1 C reference reader.
 *
 *   nem1check FILE            print "OK", or "E_CODE OFFSET", for one file
 *   nem1check --batch         the same for each path read from stdin, one line each
 *                             (flushed after each line, so a caller can stream)
 *   nem1check --eval FILE     for each stdin line of ten raw features, print
 *                             "q0 .. q9 y0 y1" (grid values, clamped outputs);
 *                             a rejected FILE prints its verdict instead
 *   nem1check --runtime FILE  for each stdin line, print the runtime's pair "y0 y1"
 *
 * --skip-metadata first reads as a runtime that skips the metadata profile (spec 6.1).
 *
 * Raw features are parsed with strtod: decimal, C99 hex floats, inf, nan.
 * Exit status: 0 accepted, 1 rejected, 2 usage or I/O error.
 */
#include "nem1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t buffer[NEM1_MAX_FILE + 1];
static nem1_reflex reflex;
static unsigned read_flags; /* NEM1_SKIP_METADATA_PROFILE with --skip-metadata */

/* Read up to NEM1_MAX_FILE + 1 bytes: enough to tell that a file is too big. */
static int read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }
    *size = fread(buffer, 1, sizeof buffer, f);
    if (ferror(f)) {
        fclose(f);
        return 0;
    }
    fclose(f);
    return 1;
}

/* Print the verdict for one file (not "OK" if quiet); 0 accepted, 1 rejected, 2 unreadable. */
static int check(const char *path, int quiet)
{
    size_t size;
    uint32_t offset = 0;
    nem1_error err;
    if (!read_file(path, &size)) {
        printf("E_IO 0\n");
        return 2;
    }
    err = nem1_read(buffer, size, read_flags, &reflex, &offset);
    if (err == NEM1_OK) {
        if (!quiet) {
            printf("OK\n");
        }
        return 0;
    }
    printf("%s %lu\n", nem1_error_name(err), (unsigned long)offset);
    return 1;
}

static int parse_features(const char *line, double x[NEM1_FEATURES])
{
    const char *p = line;
    char *end;
    int i;
    for (i = 0; i < NEM1_FEATURES; i++) {
        x[i] = strtod(p, &end);
        if (end == p) {
            return 0;
        }
        p = end;
    }
    return 1;
}

static int evaluate_lines(const char *path, int runtime)
{
    char line[4096];
    double x[NEM1_FEATURES];
    int32_t q[NEM1_FEATURES];
    int16_t y[NEM1_OUTPUTS];
    nem1_runtime rt;
    int status = check(path, 1), i;
    if (status != 0) {
        return status;
    }
    nem1_runtime_init(&rt, &reflex);
    while (fgets(line, sizeof line, stdin) != NULL) {
        if (!parse_features(line, x)) {
            fprintf(stderr, "nem1check: expected ten numbers: %s", line);
            return 2;
        }
        if (runtime) {
            nem1_runtime_step(&rt, x, y);
        } else {
            nem1_quantize(&reflex, x, q);
            nem1_evaluate(&reflex, x, y);
            for (i = 0; i < NEM1_FEATURES; i++) {
                printf("%ld ", (long)q[i]);
            }
        }
        printf("%d %d\n", y[0], y[1]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--skip-metadata") == 0) {
        read_flags = NEM1_SKIP_METADATA_PROFILE;
        argc--;
        argv++;
    }
    if (argc == 2 && strcmp(argv[1], "--batch") == 0) {
        char path[4096];
        while (fgets(path, sizeof path, stdin) != NULL) {
            path[strcspn(path, "\n")] = '\0';
            check(path, 0);
            fflush(stdout);
        }
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--eval") == 0) {
        return evaluate_lines(argv[2], 0);
    }
    if (argc == 3 && strcmp(argv[1], "--runtime") == 0) {
        return evaluate_lines(argv[2], 1);
    }
    if (argc == 2 && argv[1][0] != '-') {
        return check(argv[1], 0);
    }
    fprintf(stderr, "usage: nem1check [--skip-metadata] FILE | --batch | --eval FILE | "
                    "--runtime FILE\n");
    return 2;
}
