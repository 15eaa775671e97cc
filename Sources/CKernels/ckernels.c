// AVX2/FMA implementations of the hot loops declared in ckernels.h.
#include "ckernels.h"
#include <malloc.h>
#include <stdatomic.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Horizontal sum of 8 lanes.
static inline float hsum8(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 shuf = _mm_movehdup_ps(lo);
    __m128 sums = _mm_add_ps(lo, shuf);
    shuf = _mm_movehl_ps(shuf, sums);
    sums = _mm_add_ss(sums, shuf);
    return _mm_cvtss_f32(sums);
}

static inline float dot(const float *a, const float *b, int n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum8(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// e^x for 8 lanes: x = n·ln2 + r with |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n through
// the exponent bits. Relative error about 2e-7 (1-2 ulp) over the range softmax and SiLU use;
// inputs below -87 give 0 (as expf underflows), above 88 are clamped.
static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504089f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// y += a * x
static inline void axpy(float *y, const float *x, float a, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

void sb_rms_norm(const float *x, int ldx, const float *weight, float *out, int ldo,
                 int rows, int dim, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * ldx;
        float *o = out + (long)r * ldo;
        float ss = dot(xr, xr, dim);
        // Same order as transformers: x * rsqrt(mean + eps), then * weight.
        float inv = 1.0f / sqrtf(ss / (float)dim + eps);
        for (int i = 0; i < dim; i++) o[i] = weight[i] * (xr[i] * inv);
    }
}

void sb_rope_rotate_half(float *x, int ld, int rows, int heads, int headDim,
                         const int32_t *positions, const float *cosTable, const float *sinTable) {
    int half = headDim / 2;
    for (int r = 0; r < rows; r++) {
        const float *c = cosTable + (long)positions[r] * half;
        const float *s = sinTable + (long)positions[r] * half;
        for (int h = 0; h < heads; h++) {
            float *v = x + (long)r * ld + (long)h * headDim;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}

void sb_silu_mul(const float *gate, const float *up, int ldIn, float *out, int ldOut,
                 int rows, int dim) {
    for (int r = 0; r < rows; r++) {
        const float *g = gate + (long)r * ldIn;
        const float *u = up + (long)r * ldIn;
        float *o = out + (long)r * ldOut;
        int i = 0;
        for (; i + 8 <= dim; i += 8) {
            __m256 gv = _mm256_loadu_ps(g + i);
            __m256 sig = _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), gv)));
            _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_div_ps(gv, sig), _mm256_loadu_ps(u + i)));
        }
        for (; i < dim; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void sb_add_inplace(float *x, const float *y, int count) {
    int i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < count; i++) x[i] += y[i];
}

void sb_kv_store(const float *k, int ldk, const float *v, int ldv, int n, int firstPos,
                 float *kCache, float *vCache, const int32_t *blockTable, int blockSize, int kvDim) {
    for (int i = 0; i < n; i++) {
        int pos = firstPos + i;
        long slot = (long)blockTable[pos / blockSize] * blockSize + pos % blockSize;
        memcpy(kCache + slot * kvDim, k + (long)i * ldk, sizeof(float) * kvDim);
        memcpy(vCache + slot * kvDim, v + (long)i * ldv, sizeof(float) * kvDim);
    }
}

// Turns one row of attention scores into probabilities in place: exp(s - max) / sum.
static void softmax_row(float *sc, int n, float maxScore) {
    int t = 0;
    __m256 vmax = _mm256_set1_ps(maxScore), vsum = _mm256_setzero_ps();
    for (; t + 8 <= n; t += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(sc + t), vmax));
        _mm256_storeu_ps(sc + t, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum8(vsum);
    for (; t < n; t++) {
        float e = expf(sc[t] - maxScore);
        sc[t] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
    for (t = 0; t < n; t++) sc[t] *= inv;
}

// Attention of queries [qBegin, qEnd) of one chunk for query heads [hBegin, hEnd).
// Keys are walked block by block (no division per key), and the query heads that share a KV
// head are scored together, so each cached key and value row is loaded once per group.
// scores needs (heads in one group) × (visible keys) floats.
#define MAX_GROUP 8
static void attend(const float *q, int ldq, int qBegin, int qEnd, int firstPos,
                   const float *kCache, const float *vCache, const int32_t *blockTable,
                   int blockSize, int hBegin, int hEnd, int group, int kvDim, int headDim, float scale,
                   float *out, int ldo, float *scores) {
    for (int i = qBegin; i < qEnd; i++) {
        const int nKeys = firstPos + i + 1;
        for (int h0 = hBegin; h0 < hEnd; ) {
            // Heads h0 ..< h1 share KV head kvh (at most MAX_GROUP at a time).
            const int kvh = h0 / group;
            int h1 = (kvh + 1) * group;
            if (h1 > hEnd) h1 = hEnd;
            if (h1 - h0 > MAX_GROUP) h1 = h0 + MAX_GROUP;
            const int n = h1 - h0;
            const float *qh[MAX_GROUP];
            float maxScore[MAX_GROUP];
            for (int j = 0; j < n; j++) {
                qh[j] = q + (long)i * ldq + (long)(h0 + j) * headDim;
                maxScore[j] = -INFINITY;
            }
            for (int t0 = 0, b = 0; t0 < nKeys; t0 += blockSize, b++) {
                const float *kb = kCache + (long)blockTable[b] * blockSize * kvDim + (long)kvh * headDim;
                const int count = nKeys - t0 < blockSize ? nKeys - t0 : blockSize;
                for (int s = 0; s < count; s++) {
                    const float *krow = kb + (long)s * kvDim;
                    for (int j = 0; j < n; j++) {
                        float v = dot(qh[j], krow, headDim) * scale;
                        scores[j * nKeys + t0 + s] = v;
                        if (v > maxScore[j]) maxScore[j] = v;
                    }
                }
            }
            for (int j = 0; j < n; j++) {
                softmax_row(scores + j * nKeys, nKeys, maxScore[j]);
                memset(out + (long)i * ldo + (long)(h0 + j) * headDim, 0, sizeof(float) * headDim);
            }
            for (int t0 = 0, b = 0; t0 < nKeys; t0 += blockSize, b++) {
                const float *vb = vCache + (long)blockTable[b] * blockSize * kvDim + (long)kvh * headDim;
                const int count = nKeys - t0 < blockSize ? nKeys - t0 : blockSize;
                for (int s = 0; s < count; s++) {
                    const float *vrow = vb + (long)s * kvDim;
                    for (int j = 0; j < n; j++)
                        axpy(out + (long)i * ldo + (long)(h0 + j) * headDim, vrow, scores[j * nKeys + t0 + s], headDim);
                }
            }
            h0 = h1;
        }
    }
}

void sb_attention_paged(const float *q, int ldq, int nQuery, int firstPos,
                        const float *kCache, const float *vCache, const int32_t *blockTable,
                        int blockSize, int heads, int kvHeads, int headDim, float scale,
                        float *out, int ldo, float *scores) {
    attend(q, ldq, 0, nQuery, firstPos, kCache, vCache, blockTable, blockSize, 0, heads, heads / kvHeads,
           kvHeads * headDim, headDim, scale, out, ldo, scores);
}

// ---------------------------------------------------------------------------------------
// Prefill attention for a tile of up to 16 queries of one head, with AVX-512: the 16 queries
// sit in the 16 lanes, so a key's scores for all of them come from 64 FMAs with no horizontal
// sums, and the softmax runs down the lanes.

#define TILE 16

// scratch needs (firstPos + qEnd) * 16 + 64 * 16 floats.
__attribute__((target("avx512f")))
static void attend_tile_avx512(const float *q, int ldq, int qBegin, int qEnd, int firstPos,
                               const float *kCache, const float *vCache, const int32_t *blockTable,
                               int blockSize, int h, int kvh, int kvDim, int headDim, float scale,
                               float *out, int ldo, float *scratch) {
    const int nq = qEnd - qBegin;
    const int nKeys = firstPos + qEnd;          // keys the last query of the tile sees
    float *qt = scratch;                        // [headDim][16] queries transposed, pre-scaled
    float *sc = scratch + 64 * TILE;            // [nKeys][16] scores, then probabilities
    for (int d = 0; d < headDim; d++)
        for (int j = 0; j < TILE; j++)
            qt[d * TILE + j] = j < nq ? q[(long)(qBegin + j) * ldq + (long)h * headDim + d] * scale : 0.0f;

    // Scores, four keys at a time (four independent accumulator chains).
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i lastVisible = _mm512_add_epi32(lane, _mm512_set1_epi32(firstPos + qBegin));
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    int t = 0;
    for (; t < nKeys; ) {
        const float *kr[4];
        int n = nKeys - t < 4 ? nKeys - t : 4;
        for (int r = 0; r < n; r++) {
            int pos = t + r;
            kr[r] = kCache + ((long)blockTable[pos / blockSize] * blockSize + pos % blockSize) * kvDim + (long)kvh * headDim;
        }
        for (int r = n; r < 4; r++) kr[r] = kr[0];
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < headDim; d++) {
            __m512 qd = _mm512_load_ps(qt + d * TILE);
            a0 = _mm512_fmadd_ps(qd, _mm512_set1_ps(kr[0][d]), a0);
            a1 = _mm512_fmadd_ps(qd, _mm512_set1_ps(kr[1][d]), a1);
            a2 = _mm512_fmadd_ps(qd, _mm512_set1_ps(kr[2][d]), a2);
            a3 = _mm512_fmadd_ps(qd, _mm512_set1_ps(kr[3][d]), a3);
        }
        __m512 acc[4] = { a0, a1, a2, a3 };
        for (int r = 0; r < n; r++) {
            // Causal mask: query lane j sees keys up to position firstPos + qBegin + j.
            __mmask16 hidden = _mm512_cmplt_epi32_mask(lastVisible, _mm512_set1_epi32(t + r));
            __m512 v = _mm512_mask_mov_ps(acc[r], hidden, _mm512_set1_ps(-INFINITY));
            _mm512_store_ps(sc + (long)(t + r) * TILE, v);
            vmax = _mm512_max_ps(vmax, v);
        }
        t += n;
    }
    // Softmax down each lane (padding lanes: all scores 0, harmless).
    __m512 vsum = _mm512_setzero_ps();
    for (t = 0; t < nKeys; t++) {
        __m512 x = _mm512_sub_ps(_mm512_load_ps(sc + (long)t * TILE), vmax);
        // e^x through the AVX2 exp on both halves keeps one polynomial for every path.
        __m256 lo = exp8(_mm512_castps512_ps256(x));
        __m256 hi = exp8(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
        __m512 e = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
        _mm512_store_ps(sc + (long)t * TILE, e);
        vsum = _mm512_add_ps(vsum, e);
    }
    __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), vsum);
    for (t = 0; t < nKeys; t++) _mm512_store_ps(sc + (long)t * TILE, _mm512_mul_ps(_mm512_load_ps(sc + (long)t * TILE), inv));

    // Output: four queries at a time, 64 dims in four registers each.
    for (int j0 = 0; j0 < nq; j0 += 4) {
        int nj = nq - j0 < 4 ? nq - j0 : 4;
        __m512 o[4][4];
        for (int j = 0; j < 4; j++) for (int c = 0; c < 4; c++) o[j][c] = _mm512_setzero_ps();
        int keysNeeded = firstPos + qBegin + j0 + nj;   // the tile's later queries see more keys
        for (t = 0; t < keysNeeded; t++) {
            const float *vr = vCache + ((long)blockTable[t / blockSize] * blockSize + t % blockSize) * kvDim + (long)kvh * headDim;
            __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16), v2 = _mm512_loadu_ps(vr + 32), v3 = _mm512_loadu_ps(vr + 48);
            const float *p = sc + (long)t * TILE + j0;
            for (int j = 0; j < 4; j++) {
                __m512 pj = _mm512_set1_ps(p[j]);
                o[j][0] = _mm512_fmadd_ps(pj, v0, o[j][0]);
                o[j][1] = _mm512_fmadd_ps(pj, v1, o[j][1]);
                o[j][2] = _mm512_fmadd_ps(pj, v2, o[j][2]);
                o[j][3] = _mm512_fmadd_ps(pj, v3, o[j][3]);
            }
        }
        for (int j = 0; j < nj; j++) {
            float *dst = out + (long)(qBegin + j0 + j) * ldo + (long)h * headDim;
            _mm512_storeu_ps(dst, o[j][0]);
            _mm512_storeu_ps(dst + 16, o[j][1]);
            _mm512_storeu_ps(dst + 32, o[j][2]);
            _mm512_storeu_ps(dst + 48, o[j][3]);
        }
    }
}

// Decode attention (one query, the heads of one KV group) for head_dim 64 with AVX-512: each
// head's query and each cached key/value row fill four 16-lane registers.
__attribute__((target("avx512f")))
static void attend_query_avx512(const float *q, int ldq, int i, int firstPos,
                                const float *kCache, const float *vCache, const int32_t *blockTable,
                                int blockSize, int h0, int n, int kvh, int kvDim, float scale,
                                float *out, int ldo, float *scores) {
    const int nKeys = firstPos + i + 1;
    __m512 qv[MAX_GROUP][4];
    float maxScore[MAX_GROUP];
    for (int j = 0; j < n; j++) {
        const float *qh = q + (long)i * ldq + (long)(h0 + j) * 64;
        for (int c = 0; c < 4; c++) qv[j][c] = _mm512_mul_ps(_mm512_loadu_ps(qh + 16 * c), _mm512_set1_ps(scale));
        maxScore[j] = -INFINITY;
    }
    for (int t0 = 0, b = 0; t0 < nKeys; t0 += blockSize, b++) {
        const float *kb = kCache + (long)blockTable[b] * blockSize * kvDim + (long)kvh * 64;
        const int count = nKeys - t0 < blockSize ? nKeys - t0 : blockSize;
        for (int s = 0; s < count; s++) {
            const float *kr = kb + (long)s * kvDim;
            __m512 k0 = _mm512_loadu_ps(kr), k1 = _mm512_loadu_ps(kr + 16), k2 = _mm512_loadu_ps(kr + 32), k3 = _mm512_loadu_ps(kr + 48);
            for (int j = 0; j < n; j++) {
                __m512 p = _mm512_mul_ps(qv[j][0], k0);
                p = _mm512_fmadd_ps(qv[j][1], k1, p);
                p = _mm512_fmadd_ps(qv[j][2], k2, p);
                p = _mm512_fmadd_ps(qv[j][3], k3, p);
                float v = _mm512_reduce_add_ps(p);
                scores[j * nKeys + t0 + s] = v;
                if (v > maxScore[j]) maxScore[j] = v;
            }
        }
    }
    __m512 o[MAX_GROUP][4];
    for (int j = 0; j < n; j++) {
        softmax_row(scores + j * nKeys, nKeys, maxScore[j]);
        for (int c = 0; c < 4; c++) o[j][c] = _mm512_setzero_ps();
    }
    for (int t0 = 0, b = 0; t0 < nKeys; t0 += blockSize, b++) {
        const float *vb = vCache + (long)blockTable[b] * blockSize * kvDim + (long)kvh * 64;
        const int count = nKeys - t0 < blockSize ? nKeys - t0 : blockSize;
        for (int s = 0; s < count; s++) {
            const float *vr = vb + (long)s * kvDim;
            __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16), v2 = _mm512_loadu_ps(vr + 32), v3 = _mm512_loadu_ps(vr + 48);
            for (int j = 0; j < n; j++) {
                __m512 p = _mm512_set1_ps(scores[j * nKeys + t0 + s]);
                o[j][0] = _mm512_fmadd_ps(p, v0, o[j][0]);
                o[j][1] = _mm512_fmadd_ps(p, v1, o[j][1]);
                o[j][2] = _mm512_fmadd_ps(p, v2, o[j][2]);
                o[j][3] = _mm512_fmadd_ps(p, v3, o[j][3]);
            }
        }
    }
    for (int j = 0; j < n; j++) {
        float *dst = out + (long)i * ldo + (long)(h0 + j) * 64;
        for (int c = 0; c < 4; c++) _mm512_storeu_ps(dst + 16 * c, o[j][c]);
    }
}


// ---------------------------------------------------------------------------------------
// A whole step's attention on the thread pool.

#define QUERY_TILE 16

typedef struct { int chunk, qBegin, qEnd, kvHead; } attention_unit;

typedef struct {
    const float *q; int ldq;
    const sb_attention_chunk *chunks;
    const attention_unit *units;
    const float *kCache, *vCache; int blockSize;
    int heads, kvHeads, headDim; float scale;
    float *out; int ldo;
    int maxKeys;
    int avx512;   // the CPU has AVX-512 (checked once per step)
} attention_ctx;

static void attention_task(void *arg, int begin, int end) {
    const attention_ctx *c = arg;
    static __thread float *scores = NULL;
    static __thread int capacity = 0;
    // Enough for MAX_GROUP rows of scores (per-query kernel) or a 16-lane tile (AVX-512 kernel).
    int needed = TILE * ((c->maxKeys < 1024 ? 1024 : c->maxKeys) + 64);
    if (capacity < needed) {
        free(scores);
        capacity = needed;
        scores = aligned_alloc(64, sizeof(float) * (size_t)capacity);
    }
    int group = c->heads / c->kvHeads;
    for (int u = begin; u < end; u++) {
        const attention_unit *unit = &c->units[u];
        const sb_attention_chunk *ch = &c->chunks[unit->chunk];
        // Tiles of several queries (prefill) with the lane-parallel AVX-512 kernel; single
        // queries (decode) with the per-query kernel.
        if (c->avx512 && c->headDim == 64 && unit->qEnd - unit->qBegin >= 4) {
            for (int h = unit->kvHead * group; h < (unit->kvHead + 1) * group; h++)
                attend_tile_avx512(c->q + (long)ch->firstRow * c->ldq, c->ldq, unit->qBegin, unit->qEnd, ch->firstPosition,
                                   c->kCache, c->vCache, ch->blockTable, c->blockSize, h, unit->kvHead,
                                   c->kvHeads * c->headDim, c->headDim, c->scale,
                                   c->out + (long)ch->firstRow * c->ldo, c->ldo, scores);
            continue;
        }
        if (c->avx512 && c->headDim == 64 && group <= MAX_GROUP) {
            for (int i = unit->qBegin; i < unit->qEnd; i++)
                attend_query_avx512(c->q + (long)ch->firstRow * c->ldq, c->ldq, i, ch->firstPosition,
                                    c->kCache, c->vCache, ch->blockTable, c->blockSize,
                                    unit->kvHead * group, group, unit->kvHead, c->kvHeads * c->headDim, c->scale,
                                    c->out + (long)ch->firstRow * c->ldo, c->ldo, scores);
            continue;
        }
        attend(c->q + (long)ch->firstRow * c->ldq, c->ldq, unit->qBegin, unit->qEnd, ch->firstPosition,
               c->kCache, c->vCache, ch->blockTable, c->blockSize,
               unit->kvHead * group, (unit->kvHead + 1) * group, group, c->kvHeads * c->headDim, c->headDim, c->scale,
               c->out + (long)ch->firstRow * c->ldo, c->ldo, scores);
    }
}

void sb_attention_step(const float *q, int ldq, const sb_attention_chunk *chunks, int chunkCount,
                       const float *kCache, const float *vCache, int blockSize,
                       int heads, int kvHeads, int headDim, float scale, float *out, int ldo) {
    int unitCount = 0, maxKeys = 0;
    for (int i = 0; i < chunkCount; i++) {
        unitCount += (chunks[i].queries + QUERY_TILE - 1) / QUERY_TILE * kvHeads;
        int keys = chunks[i].firstPosition + chunks[i].queries;
        if (keys > maxKeys) maxKeys = keys;
    }
    attention_unit stackUnits[512];
    attention_unit *units = unitCount <= 512 ? stackUnits : malloc(sizeof(attention_unit) * (size_t)unitCount);
    int u = 0;
    // Longest-running units (late query tiles see the most keys) first, so slices balance better.
    for (int i = 0; i < chunkCount; i++)
        for (int tile = (chunks[i].queries - 1) / QUERY_TILE; tile >= 0; tile--)
            for (int g = 0; g < kvHeads; g++) {
                int qEnd = (tile + 1) * QUERY_TILE;
                units[u++] = (attention_unit){ i, tile * QUERY_TILE, qEnd < chunks[i].queries ? qEnd : chunks[i].queries, g };
            }
    attention_ctx c = { q, ldq, chunks, units, kCache, vCache, blockSize, heads, kvHeads, headDim, scale, out, ldo, maxKeys,
                       __builtin_cpu_supports("avx512f") ? 1 : 0 };
    sb_parallel_for(unitCount, 1, attention_task, &c);
    if (units != stackUnits) free(units);
}

void sb_release_free_memory(void) {
    malloc_trim(0);
}

typedef struct {
    const void *const *regions;
    const int64_t *sizes;
    _Atomic uint64_t sum;
} stream_read_ctx;

// Four independent 64-bit lane sums over 32-byte loads: no dependency chain longer than one
// add per load, so the loop runs at the rate memory delivers.
static void stream_read_range(void *p, int begin, int end) {
    stream_read_ctx *c = p;
    uint64_t total = 0;
    for (int r = begin; r < end; r++) {
        const uint8_t *bytes = c->regions[r];
        const int64_t size = c->sizes[r], words = size / 8;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        int64_t w = 0;
        for (; w + 16 <= words; w += 16) {
            a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(bytes + 8 * w)));
            a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(bytes + 8 * w + 32)));
            a2 = _mm256_add_epi64(a2, _mm256_loadu_si256((const __m256i *)(bytes + 8 * w + 64)));
            a3 = _mm256_add_epi64(a3, _mm256_loadu_si256((const __m256i *)(bytes + 8 * w + 96)));
        }
        uint64_t lanes[4];
        _mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
        total += lanes[0] + lanes[1] + lanes[2] + lanes[3];
        for (; w < words; w++) {
            uint64_t word;
            memcpy(&word, bytes + 8 * w, 8);
            total += word;
        }
        for (int64_t i = 8 * words; i < size; i++) total += bytes[i];
    }
    atomic_fetch_add(&c->sum, total);
}

uint64_t sb_stream_read(const void *const *regions, const int64_t *sizes, int count) {
    if (count <= 0) return 0;
    stream_read_ctx c = { regions, sizes, 0 };
    sb_parallel_for(count, 1, stream_read_range, &c);
    return atomic_load(&c.sum);
}
