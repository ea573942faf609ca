/* repack.h — weight matrices copied at load into layouts that faster kernels read (today:
 * Q4_K, Q6_K, Q4_0 and Q8_0 rows 16 at a time: k_interleaved.h, legacy_interleaved.h), as llama.cpp
 * repacks its Q4_0 / Q4_K rows. The
 * file's rows stay mapped and remain the reference path; the copies cost memory, which the
 * memory plan counts (repack_plan_bytes) before repack_weights allocates it. */
#ifndef ROPEWALK_REPACK_H
#define ROPEWALK_REPACK_H

#include <stddef.h>

#include "../models/model.h"

/* Rows per group of every repacked layout: the pool hands out whole groups. */
enum { REPACK_GROUP_ROWS = 16 };

/* Bytes the copies of m's matrices take (0: nothing to repack in this build). */
size_t repack_plan_bytes(const Model *m);
/* Makes the copies (one buffer, m->repacked) and points each matrix's `interleaved` at its
 * own. 0, or -1 with a message when the memory cannot be had. */
int repack_weights(Model *m, char *err, size_t err_size);

#endif
