// Small-batch matrix products straight from GGUF-quantized weights, and the thread pool
// they run on. Decoding a few rows is bound by reading the weights from memory, so reading
// Q4_1/Q8_0 blocks (5-6 bits a weight) instead of f32 (32 bits) is what makes it fast.
// The weights' values are exactly those of the f32 dequantization; only summation order differs.
#ifndef SWITCHBOARD_CKERNELS_QUANT_H
#define SWITCHBOARD_CKERNELS_QUANT_H

#include <stdint.h>
#include "ckernels_lowrank.h"

/// Most rows the quantized kernels take in one call.
#define SB_QUANT_MAX_ROWS 8

/// Semantics: y[m, n] (+)= sum_k x[m, k] * W[n, k] for m < rows, n < outFeatures, where W's
/// row n is inFeatures/32 consecutive Q4_1 blocks (20 bytes: f16 d, f16 m, 16 nibble bytes;
/// w = d*q + m). rows <= SB_QUANT_MAX_ROWS, inFeatures % 32 == 0. Runs on the thread pool.
void sb_gemm_q4_1(const float *x, int ldx, int rows, const void *w, int inFeatures, int outFeatures,
                  float *y, int ldy, int accumulate);

/// Same for Q8_0 blocks (34 bytes: f16 d, 32 int8; w = d*q).
void sb_gemm_q8_0(const float *x, int ldx, int rows, const void *w, int inFeatures, int outFeatures,
                  float *y, int ldy, int accumulate);

/// A slice of work [begin, end) for the pool.
typedef void (*sb_task_fn)(void *ctx, int begin, int end);

/// Runs fn over [0, n) split across the pool in whole multiples of `grain`; returns when
/// every slice is done. Runs inline when n <= grain or the pool has one thread.
void sb_parallel_for(int n, int grain, sb_task_fn fn, void *ctx);

/// Threads the kernels above use (including the caller). Set before first use, or any time.
void sb_set_thread_count(int threads);
int sb_thread_count(void);

#endif

#ifndef SWITCHBOARD_CKERNELS_PANEL_H
#define SWITCHBOARD_CKERNELS_PANEL_H
/// Semantics: y[m, n] (+)= sum_k x[m, k] * W[n, k] for m < rows (any count), n < outFeatures.
/// W's rows are Q4_1 (type 3) or Q8_0 (type 8) blocks. Each group of 4 weight rows is
/// dequantized once into a small f32 panel in L1 and multiplied against every x row, so the
/// weights cross the memory bus once per call at their quantized size. For a handful to
/// about a hundred rows (batched decoding). Runs on the thread pool.
void sb_gemm_quant_panel(int type, const float *x, int ldx, int rows, const void *w, int inFeatures,
                         int outFeatures, float *y, int ldy, int accumulate);

/// sb_gemm_quant_panel, then sb_lowrank_apply(tasks) on its output, computed together: the
/// tasks (bound by reading their factors) run alongside the panels (bound by arithmetic), and
/// the result is bit for bit that of the two calls in sequence. `delta`: scratch laid out like
/// y (ldy floats a row, `rows` rows); only the tasks' rows and columns are written.
void sb_gemm_quant_panel_lowrank(int type, const float *x, int ldx, int rows, const void *w, int inFeatures,
                                 int outFeatures, float *y, int ldy, int accumulate,
                                 const sb_lowrank_task *tasks, int taskCount, float *delta);

/// Lets the panel kernel use AVX-512 when the CPU has it (the default) or forces AVX2 (tests
/// compare both). Returns whether AVX-512 is now in use.
int sb_set_avx512(int enabled);

/// Whether the panel kernel uses AVX-512.
int sb_avx512_in_use(void);
#endif
