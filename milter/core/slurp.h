/* SPDX-License-Identifier: MIT */
/*
 * slurp.h - read a whole file, bounded.
 *
 * Config and list files are read whole before parsing. A size bound keeps
 * a mistaken path (/dev/zero, a disk image) from eating the memory.
 */
#ifndef MV_SLURP_H
#define MV_SLURP_H

#include <stddef.h>

/* mv_slurp - whole file, NUL-terminated, malloc'd; NULL and errno on error
 * (EFBIG when larger than max) */
char *mv_slurp(const char *path, size_t max, size_t *len);

#endif
