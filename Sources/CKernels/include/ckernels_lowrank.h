// Low-rank adapter products (LoRA / DoRA) for the rows of one adapter segment.
// vLLM and Punica call the two halves `shrink` (x·Aᵀ) and `expand` (·Bᵀ into y).
#ifndef SWITCHBOARD_CKERNELS_LOWRANK_H
#define SWITCHBOARD_CKERNELS_LOWRANK_H

#include <stdint.h>

/// Largest rank the kernels accept (the shrink result of a row lives on the stack).
#define SB_LOWRANK_MAX_RANK 1024

/// Storage kinds of low-rank factors (sb_lowrank_task.storage).
#define SB_FACTOR_F32 0
#define SB_FACTOR_F16 1
#define SB_FACTOR_BF16 2

/// Factors are stored in tiles, in the order the kernel reads them, so that a decode row with
/// its own adapter reads each factor front to back as one stream (what the memory system
/// fetches fastest). A rows × columns factor is cut into bands of `tileRows` rows, one after
/// another; each band into tiles of `tileColumns` columns, left to right; each tile is row-major
/// (tiles at the bottom and right edges are smaller).
/// A [rank, in]: tiles of 8 ranks × 16 inputs (the shrink takes 8 ranks at a time, 16 values each).
/// Bᵀ [rank, out]: tiles of every rank × 128 outputs (the expand takes 128 columns at a time).
#define SB_A_TILE_ROWS 8
#define SB_A_TILE_COLUMNS 16
#define SB_BT_TILE_COLUMNS 128

/// Where element (row, column) of a rows × columns factor cut into tileRows × tileColumns tiles is stored.
static inline int64_t sb_tiled_index(int32_t row, int32_t column, int32_t rows, int32_t columns,
                                     int32_t tileRows, int32_t tileColumns) {
    const int32_t row0 = row / tileRows * tileRows, column0 = column / tileColumns * tileColumns;
    const int32_t height = rows - row0 < tileRows ? rows - row0 : tileRows;
    const int32_t width = columns - column0 < tileColumns ? columns - column0 : tileColumns;
    return (int64_t)row0 * columns + (int64_t)column0 * height + (int64_t)(row - row0) * width + (column - column0);
}

/// Where A's element (k, i) is stored (A: rank × in).
static inline int64_t sb_a_index(int32_t k, int32_t i, int32_t rank, int32_t in) {
    return sb_tiled_index(k, i, rank, in, SB_A_TILE_ROWS, SB_A_TILE_COLUMNS);
}

/// Where Bᵀ's element (k, j) is stored (Bᵀ: rank × out).
static inline int64_t sb_bt_index(int32_t k, int32_t j, int32_t rank, int32_t out) {
    return sb_tiled_index(k, j, rank, out, rank, SB_BT_TILE_COLUMNS);
}

/// One (segment, module) product: rows [firstRow, firstRow + rows) of x and y.
typedef struct {
    int32_t first_row;
    int32_t rows;
    int32_t rank;
    int32_t in_features;
    int32_t out_features;
    /// Column offset of this module's output inside y (stacked q|k|v or gate|up outputs).
    int32_t y_offset;
    /// A: [rank, in_features], tiled (sb_a_index); stored as `storage` says.
    const void *a;
    /// Bᵀ: [rank, out_features], tiled (sb_bt_index; B transposed at load so expand streams rows
    /// of out); same storage type as A.
    const void *bt;
    /// What A and Bᵀ hold: SB_FACTOR_F32, SB_FACTOR_F16 (IEEE binary16) or SB_FACTOR_BF16
    /// (bfloat16, the upper half of an f32); the 16-bit kinds halve the bytes read per step.
    int32_t storage;
    /// Multiplies the expand product (LoRA scale × per-request scale).
    float scale;
    /// Optional DoRA gain g [out_features]: y[:, j] becomes (1 + gain_weight·(g[j] − 1))·y[:, j]
    /// before the low-rank product is added. NULL for plain LoRA.
    const float *gain;
    float gain_weight;
} sb_lowrank_task;

/// Semantics, for every task t and row r in its rows, j < out_features:
///   u = x[r, 0:in] · Aᵀ                                   (shrink, rank values)
///   y[r, off + j] = c_j · y[r, off + j] + scale · Σ_k u_k · Bᵀ[k, j]   (expand)
/// with c_j = 1 + gain_weight·(gain[j] − 1) when gain is set, else 1.
/// Tasks run in parallel on the kernel pool; they must not write overlapping parts of y.
/// Each row is computed the same way whatever the other rows are (batch invariance).
void sb_lowrank_apply(const sb_lowrank_task *tasks, int count, const float *x, int ldx,
                      float *y, int ldy);

/// f32 → IEEE binary16, rounding to nearest even (values beyond ±65504 become ±inf).
void sb_f32_to_f16(const float *src, uint16_t *dst, int64_t count);
/// f32 → bfloat16, rounding to nearest even (NaN stays NaN).
void sb_f32_to_bf16(const float *src, uint16_t *dst, int64_t count);

#endif
