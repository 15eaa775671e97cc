// f32 matrix product split across the kernel thread pool.
#ifndef SWITCHBOARD_CKERNELS_GEMM_H
#define SWITCHBOARD_CKERNELS_GEMM_H

/// Semantics: y[m, n] = scale * x[m, :] · w[n, :] (+ y[m, n] if accumulate).
/// x [rows, inFeatures] (ldx), w [outFeatures, inFeatures] (ldw), y [rows, outFeatures] (ldy).
/// Each pool thread runs a single-threaded OpenBLAS sgemm on its slice of output columns, so
/// one set of threads does all the work (OpenBLAS's own threads are turned off by the caller).
void sb_sgemm_xwt(int rows, int inFeatures, int outFeatures, const float *x, int ldx,
                  const float *w, int ldw, float *y, int ldy, float scale, int accumulate);

#endif
