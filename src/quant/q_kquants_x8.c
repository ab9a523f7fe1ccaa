/* q_kquants_x8.c - Q2_K to Q6_K with the scale searches run for
 * several sub-blocks of a super-block at once, one sub-block per vector lane.
 *
 * See q_simd.h for the lane invariant: lane k performs, operation for
 * operation, what the scalar kernel in q_kquants.c does for its sub-block
 * (make_qx_quants for Q6_K's 16 sub-blocks of 16; make_qkx2_quants, or
 * make_qkx3_quants with importance weights, for the 8 sub-blocks of 32 of
 * Q4_K/Q5_K and the 16 of 16 of Q2_K; make_q3_quants, or make_qx_quants
 * with importance weights, for Q3_K's 16 of 16).  The sub-blocks are
 * transposed first (xt[i] holds element i of W sub-blocks), so a lane walks
 * its sub-block's elements in order and every sum accumulates in the scalar
 * order.  Scalar-only steps (choosing the
 * super-block scales, make_qp_quants, packing) are the scalar code itself.
 * The final rounding of x/d is independent per element and is vectorised
 * along the row.
 *
 * The body (q_kquants_x8_body.h) is compiled for W = 4 (baseline SSE2, one
 * xmm register per vector) and W = 8 (AVX2, one ymm register); vectors wider
 * than the machine's registers make GCC emulate them through memory, which
 * is slower than the scalar code. */
#include "config.h"

#include "q_common.h"
#include "q_simd.h"

#if defined(__SSE__)
#include <immintrin.h>
#endif

#define W 4
#include "q_kquants_x8_body.h"
#undef W
#define W 8
#include "q_kquants_x8_body.h"
#undef W

PJ_X8_ENTRY(pj_qrow_q4_k_x8, q4k_row_w8, q4k_row_w4)
PJ_X8_ENTRY(pj_qrow_q5_k_x8, q5k_row_w8, q5k_row_w4)
PJ_X8_ENTRY(pj_qrow_q6_k_x8, q6k_row_w8, q6k_row_w4)
PJ_X8_ENTRY(pj_qrow_q2_k_x8, q2k_row_w8, q2k_row_w4)
PJ_X8_ENTRY(pj_qrow_q3_k_x8, q3k_row_w8, q3k_row_w4)
