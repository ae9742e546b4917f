/* bench_util.h - clock and memory readings for the core's benchmark programs
 * (bench_*.c, run by hand; not tests). Linux: /proc/self. */
#ifndef HL_BENCH_UTIL_H
#define HL_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A field of /proc/self/status in kB (VmRSS, VmHWM...), or -1. */
static inline long status_kb(const char *key) {
    FILE *file = fopen("/proc/self/status", "r");
    if (file == NULL)
        return -1;
    char line[256];
    long value = -1;
    size_t key_length = strlen(key);
    while (fgets(line, sizeof(line), file) != NULL) {
        if (strncmp(line, key, key_length) == 0 && line[key_length] == ':') {
            value = strtol(line + key_length + 1, NULL, 10);
            break;
        }
    }
    fclose(file);
    return value;
}

/* Reset the peak resident size (VmHWM) to the current one; 0 on success. */
static inline int reset_peak_rss(void) {
    FILE *file = fopen("/proc/self/clear_refs", "w");
    if (file == NULL)
        return -1;
    int ok = fputs("5", file) >= 0;
    return fclose(file) == 0 && ok ? 0 : -1;
}

#endif /* HL_BENCH_UTIL_H */
