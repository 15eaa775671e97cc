// Hot loops of the forward pass, written in C so that the compiler emits AVX2/FMA code.
// Every function has a plain Swift reference twin in Kernels (see Tests/KernelsTests).
// Layout conventions: activations are row-major [rows, features] with an explicit leading
// dimension (ld, in floats); weights are [out, in].
#ifndef SWITCHBOARD_CKERNELS_H
#define SWITCHBOARD_CKERNELS_H

#include <stdint.h>
#include "ckernels_quant.h"
#include "ckernels_gemm.h"
#include "ckernels_lowrank.h"

/// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight   for r in 0..<rows.
void sb_rms_norm(const float *x, int ldx, const float *weight, float *out, int ldo,
                 int rows, int dim, float eps);

/// Rotary embedding, "rotate half" form (pairs i and i + headDim/2 of each head), in place.
/// x: [rows, heads*headDim] with leading dim ld. cosTable/sinTable: [maxPos, headDim/2].
void sb_rope_rotate_half(float *x, int ld, int rows, int heads, int headDim,
                         const int32_t *positions, const float *cosTable, const float *sinTable);

/// out[i] = silu(gate[i]) * up[i] = gate / (1 + exp(-gate)) * up, for each row.
void sb_silu_mul(const float *gate, const float *up, int ldIn, float *out, int ldOut,
                 int rows, int dim);

/// x[i] += y[i].
void sb_add_inplace(float *x, const float *y, int count);

/// Hands the allocator's free memory back to the system (glibc malloc_trim). Freed adapter
/// weights otherwise stay in the process's heap, counted in its resident memory.
void sb_release_free_memory(void);

/// Reads every byte of regions[0 ..< count) once, front to back, the regions shared out over
/// the kernel pool, and returns the sum (mod 2⁶⁴) of their little-endian 8-byte words plus, for
/// a region whose size is not a multiple of 8, its last bytes one by one. The benchmark's
/// yardstick for the LoRA kernel: how fast this machine streams the same bytes with nothing else to do.
uint64_t sb_stream_read(const void *const *regions, const int64_t *sizes, int count);

/// Causal attention of one sequence chunk against its paged KV cache.
/// q:       [nQuery, heads*headDim] (leading dim ldq); query row i sits at position firstPos + i
///          and attends to cache slots 0 ... firstPos + i (slot index == position).
/// kCache/vCache: one layer's pool, [numBlocks, blockSize, kvHeads*headDim].
/// blockTable: cache block ids of this sequence, in order.
/// out:     [nQuery, heads*headDim] (leading dim ldo).
/// scores:  scratch of at least 8 × (visible keys) floats.
void sb_attention_paged(const float *q, int ldq, int nQuery, int firstPos,
                        const float *kCache, const float *vCache, const int32_t *blockTable,
                        int blockSize, int heads, int kvHeads, int headDim, float scale,
                        float *out, int ldo, float *scores);

/// One sequence's rows inside a step, for `sb_attention_step`.
typedef struct {
    int32_t firstRow;          // index of the chunk's first row in q / out
    int32_t queries;           // rows in the chunk
    int32_t firstPosition;     // position of the first row
    const int32_t *blockTable; // the sequence's cache blocks
} sb_attention_chunk;

/// `sb_attention_paged` for every chunk of a step, split across the kernel thread pool by
/// (chunk, tile of 16 queries, KV head). Scratch for scores is per thread.
void sb_attention_step(const float *q, int ldq, const sb_attention_chunk *chunks, int chunkCount,
                       const float *kCache, const float *vCache, int blockSize,
                       int heads, int kvHeads, int headDim, float scale, float *out, int ldo);

/// Copies rows of k and v ([n, kvDim], leading dims ldk/ldv) into the paged cache slots
/// firstPos ..< firstPos + n of a sequence.
void sb_kv_store(const float *k, int ldk, const float *v, int ldv, int n, int firstPos,
                 float *kCache, float *vCache, const int32_t *blockTable, int blockSize, int kvDim);

#endif
