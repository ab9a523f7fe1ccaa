/* q_grid.h - private to the kernels: grids of 8 coordinates with 2 bits each
 * (IQ2_XXS, IQ2_XS, IQ2_S in q_iq2.c; IQ1_S, IQ1_M share one in q_iq.c).
 *
 * A group of 8 levels l (0..2; the searches never produce 3) is packed into
 * a code, 2 bits per coordinate, and must be one of the grid's points.  A
 * code off the grid is replaced by the best of its neighbours: every grid
 * point at one of the nwant smallest squared distances (coordinates 2l+1),
 * in (distance, index) order, as ggml's iq2xs_init_impl sorts them. */
#ifndef PJ_Q_GRID_H
#define PJ_Q_GRID_H

#include <float.h>
#include <stddef.h>
#include <stdint.h>

#define PJ_G8_NCODES 43692        /* codes 0 .. 0xAAAA (levels <= 2) */

typedef struct pj_grid8 {
	int size;
	uint8_t (*pts)[8];            /* 2l+1 per coordinate */
	int32_t map[PJ_G8_NCODES];    /* grid index, or -(offset+1) into nb */
	uint16_t *nb;                 /* per off-grid code: count, then grid indices */
} pj_grid8;

/* Best neighbour of an off-grid group of dim levels: the weighted squared
 * distance of scale*(2l+1) to the magnitudes xval; the first strict minimum
 * wins (ggml's iq2/iq3_find_best_neighbour).  pts: dim bytes per point.
 * Writes the levels, returns the grid index. */
static inline int pj_grid_best_neighbour(const uint8_t *pts, int dim, const uint16_t *nb, const float *xval,
                                         const float *w, float scale, int8_t *L)
{
	float best_d2 = FLT_MAX;
	int best = nb[1];       /* kept only for NaN distances (finite input has none) */
	for (int j = 1; j <= nb[0]; j++) {
		const uint8_t *pg = pts + (size_t)dim * nb[j];
		float d2 = 0;
		for (int i = 0; i < dim; i++) {
			const float q = pg[i];
			const float diff = scale * q - xval[i];
			d2 += w[i] * diff * diff;
		}
		if (d2 < best_d2) {
			best_d2 = d2;
			best = nb[j];
		}
	}
	for (int i = 0; i < dim; i++)
		L[i] = (int8_t)((pts[(size_t)dim * best + i] - 1) / 2);
	return best;
}

/* sum of squares of a super-block (the sigma2 of the IQ weights) */
static inline float pj_sumsq256(const float *x)
{
	float s = 0;
	for (int i = 0; i < 256; i++)
		s += x[i] * x[i];
	return s;
}

/* Builds the grid of `size` codes with neighbour lists of the nwant (1..3)
 * nearest distances, for the codes whose levels are all <= 2. */
pj_grid8 *pj_grid8_build(const uint16_t *codes, int size, int nwant);

static inline uint16_t pj_grid8_code(const int8_t *L)
{
	uint16_t u = 0;
	for (int i = 0; i < 8; i++)
		u |= (uint16_t)(L[i] << (2 * i));
	return u;
}

/* IQ1_S / IQ1_M (q_iq.c): the 2048-point grid (built once), its neighbour
 * choice for levels xg[] at a given scale (weighted squared distance to x),
 * the stable ascending order of n values, and the refit below. */
#define PJ_IQ1_DELTA 0.125f
const pj_grid8 *pj_iq1_grid(void);
int pj_iq1_best_neighbour(const uint16_t *nb, const float *x, const float *w, float scale, const float *xg,
                          int8_t *L);
void pj_sort_ascending(const float *x, int n, int *idx);
/* The scale refit once groups moved to grid points index[]: sum(w q x) /
 * sum(w q^2) with q = levels[k][l] in group k, when both sums are positive;
 * else scale unchanged. */
float pj_iq1_refit(const int *index, int ngroups, const float *const *levels, const float *x, const float *w,
                   float scale);

#endif
