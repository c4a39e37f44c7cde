/*
 * timer.c — monotonic clock.
 */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "core.h"

uint64_t qr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double qr_now(void) { return (double)qr_now_ns() * 1e-9; }
