// Splits an OpenBLAS sgemm by output columns across the kernel thread pool.
#include "ckernels_gemm.h"
#include "ckernels_quant.h"
#include <cblas.h>

typedef struct {
    int rows, inFeatures;
    const float *x; int ldx;
    const float *w; int ldw;
    float *y; int ldy;
    float scale; int accumulate;
} sgemm_ctx;

static void sgemm_task(void *arg, int begin, int end) {
    const sgemm_ctx *c = arg;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->rows, end - begin, c->inFeatures,
                c->scale, c->x, c->ldx, c->w + (long)begin * c->ldw, c->ldw,
                c->accumulate ? 1.0f : 0.0f, c->y + begin, c->ldy);
}

void sb_sgemm_xwt(int rows, int inFeatures, int outFeatures, const float *x, int ldx,
                  const float *w, int ldw, float *y, int ldy, float scale, int accumulate) {
    if (rows <= 0 || outFeatures <= 0) return;
    sgemm_ctx c = { rows, inFeatures, x, ldx, w, ldw, y, ldy, scale, accumulate };
    // Slices of 64 columns keep OpenBLAS's blocking intact; tiny products run inline.
    sb_parallel_for(outFeatures, 64, sgemm_task, &c);
}
