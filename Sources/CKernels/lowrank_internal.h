// The LoRA kernel's pieces that the panel product runs alongside its own work
// (sb_gemm_quant_panel_lowrank in quant_gemm.c). Not part of the public interface.
#ifndef SWITCHBOARD_LOWRANK_INTERNAL_H
#define SWITCHBOARD_LOWRANK_INTERNAL_H

#include "ckernels_lowrank.h"

/// Runs one task's rows (sb_lowrank_apply's semantics for one task). With `to_delta` = 0 it
/// updates `out` = y in place; with 1 it stores only the low-rank sum Σ_k u_k·Bᵀ[k] (scale
/// included) at the same places of `out` = delta, and `sb_lowrank_combine` finishes
/// y = c ⊙ y + delta later, to the same bits.
void sb_lowrank_run_task(const sb_lowrank_task *task, const float *x, int ldx, float *out, int ldo, int to_delta);

/// y = c ⊙ y + delta on tasks [begin, end)'s rows and columns (delta laid out like y).
void sb_lowrank_combine(const sb_lowrank_task *tasks, int begin, int end, const float *delta, float *y, int ldy);

#endif
