/* q_iq.c - grid ("i-quant") formats: IQ3_XXS, IQ3_S, IQ1_M.
 *
 * IQ3: groups of 4 magnitudes, each an odd level 2l+1 (l in 0..7), must be one
 * of 256 (XXS) or 512 (S) allowed points of the 8^4 lattice.  A point off the
 * grid is replaced by the best of its nearest grid points (all grid points at
 * the two (XXS) or three (S) smallest squared distances, in (distance, index)
 * order - the order decides ties, exactly as in ggml's iq3xs_init_impl).
 * Signs: 8 per group of 8 (XXS keeps 7 and an even-parity rule).
 *
 * The search is ggml's quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl
 * arithmetic, in the same order, including its quirks (see iq3s_superblock).
 * IQ1_M follows below. */
#include "config.h"

#include <float.h>
#include <pthread.h>
#include <stdlib.h>

#include "error.h"
#include "q_common.h"
#include "q_grid.h"

/* The allowed points: 3 bits per coordinate, coordinate i in bits 3i..3i+2. */
static const uint16_t IQ3_CODES_256[256] = {
	0, 2, 4, 9, 11, 15, 16, 18, 25, 34, 59, 61, 65, 67, 72, 74,
	81, 85, 88, 90, 97, 108, 120, 128, 130, 132, 137, 144, 146, 153, 155, 159,
	169, 175, 189, 193, 199, 200, 202, 213, 248, 267, 287, 292, 303, 315, 317, 321,
	327, 346, 362, 413, 436, 456, 460, 462, 483, 497, 513, 515, 520, 522, 529, 531,
	536, 538, 540, 551, 552, 576, 578, 585, 592, 594, 641, 643, 648, 650, 657, 664,
	698, 704, 706, 720, 729, 742, 758, 769, 773, 808, 848, 852, 870, 889, 901, 978,
	992, 1024, 1026, 1033, 1035, 1040, 1042, 1046, 1049, 1058, 1089, 1091, 1093, 1096, 1098, 1105,
	1112, 1139, 1143, 1144, 1152, 1154, 1161, 1167, 1168, 1170, 1183, 1184, 1197, 1217, 1224, 1228,
	1272, 1276, 1309, 1323, 1347, 1367, 1377, 1404, 1473, 1475, 1486, 1509, 1537, 1544, 1546, 1553,
	1555, 1576, 1589, 1594, 1600, 1602, 1616, 1625, 1636, 1638, 1665, 1667, 1672, 1685, 1706, 1722,
	1737, 1755, 1816, 1831, 1850, 1856, 1862, 1874, 1901, 1932, 1950, 1971, 2011, 2032, 2052, 2063,
	2077, 2079, 2091, 2095, 2172, 2192, 2207, 2208, 2224, 2230, 2247, 2277, 2308, 2345, 2356, 2389,
	2403, 2424, 2501, 2504, 2506, 2520, 2570, 2593, 2616, 2624, 2630, 2646, 2669, 2700, 2714, 2746,
	2754, 2795, 2824, 2835, 2839, 2874, 2882, 2905, 2984, 3028, 3042, 3092, 3108, 3110, 3124, 3153,
	3185, 3215, 3252, 3288, 3294, 3364, 3397, 3434, 3483, 3523, 3537, 3587, 3589, 3591, 3592, 3610,
	3626, 3670, 3680, 3722, 3749, 3754, 3776, 3789, 3803, 3824, 3857, 3873, 3904, 3906, 3924, 3992,
};

static const uint16_t IQ3_CODES_512[512] = {
	0, 1, 2, 5, 7, 8, 9, 10, 12, 14, 16, 17, 21, 27, 32, 34,
	37, 39, 41, 43, 48, 50, 57, 60, 63, 64, 65, 66, 68, 72, 73, 77,
	80, 83, 87, 89, 93, 100, 113, 117, 122, 128, 129, 133, 135, 136, 139, 142,
	145, 149, 152, 156, 162, 165, 167, 169, 171, 184, 187, 195, 201, 205, 208, 210,
	217, 219, 222, 228, 232, 234, 247, 249, 253, 256, 267, 271, 273, 276, 282, 288,
	291, 297, 312, 322, 324, 336, 338, 342, 347, 353, 357, 359, 374, 379, 390, 393,
	395, 409, 426, 441, 448, 450, 452, 464, 466, 470, 475, 488, 492, 512, 513, 514,
	516, 520, 521, 523, 525, 527, 528, 530, 537, 540, 542, 556, 558, 561, 570, 576,
	577, 579, 582, 584, 588, 593, 600, 603, 609, 616, 618, 632, 638, 640, 650, 653,
	655, 656, 660, 666, 672, 675, 685, 688, 698, 705, 708, 711, 712, 715, 721, 727,
	728, 732, 737, 754, 760, 771, 773, 778, 780, 793, 795, 802, 806, 808, 812, 833,
	840, 843, 849, 856, 858, 873, 912, 916, 919, 932, 934, 961, 963, 968, 970, 977,
	989, 993, 1010, 1016, 1024, 1025, 1027, 1029, 1031, 1032, 1034, 1036, 1038, 1041, 1043, 1047,
	1048, 1050, 1057, 1059, 1061, 1064, 1066, 1079, 1080, 1083, 1085, 1088, 1090, 1096, 1099, 1103,
	1106, 1109, 1113, 1116, 1122, 1129, 1153, 1156, 1159, 1169, 1171, 1176, 1183, 1185, 1195, 1199,
	1209, 1212, 1216, 1218, 1221, 1225, 1234, 1236, 1241, 1243, 1250, 1256, 1270, 1281, 1287, 1296,
	1299, 1306, 1309, 1313, 1338, 1341, 1348, 1353, 1362, 1375, 1376, 1387, 1400, 1408, 1410, 1415,
	1425, 1453, 1457, 1477, 1481, 1494, 1496, 1507, 1512, 1538, 1545, 1547, 1549, 1551, 1554, 1561,
	1563, 1565, 1570, 1572, 1575, 1577, 1587, 1593, 1601, 1603, 1605, 1612, 1617, 1619, 1632, 1648,
	1658, 1662, 1664, 1674, 1680, 1690, 1692, 1704, 1729, 1736, 1740, 1745, 1747, 1751, 1752, 1761,
	1763, 1767, 1773, 1787, 1795, 1801, 1806, 1810, 1817, 1834, 1840, 1844, 1857, 1864, 1866, 1877,
	1882, 1892, 1902, 1915, 1934, 1953, 1985, 1987, 2000, 2002, 2013, 2048, 2052, 2058, 2064, 2068,
	2071, 2074, 2081, 2088, 2104, 2114, 2119, 2121, 2123, 2130, 2136, 2141, 2147, 2153, 2157, 2177,
	2179, 2184, 2189, 2193, 2203, 2208, 2223, 2226, 2232, 2244, 2249, 2251, 2256, 2258, 2265, 2269,
	2304, 2306, 2324, 2335, 2336, 2361, 2373, 2375, 2385, 2418, 2443, 2460, 2480, 2504, 2509, 2520,
	2531, 2537, 2562, 2568, 2572, 2578, 2592, 2596, 2599, 2602, 2614, 2620, 2625, 2627, 2629, 2634,
	2641, 2650, 2682, 2688, 2697, 2707, 2712, 2718, 2731, 2754, 2759, 2760, 2775, 2788, 2793, 2805,
	2811, 2817, 2820, 2832, 2842, 2854, 2890, 2902, 2921, 2923, 2978, 3010, 3012, 3026, 3081, 3083,
	3085, 3097, 3099, 3120, 3136, 3152, 3159, 3188, 3210, 3228, 3234, 3245, 3250, 3256, 3264, 3276,
	3281, 3296, 3349, 3363, 3378, 3392, 3395, 3420, 3440, 3461, 3488, 3529, 3531, 3584, 3588, 3591,
	3600, 3602, 3614, 3616, 3628, 3634, 3650, 3657, 3668, 3683, 3685, 3713, 3716, 3720, 3726, 3729,
	3736, 3753, 3778, 3802, 3805, 3819, 3841, 3845, 3851, 3856, 3880, 3922, 3938, 3970, 3993, 4032,
};

typedef struct iq3_grid {
	int size;                 /* 256 or 512 */
	uint8_t pts[512][4];      /* the odd levels 2l+1 of each grid point */
	int map[4096];            /* code -> grid index, or -(offset+1) into nb */
	uint16_t *nb;             /* per off-grid code: count, then grid indices */
} iq3_grid;

static iq3_grid G256, G512;
static pthread_once_t iq3_once = PTHREAD_ONCE_INIT;

typedef struct { int d2, j; } dist_t;

static int dist_cmp(const void *a, const void *b)
{
	const dist_t *x = a, *y = b;
	if (x->d2 != y->d2)
		return x->d2 < y->d2 ? -1 : 1;
	return x->j < y->j ? -1 : x->j > y->j;
}

static void iq3_build(iq3_grid *g, const uint16_t *codes, int size, int nwant)
{
	g->size = size;
	for (int i = 0; i < 4096; i++)
		g->map[i] = INT32_MIN;
	for (int k = 0; k < size; k++) {
		for (int i = 0; i < 4; i++)
			g->pts[k][i] = (uint8_t)(2 * ((codes[k] >> (3 * i)) & 7) + 1);
		g->map[codes[k]] = k;
	}
	dist_t *dist = pj_xmalloc((size_t)size * sizeof *dist);
	size_t cap = 4096 * 8, used = 0;
	g->nb = pj_xmalloc(cap * sizeof(uint16_t));
	for (int code = 0; code < 4096; code++) {
		if (g->map[code] >= 0)
			continue;
		int pos[4];
		for (int i = 0; i < 4; i++)
			pos[i] = 2 * ((code >> (3 * i)) & 7) + 1;
		for (int j = 0; j < size; j++) {
			int d2 = 0;
			for (int i = 0; i < 4; i++)
				d2 += (g->pts[j][i] - pos[i]) * (g->pts[j][i] - pos[i]);
			dist[j] = (dist_t){ d2, j };
		}
		qsort(dist, (size_t)size, sizeof *dist, dist_cmp);
		int n = 0, nhave = 1, d2 = dist[0].d2;
		while (n < size) {
			if (dist[n].d2 > d2) {
				if (nhave == nwant)
					break;
				d2 = dist[n].d2;
				nhave++;
			}
			n++;
		}
		if (used + 1 + (size_t)n > cap) {
			cap = 2 * cap + (size_t)n + 1;
			g->nb = pj_xrealloc(g->nb, cap * sizeof(uint16_t));
		}
		g->map[code] = -(int)(used + 1);
		g->nb[used++] = (uint16_t)n;
		for (int j = 0; j < n; j++)
			g->nb[used++] = (uint16_t)dist[j].j;
	}
	free(dist);
}

static void iq3_init(void)
{
	iq3_build(&G256, IQ3_CODES_256, 256, 2);
	iq3_build(&G512, IQ3_CODES_512, 512, 3);
}

static inline int iq3_best_neighbour(const iq3_grid *g, const uint16_t *nb, const float *xval, const float *w,
                                     float scale, int8_t *L)
{
	return pj_grid_best_neighbour(&g->pts[0][0], 4, nb, xval, w, scale, L);
}

static inline uint16_t iq3_code(const int8_t *L)
{
	uint16_t u = 0;
	for (int i = 0; i < 4; i++)
		u |= (uint16_t)(L[i] << (3 * i));
	return u;
}

/* Levels of a group at inverse scale id: l = round((id*x - 1)/2) in 0..7. */
static inline void iq3_levels(const float *xval, float id, int8_t *L)
{
	for (int i = 0; i < 4; i++) {
		const int l = pj_nearest_int(0.5f * (id * xval[i] - 1));
		L[i] = (int8_t)PJ_MAX(0, PJ_MIN(7, l));
	}
}

/* One 32-element sub-block: the scale search shared by both formats.
 * xs: true for IQ3_XXS (31 trial scales, on-grid flags start true, only
 * off-grid groups redone in the final pass), false for IQ3_S (19 trials,
 * flags start false, every group redone).  The caller has skipped empty
 * sub-blocks.  Returns the scale; L gets the levels. */
static float iq3_subblock(const iq3_grid *g, bool xs, const float *xval, const float *weight, const float *waux,
                          int8_t *L)
{
	float max = xval[0];
	for (int i = 1; i < 32; i++)
		max = PJ_MAX(max, xval[i]);
	memset(L, 0, 32);

	int8_t Laux[32];
	bool on[8], on_aux[8];
	float best = 0;
	float scale = max / 15;
	for (int k = 0; k < 8; k++)
		on[k] = xs;
	const int range = xs ? 15 : 9;
	for (int is = -range; is <= range; is++) {
		const float id = (15 + is * 0.2f) / max;
		const float this_scale = 1 / id;
		for (int k = 0; k < 8; k++) {
			iq3_levels(xval + 4 * k, id, Laux + 4 * k);
			const int gi = g->map[iq3_code(Laux + 4 * k)];
			on_aux[k] = true;
			if (gi < 0) {
				on_aux[k] = false;
				iq3_best_neighbour(g, g->nb - gi - 1, xval + 4 * k, waux + 4 * k, this_scale, Laux + 4 * k);
			}
		}
		float sumqx = 0, sumq2 = 0;
		for (int i = 0; i < 32; i++) {
			const float w = weight[i];
			const float q = 2 * Laux[i] + 1;
			sumqx += w * xval[i] * q;
			sumq2 += w * q * q;
		}
		if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
			scale = sumqx / sumq2;
			best = scale * sumqx;
			memcpy(L, Laux, 32);
			memcpy(on, on_aux, sizeof on);
		}
	}
	int n_off = 0;
	for (int k = 0; k < 8; k++)
		n_off += !on[k];
	if (n_off > 0 && scale > 0) {
		const float id = 1 / scale;
		for (int k = 0; k < 8; k++) {
			if (xs && on[k])
				continue;
			int8_t Lt[4];
			iq3_levels(xval + 4 * k, id, Lt);
			int gi = g->map[iq3_code(Lt)];
			if (gi < 0)
				gi = iq3_best_neighbour(g, g->nb - gi - 1, xval + 4 * k, waux + 4 * k, scale, L + 4 * k);
			for (int i = 0; i < 4; i++)
				L[4 * k + i] = (int8_t)((g->pts[gi][i] - 1) / 2);
		}
		float sumqx = 0, sumq2 = 0;
		for (int i = 0; i < 32; i++) {
			const float w = weight[i];
			const float q = 2 * L[i] + 1;
			sumqx += w * xval[i] * q;
			sumq2 += w * q * q;
		}
		if (sumq2 > 0)
			scale = sumqx / sumq2;
	}
	return scale;
}

static void iq3_weights(const float *xb, const float *qw, float sigma2, float *weight, float *waux)
{
	for (int i = 0; i < 32; i++)
		weight[i] = qw ? qw[i] * sqrtf(sigma2 + xb[i] * xb[i]) : xb[i] * xb[i];
	for (int i = 0; i < 32; i++)
		waux[i] = sqrtf(weight[i]);
}

/* ---- IQ3_XXS ------------------------------------------------------------- */

static void iq3xxs_superblock(const float *x, pj_blk_iq3_xxs *y, const float *qw)
{
	const iq3_grid *g = &G256;
	uint8_t q3[96];
	uint32_t sas[8];   /* per sub-block: 4 x 7 sign bits, scale in bits 28..31 */
	float scales[8], weight[32], waux[32], xval[32];
	int8_t L[32];
	memset(q3, 0, sizeof q3);
	memset(sas, 0, sizeof sas);
	y->d = pj_f2h(0.f);
	float max_scale = 0;
	const float sigma2 = 2 * pj_sumsq256(x) / PJ_QK_K;
	for (int ib = 0; ib < 8; ib++) {
		const float *xb = x + 32 * ib;
		iq3_weights(xb, qw ? qw + 32 * ib : NULL, sigma2, weight, waux);
		uint8_t signs[4];
		for (int k = 0; k < 4; k++) {
			int nflip = 0;
			uint8_t s = 0;
			for (int i = 0; i < 8; i++) {
				if (xb[8 * k + i] >= 0) {
					xval[8 * k + i] = xb[8 * k + i];
				} else {
					xval[8 * k + i] = -xb[8 * k + i];
					nflip++;
					s |= (uint8_t)(1 << i);
				}
			}
			if (nflip % 2) {
				/* odd count: flip the least important element back */
				int imin = 0;
				float min = weight[8 * k] * xb[8 * k] * xb[8 * k];
				for (int i = 1; i < 8; i++) {
					const float ax = weight[8 * k + i] * xb[8 * k + i] * xb[8 * k + i];
					if (ax < min) {
						min = ax;
						imin = i;
					}
				}
				xval[8 * k + imin] = -xval[8 * k + imin];
				s ^= (uint8_t)(1 << imin);
			}
			signs[k] = s & 127;
		}
		float max = xval[0];
		for (int i = 1; i < 32; i++)
			max = PJ_MAX(max, xval[i]);
		if (max < 1e-8f) {
			scales[ib] = 0;
			continue;
		}
		float scale = iq3_subblock(g, true, xval, weight, waux, L);
		if (scale < 0) {
			scale = -scale;
			for (int k = 0; k < 4; k++)
				signs[k] = (uint8_t)(~signs[k] & 127);
		}
		for (int k = 0; k < 8; k++)
			q3[8 * ib + k] = (uint8_t)g->map[iq3_code(L + 4 * k)];
		sas[ib] = signs[0] | ((uint32_t)signs[1] << 7) | ((uint32_t)signs[2] << 14) | ((uint32_t)signs[3] << 21);
		scales[ib] = scale;
		max_scale = PJ_MAX(max_scale, scale);
	}
	if (!max_scale) {
		memset(y->qs, 0, sizeof y->qs);
		return;
	}
	const float d = max_scale / 31;
	y->d = pj_f2h(d * 1.0125f);
	const float id = 1 / d;
	for (int ib = 0; ib < 8; ib++) {
		int l = pj_nearest_int(0.5f * (id * scales[ib] - 1));
		l = PJ_MAX(0, PJ_MIN(15, l));
		sas[ib] |= (uint32_t)l << 28;
	}
	memcpy(y->qs, q3, 64);
	memcpy(y->qs + 64, sas, 32);
}

void pj_qrow_iq3_xxs(const float *x, void *vy, int64_t n, const float *qw)
{
	pthread_once(&iq3_once, iq3_init);
	pj_blk_iq3_xxs *y = vy;
	for (int64_t i = 0; i < n / PJ_QK_K; i++)
		iq3xxs_superblock(x + PJ_QK_K * i, &y[i], qw ? qw + PJ_QK_K * i : NULL);
}

void pj_dqrow_iq3_xxs(const void *vx, float *y, int64_t n)
{
	pthread_once(&iq3_once, iq3_init);
	const pj_blk_iq3_xxs *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d);
		for (int ib = 0; ib < 8; ib++) {
			uint32_t sas;
			memcpy(&sas, x[i].qs + 64 + 4 * ib, 4);
			/* grid levels times 4 (ggml's table) times db = d*(0.5+s)*0.5 */
			const float db = d * (0.5f + (sas >> 28)) * 0.5f;
			for (int l = 0; l < 4; l++) {
				uint8_t s = (uint8_t)((sas >> (7 * l)) & 127);
				if (__builtin_popcount(s) & 1)
					s |= 128;
				for (int h = 0; h < 2; h++) {
					const uint8_t *pg = G256.pts[x[i].qs[8 * ib + 2 * l + h]];
					for (int j = 0; j < 4; j++)
						*y++ = db * (4 * pg[j]) * ((s >> (4 * h + j)) & 1 ? -1.f : 1.f);
				}
			}
		}
	}
}

/* ---- IQ3_S --------------------------------------------------------------- */

static void iq3s_superblock(const float *x, pj_blk_iq3_s *y, const float *qw)
{
	const iq3_grid *g = &G512;
	float scales[8], weight[32], waux[32], xval[32];
	int8_t L[32];
	memset(y, 0, sizeof *y);
	y->d = pj_f2h(0.f);
	/* ggml advances its qs/signs cursors only past non-empty sub-blocks
	 * (an all-zero sub-block skips the advance), while qh is indexed by
	 * sub-block: reproduced with separate cursors */
	uint8_t *qs = y->qs, *signs = y->signs;
	float max_scale = 0;
	const float sigma2 = 2 * pj_sumsq256(x) / PJ_QK_K;
	for (int ib = 0; ib < 8; ib++) {
		const float *xb = x + 32 * ib;
		iq3_weights(xb, qw ? qw + 32 * ib : NULL, sigma2, weight, waux);
		uint8_t bsigns[4];
		for (int k = 0; k < 4; k++) {
			uint8_t s = 0;
			for (int i = 0; i < 8; i++) {
				if (xb[8 * k + i] >= 0) {
					xval[8 * k + i] = xb[8 * k + i];
				} else {
					xval[8 * k + i] = -xb[8 * k + i];
					s |= (uint8_t)(1 << i);
				}
			}
			bsigns[k] = s;
		}
		float max = xval[0];
		for (int i = 1; i < 32; i++)
			max = PJ_MAX(max, xval[i]);
		if (!max) {
			scales[ib] = 0;
			continue;
		}
		float scale = iq3_subblock(g, false, xval, weight, waux, L);
		if (scale < 0) {
			scale = -scale;
			for (int k = 0; k < 4; k++)
				bsigns[k] = (uint8_t)~bsigns[k];
		}
		for (int k = 0; k < 8; k++) {
			const int gi = g->map[iq3_code(L + 4 * k)];
			qs[k] = (uint8_t)(gi & 255);
			y->qh[(ib * 8 + k) / 8] |= (uint8_t)((gi >> 8) << ((ib * 8 + k) % 8));
		}
		qs += 8;
		memcpy(signs, bsigns, 4);
		signs += 4;
		scales[ib] = scale;
		max_scale = PJ_MAX(max_scale, scale);
	}
	if (!max_scale)
		return;
	const float d = max_scale / 31;
	y->d = pj_f2h(d * 1.033f);
	const float id = 1 / d;
	for (int ib = 0; ib < 8; ib += 2) {
		int l1 = pj_nearest_int(0.5f * (id * scales[ib] - 1));
		l1 = PJ_MAX(0, PJ_MIN(15, l1));
		int l2 = pj_nearest_int(0.5f * (id * scales[ib + 1] - 1));
		l2 = PJ_MAX(0, PJ_MIN(15, l2));
		y->scales[ib / 2] = (uint8_t)(l1 | (l2 << 4));
	}
}

void pj_qrow_iq3_s(const float *x, void *vy, int64_t n, const float *qw)
{
	pthread_once(&iq3_once, iq3_init);
	pj_blk_iq3_s *y = vy;
	for (int64_t i = 0; i < n / PJ_QK_K; i++)
		iq3s_superblock(x + PJ_QK_K * i, &y[i], qw ? qw + PJ_QK_K * i : NULL);
}

void pj_dqrow_iq3_s(const void *vx, float *y, int64_t n)
{
	pthread_once(&iq3_once, iq3_init);
	const pj_blk_iq3_s *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d);
		for (int ib = 0; ib < 8; ib++) {
			const float db = d * (1 + 2 * ((x[i].scales[ib / 2] >> (4 * (ib % 2))) & 0xf));
			for (int k = 0; k < 8; k++) {
				const int gi = x[i].qs[8 * ib + k] | (((x[i].qh[ib] >> k) & 1) << 8);
				const uint8_t s = x[i].signs[4 * ib + k / 2];
				const uint8_t *pg = G512.pts[gi];
				for (int j = 0; j < 4; j++)
					*y++ = db * pg[j] * ((s >> (4 * (k % 2) + j)) & 1 ? -1.f : 1.f);
			}
		}
	}
}

/* ---- IQ1_M ----------------------------------------------------------------
 * Groups of 8 ternary levels (-1, 0, +1, shifted by +-1/8 per half of a
 * 16-element sub-block) must be one of 2048 grid points (2 bits per level,
 * level l in 0..2 stands for l - 1).  Search: ggml's quantize_row_iq1_m_impl -
 * exhaustive over the two split points of the sorted values, then the grid
 * constraint via the nearest points at the three smallest distances. */

static const uint16_t IQ1_CODES[2048] = {
	0, 2, 5, 8, 10, 17, 21, 32, 34, 40, 42, 69, 81, 84, 86, 101,
	128, 130, 136, 138, 149, 160, 162, 168, 170, 260, 261, 273, 276, 278, 281, 282,
	293, 321, 326, 329, 338, 341, 346, 353, 356, 358, 360, 389, 401, 404, 406, 421,
	512, 514, 520, 522, 533, 544, 546, 552, 554, 581, 593, 601, 612, 617, 640, 642,
	648, 650, 657, 661, 665, 672, 674, 680, 682, 1041, 1044, 1046, 1061, 1089, 1097, 1109,
	1114, 1124, 1125, 1169, 1177, 1189, 1281, 1284, 1285, 1286, 1301, 1304, 1306, 1321, 1344, 1349,
	1354, 1360, 1361, 1364, 1365, 1366, 1369, 1376, 1378, 1381, 1384, 1386, 1409, 1425, 1429, 1432,
	1434, 1441, 1444, 1445, 1446, 1449, 1556, 1561, 1601, 1604, 1616, 1618, 1621, 1624, 1632, 1633,
	1638, 1641, 1669, 1681, 1684, 1689, 2048, 2050, 2056, 2058, 2069, 2080, 2082, 2088, 2090, 2117,
	2129, 2134, 2149, 2176, 2178, 2184, 2186, 2197, 2208, 2210, 2216, 2218, 2309, 2321, 2324, 2329,
	2340, 2341, 2369, 2384, 2385, 2389, 2401, 2404, 2409, 2449, 2452, 2454, 2457, 2469, 2560, 2562,
	2568, 2570, 2581, 2592, 2594, 2600, 2602, 2629, 2641, 2649, 2657, 2661, 2688, 2690, 2693, 2696,
	2698, 2709, 2720, 2722, 2728, 2730, 4112, 4113, 4116, 4121, 4132, 4133, 4161, 4164, 4176, 4181,
	4184, 4193, 4196, 4197, 4201, 4241, 4244, 4246, 4257, 4261, 4353, 4356, 4358, 4361, 4368, 4370,
	4373, 4376, 4385, 4388, 4393, 4421, 4426, 4432, 4433, 4434, 4436, 4437, 4438, 4441, 4448, 4453,
	4484, 4498, 4501, 4513, 4516, 4625, 4628, 4630, 4645, 4672, 4678, 4681, 4690, 4693, 4696, 4698,
	4708, 4710, 4741, 4753, 4756, 4758, 4773, 5121, 5126, 5129, 5140, 5141, 5144, 5145, 5153, 5158,
	5185, 5189, 5190, 5192, 5194, 5201, 5204, 5205, 5206, 5209, 5218, 5221, 5224, 5252, 5257, 5264,
	5268, 5269, 5272, 5273, 5274, 5281, 5284, 5285, 5289, 5378, 5381, 5386, 5393, 5396, 5397, 5398,
	5401, 5408, 5410, 5413, 5416, 5418, 5441, 5444, 5445, 5446, 5457, 5458, 5460, 5461, 5462, 5465,
	5466, 5473, 5476, 5477, 5478, 5481, 5504, 5506, 5508, 5509, 5512, 5514, 5520, 5521, 5524, 5525,
	5526, 5529, 5530, 5536, 5538, 5541, 5633, 5636, 5637, 5638, 5653, 5654, 5656, 5658, 5665, 5670,
	5696, 5698, 5700, 5701, 5704, 5706, 5713, 5717, 5718, 5720, 5721, 5729, 5732, 5733, 5736, 5737,
	5738, 5766, 5770, 5778, 5781, 5796, 5801, 6161, 6166, 6181, 6209, 6212, 6214, 6217, 6224, 6229,
	6232, 6234, 6240, 6241, 6244, 6246, 6249, 6277, 6289, 6292, 6309, 6416, 6418, 6421, 6426, 6433,
	6437, 6466, 6468, 6469, 6472, 6481, 6484, 6485, 6486, 6489, 6490, 6496, 6501, 6506, 6537, 6545,
	6546, 6549, 6552, 6561, 6566, 6569, 6665, 6678, 6692, 6694, 6724, 6726, 6729, 6736, 6738, 6741,
	6744, 6753, 6758, 6761, 6789, 6801, 6806, 6810, 8192, 8194, 8200, 8202, 8213, 8224, 8226, 8229,
	8232, 8234, 8261, 8273, 8281, 8289, 8293, 8320, 8322, 8328, 8330, 8341, 8352, 8354, 8357, 8360,
	8362, 8453, 8465, 8468, 8473, 8485, 8514, 8516, 8521, 8533, 8536, 8538, 8545, 8548, 8549, 8550,
	8581, 8592, 8598, 8601, 8613, 8705, 8712, 8714, 8721, 8725, 8736, 8738, 8744, 8746, 8773, 8785,
	8790, 8793, 8805, 8833, 8840, 8842, 8849, 8853, 8864, 8866, 8872, 8874, 9221, 9236, 9238, 9241,
	9253, 9284, 9285, 9286, 9289, 9298, 9301, 9304, 9306, 9318, 9349, 9361, 9364, 9369, 9377, 9381,
	9481, 9493, 9505, 9513, 9536, 9541, 9544, 9553, 9556, 9557, 9561, 9570, 9573, 9576, 9609, 9616,
	9620, 9621, 9624, 9626, 9633, 9636, 9638, 9641, 9733, 9744, 9746, 9753, 9765, 9793, 9801, 9813,
	9824, 9825, 9833, 9860, 9862, 9872, 9882, 10240, 10242, 10248, 10250, 10261, 10272, 10274, 10280, 10282,
	10309, 10321, 10324, 10341, 10368, 10370, 10376, 10378, 10400, 10402, 10408, 10410, 10505, 10513, 10516, 10521,
	10533, 10566, 10569, 10578, 10581, 10593, 10596, 10598, 10601, 10629, 10640, 10646, 10649, 10660, 10661, 10752,
	10754, 10760, 10762, 10784, 10786, 10792, 10794, 10821, 10833, 10838, 10841, 10853, 10880, 10882, 10888, 10890,
	10901, 10912, 10914, 10920, 10922, 16389, 16401, 16406, 16421, 16457, 16466, 16469, 16472, 16474, 16481, 16484,
	16486, 16532, 16537, 16545, 16550, 16640, 16641, 16644, 16646, 16649, 16658, 16661, 16662, 16664, 16666, 16673,
	16678, 16681, 16709, 16712, 16714, 16721, 16724, 16725, 16726, 16729, 16730, 16741, 16744, 16746, 16769, 16772,
	16774, 16784, 16786, 16789, 16800, 16801, 16802, 16901, 16913, 16916, 16918, 16933, 16961, 16978, 16981, 16986,
	16996, 17001, 17033, 17044, 17061, 17409, 17429, 17433, 17449, 17477, 17480, 17482, 17489, 17492, 17493, 17494,
	17505, 17506, 17509, 17512, 17514, 17537, 17542, 17545, 17552, 17554, 17557, 17568, 17569, 17577, 17665, 17666,
	17669, 17674, 17681, 17684, 17685, 17686, 17689, 17696, 17701, 17706, 17729, 17732, 17733, 17734, 17737, 17744,
	17745, 17748, 17749, 17750, 17752, 17753, 17761, 17764, 17765, 17766, 17769, 17794, 17796, 17797, 17800, 17809,
	17812, 17813, 17814, 17817, 17818, 17829, 17832, 17834, 17921, 17925, 17929, 17940, 17941, 17944, 17946, 17953,
	17956, 17961, 17984, 17986, 17989, 17992, 18000, 18001, 18002, 18005, 18006, 18009, 18018, 18021, 18024, 18049,
	18053, 18058, 18068, 18069, 18081, 18084, 18086, 18437, 18449, 18453, 18458, 18469, 18498, 18505, 18512, 18517,
	18520, 18529, 18532, 18534, 18537, 18565, 18577, 18580, 18582, 18585, 18597, 18689, 18693, 18694, 18698, 18704,
	18708, 18709, 18712, 18721, 18724, 18726, 18752, 18757, 18762, 18769, 18770, 18772, 18773, 18774, 18777, 18784,
	18786, 18789, 18790, 18794, 18822, 18825, 18834, 18837, 18838, 18840, 18849, 18852, 18854, 18857, 18966, 19012,
	19014, 19017, 19029, 19032, 19034, 19044, 19049, 19092, 19109, 20481, 20484, 20485, 20486, 20489, 20498, 20501,
	20506, 20513, 20516, 20521, 20544, 20549, 20552, 20561, 20564, 20565, 20566, 20569, 20581, 20584, 20614, 20617,
	20629, 20632, 20640, 20641, 20646, 20649, 20741, 20744, 20745, 20746, 20753, 20756, 20757, 20758, 20760, 20761,
	20768, 20773, 20774, 20776, 20778, 20801, 20804, 20805, 20806, 20809, 20816, 20817, 20818, 20820, 20821, 20822,
	20824, 20825, 20826, 20833, 20836, 20837, 20838, 20841, 20866, 20869, 20881, 20884, 20885, 20886, 20889, 20896,
	20901, 20906, 20993, 20998, 21010, 21013, 21018, 21025, 21028, 21058, 21061, 21066, 21073, 21076, 21077, 21078,
	21081, 21090, 21093, 21125, 21136, 21138, 21141, 21145, 21146, 21156, 21508, 21509, 21521, 21524, 21525, 21526,
	21528, 21529, 21537, 21541, 21544, 21546, 21569, 21572, 21573, 21574, 21577, 21578, 21584, 21585, 21588, 21589,
	21590, 21592, 21593, 21594, 21601, 21602, 21604, 21605, 21606, 21609, 21632, 21640, 21642, 21649, 21652, 21653,
	21654, 21657, 21665, 21668, 21669, 21674, 21761, 21762, 21764, 21765, 21766, 21769, 21776, 21777, 21778, 21780,
	21781, 21782, 21785, 21786, 21793, 21796, 21797, 21798, 21801, 21824, 21825, 21826, 21828, 21829, 21830, 21832,
	21833, 21840, 21841, 21842, 21844, 21845, 21846, 21848, 21849, 21850, 21856, 21857, 21860, 21861, 21862, 21864,
	21865, 21866, 21889, 21892, 21893, 21897, 21898, 21904, 21905, 21908, 21909, 21910, 21912, 21913, 21921, 21924,
	21925, 21926, 21929, 22016, 22017, 22018, 22020, 22022, 22024, 22025, 22033, 22036, 22037, 22040, 22041, 22048,
	22049, 22050, 22052, 22053, 22054, 22056, 22057, 22081, 22085, 22086, 22088, 22089, 22090, 22096, 22097, 22098,
	22100, 22101, 22102, 22104, 22105, 22106, 22113, 22116, 22117, 22121, 22146, 22149, 22150, 22152, 22153, 22154,
	22161, 22165, 22170, 22178, 22181, 22182, 22184, 22185, 22532, 22533, 22534, 22537, 22544, 22549, 22552, 22561,
	22570, 22597, 22600, 22602, 22609, 22612, 22613, 22614, 22616, 22617, 22624, 22626, 22628, 22629, 22658, 22665,
	22672, 22674, 22677, 22680, 22689, 22697, 22785, 22786, 22789, 22794, 22801, 22804, 22805, 22806, 22809, 22821,
	22849, 22852, 22853, 22854, 22857, 22864, 22865, 22866, 22868, 22869, 22870, 22872, 22873, 22874, 22881, 22884,
	22885, 22886, 22889, 22913, 22917, 22921, 22929, 22932, 22933, 22934, 22936, 22937, 22949, 23044, 23048, 23061,
	23066, 23072, 23077, 23078, 23081, 23109, 23112, 23113, 23121, 23125, 23126, 23128, 23129, 23138, 23141, 23144,
	23146, 23169, 23178, 23186, 23189, 23190, 23192, 23194, 23201, 24581, 24596, 24598, 24601, 24613, 24644, 24656,
	24661, 24662, 24664, 24666, 24673, 24676, 24678, 24681, 24705, 24726, 24741, 24833, 24836, 24838, 24841, 24850,
	24853, 24865, 24866, 24870, 24873, 24901, 24905, 24913, 24917, 24918, 24921, 24933, 24934, 24938, 24964, 24970,
	24978, 24981, 24993, 24998, 25001, 25105, 25110, 25113, 25152, 25153, 25158, 25173, 25174, 25176, 25184, 25221,
	25233, 25238, 25253, 25617, 25618, 25621, 25622, 25626, 25633, 25638, 25641, 25664, 25666, 25669, 25672, 25674,
	25681, 25684, 25685, 25686, 25689, 25690, 25696, 25698, 25701, 25732, 25733, 25737, 25744, 25746, 25748, 25749,
	25750, 25752, 25754, 25761, 25764, 25769, 25861, 25864, 25866, 25873, 25877, 25878, 25881, 25924, 25925, 25926,
	25929, 25936, 25937, 25940, 25941, 25942, 25945, 25953, 25956, 25957, 25958, 25961, 25990, 25993, 25994, 26001,
	26005, 26006, 26009, 26010, 26018, 26021, 26022, 26024, 26114, 26121, 26133, 26144, 26150, 26152, 26153, 26176,
	26181, 26184, 26186, 26193, 26196, 26197, 26198, 26200, 26202, 26208, 26213, 26216, 26240, 26242, 26245, 26250,
	26260, 26262, 26264, 26265, 26272, 26276, 26278, 26282, 26646, 26649, 26661, 26689, 26706, 26709, 26714, 26721,
	26729, 26757, 26769, 26776, 26790, 26881, 26884, 26896, 26901, 26913, 26916, 26918, 26921, 26944, 26945, 26949,
	26950, 26952, 26961, 26964, 26965, 26966, 26969, 26976, 26981, 26986, 27010, 27012, 27018, 27029, 27041, 27044,
	27045, 27049, 27153, 27158, 27160, 27201, 27204, 27209, 27216, 27221, 27224, 27226, 27236, 27237, 27241, 27270,
	27284, 27288, 27290, 27302, 32768, 32770, 32776, 32778, 32800, 32802, 32808, 32810, 32837, 32848, 32849, 32852,
	32854, 32857, 32869, 32896, 32898, 32904, 32906, 32917, 32928, 32930, 32936, 32938, 33029, 33041, 33044, 33046,
	33049, 33061, 33089, 33092, 33097, 33104, 33106, 33109, 33110, 33112, 33113, 33124, 33126, 33129, 33157, 33161,
	33172, 33174, 33177, 33189, 33280, 33282, 33288, 33290, 33301, 33312, 33314, 33320, 33322, 33361, 33364, 33369,
	33381, 33408, 33410, 33416, 33418, 33429, 33440, 33442, 33448, 33450, 33812, 33817, 33857, 33860, 33873, 33877,
	33882, 33889, 33892, 33897, 33940, 33945, 34049, 34057, 34066, 34069, 34074, 34086, 34089, 34112, 34113, 34117,
	34120, 34129, 34132, 34133, 34134, 34137, 34138, 34149, 34150, 34152, 34154, 34177, 34180, 34182, 34185, 34192,
	34194, 34197, 34200, 34214, 34321, 34326, 34329, 34341, 34369, 34372, 34377, 34378, 34384, 34389, 34393, 34394,
	34401, 34406, 34410, 34437, 34449, 34458, 34468, 34816, 34818, 34824, 34826, 34837, 34848, 34850, 34856, 34858,
	34881, 34885, 34897, 34900, 34905, 34917, 34921, 34944, 34946, 34952, 34954, 34965, 34976, 34978, 34984, 34986,
	35077, 35078, 35089, 35092, 35094, 35109, 35137, 35140, 35142, 35145, 35152, 35154, 35157, 35162, 35169, 35172,
	35205, 35222, 35225, 35237, 35328, 35330, 35336, 35338, 35349, 35360, 35362, 35368, 35370, 35397, 35409, 35412,
	35414, 35456, 35458, 35464, 35466, 35477, 35488, 35490, 35496, 35498, 36869, 36881, 36886, 36888, 36889, 36901,
	36929, 36934, 36937, 36949, 36952, 36954, 36969, 36970, 36997, 37009, 37012, 37014, 37017, 37029, 37121, 37124,
	37126, 37129, 37136, 37141, 37144, 37146, 37153, 37156, 37158, 37161, 37184, 37189, 37200, 37201, 37204, 37205,
	37206, 37209, 37218, 37221, 37252, 37254, 37266, 37269, 37272, 37281, 37284, 37286, 37289, 37381, 37393, 37396,
	37401, 37413, 37444, 37446, 37449, 37456, 37458, 37461, 37464, 37478, 37481, 37509, 37524, 37526, 37545, 37889,
	37892, 37894, 37904, 37909, 37912, 37926, 37952, 37962, 37969, 37972, 37973, 37974, 37976, 37977, 37984, 37985,
	37986, 37989, 38020, 38022, 38034, 38036, 38037, 38040, 38049, 38057, 38144, 38149, 38152, 38154, 38160, 38161,
	38164, 38165, 38166, 38169, 38177, 38181, 38185, 38186, 38209, 38212, 38213, 38214, 38217, 38224, 38225, 38226,
	38228, 38229, 38230, 38232, 38233, 38234, 38241, 38244, 38245, 38246, 38249, 38273, 38277, 38280, 38289, 38290,
	38292, 38293, 38294, 38297, 38298, 38304, 38306, 38309, 38312, 38314, 38401, 38404, 38416, 38421, 38425, 38432,
	38438, 38441, 38469, 38472, 38473, 38481, 38482, 38485, 38486, 38489, 38501, 38504, 38530, 38532, 38537, 38538,
	38546, 38548, 38549, 38564, 38566, 38569, 38917, 38934, 38937, 38949, 38977, 38982, 38992, 38994, 38997, 38998,
	39002, 39012, 39013, 39045, 39057, 39062, 39065, 39077, 39172, 39174, 39177, 39184, 39186, 39189, 39192, 39194,
	39200, 39201, 39204, 39206, 39232, 39234, 39237, 39240, 39242, 39249, 39252, 39253, 39254, 39257, 39266, 39269,
	39270, 39274, 39297, 39300, 39312, 39314, 39317, 39322, 39329, 39334, 39429, 39445, 39461, 39492, 39494, 39497,
	39504, 39509, 39512, 39521, 39557, 39569, 39572, 39573, 39574, 40960, 40962, 40968, 40970, 40981, 40992, 40994,
	41000, 41002, 41029, 41041, 41044, 41046, 41049, 41088, 41090, 41096, 41098, 41109, 41120, 41122, 41128, 41130,
	41221, 41225, 41233, 41236, 41238, 41241, 41242, 41286, 41289, 41297, 41301, 41304, 41306, 41313, 41316, 41349,
	41360, 41362, 41366, 41369, 41474, 41480, 41482, 41488, 41497, 41506, 41512, 41514, 41541, 41553, 41558, 41561,
	41573, 41600, 41602, 41608, 41610, 41621, 41632, 41634, 41640, 41642, 42009, 42021, 42049, 42052, 42064, 42068,
	42069, 42072, 42074, 42081, 42085, 42086, 42088, 42089, 42117, 42246, 42249, 42256, 42258, 42261, 42264, 42278,
	42281, 42306, 42309, 42321, 42324, 42325, 42326, 42329, 42341, 42346, 42369, 42372, 42373, 42374, 42377, 42386,
	42389, 42392, 42501, 42513, 42518, 42522, 42529, 42533, 42564, 42566, 42570, 42578, 42581, 42582, 42584, 42592,
	42594, 42630, 42640, 42645, 42646, 42649, 42657, 42660, 42662, 43008, 43010, 43016, 43018, 43040, 43042, 43048,
	43050, 43089, 43092, 43094, 43097, 43136, 43138, 43144, 43146, 43157, 43168, 43170, 43176, 43178, 43269, 43284,
	43289, 43297, 43301, 43329, 43344, 43349, 43354, 43361, 43366, 43369, 43408, 43414, 43520, 43522, 43528, 43530,
	43552, 43554, 43560, 43562, 43601, 43604, 43606, 43648, 43650, 43656, 43658, 43669, 43680, 43682, 43688, 43690,
};

#define IQ1_DELTA PJ_IQ1_DELTA

static pj_grid8 *G1;
static pthread_once_t iq1_once = PTHREAD_ONCE_INIT;

/* the three smallest distances, as for IQ1_S (ggml builds one table for both) */
static void iq1_init(void) { G1 = pj_grid8_build(IQ1_CODES, 2048, 3); }

const pj_grid8 *pj_iq1_grid(void)
{
	pthread_once(&iq1_once, iq1_init);
	return G1;
}

int pj_iq1_best_neighbour(const uint16_t *nb, const float *xval, const float *w, float scale, const float *xg,
                          int8_t *L)
{
	const int n = nb[0];
	float best = FLT_MAX;
	int gi = -1;
	for (int j = 1; j <= n; j++) {
		const uint8_t *pg = G1->pts[nb[j]];
		float d2 = 0;
		for (int i = 0; i < 8; i++) {
			const float q = xg[(pg[i] - 1) / 2];
			const float diff = scale * q - xval[i];
			d2 += w[i] * diff * diff;
		}
		if (d2 < best) {
			best = d2;
			gi = nb[j];
		}
	}
	if (gi < 0)
		gi = nb[1];   /* only for NaN distances, which finite input cannot give */
	for (int i = 0; i < 8; i++)
		L[i] = (int8_t)((G1->pts[gi][i] - 1) / 2);
	return gi;
}

float pj_iq1_refit(const int *index, int ngroups, const float *const *levels, const float *x, const float *w,
                   float scale)
{
	float sx = 0, s2 = 0;
	for (int k = 0; k < ngroups; k++) {
		const uint8_t *pg = G1->pts[index[k]];
		for (int j = 0; j < 8; j++) {
			const float q = levels[k][(pg[j] - 1) / 2];
			sx += w[8 * k + j] * q * x[8 * k + j];
			s2 += w[8 * k + j] * q * q;
		}
	}
	return sx > 0 && s2 > 0 ? sx / s2 : scale;
}

/* Ascending order; equal values keep their index order (glibc's qsort, which
 * ggml calls here, is a stable merge sort for such small arrays). */
void pj_sort_ascending(const float *x, int n, int *idx)
{
	for (int j = 0; j < n; j++) {
		int p = j;
		while (p > 0 && x[idx[p - 1]] > x[j]) {
			idx[p] = idx[p - 1];
			p--;
		}
		idx[p] = j;
	}
}

static const float IQ1_XP[3] = { -1 + IQ1_DELTA, IQ1_DELTA, 1 + IQ1_DELTA };
static const float IQ1_XM[3] = { -1 - IQ1_DELTA, -IQ1_DELTA, 1 - IQ1_DELTA };

/* shift pattern k: bit 1 = first 8 use minus shift, bit 0 = second 8 do */
static inline const float *iq1_levels(int k, int half)
{
	return (half == 0 ? k < 2 : k % 2 == 0) ? IQ1_XP : IQ1_XM;
}

static void iq1_weights(const float *xb, const float *qw, float sigma2, float *w)
{
	for (int i = 0; i < 16; i++)
		w[i] = qw ? qw[i] * sqrtf(sigma2 + xb[i] * xb[i]) : xb[i] * xb[i];
}

static void iq1m_superblock(const float *x, pj_blk_iq1_m *y, const float *qw)
{
	float scales[16], weight[16];
	int8_t shifts[16], L[16];
	memset(y, 0, sizeof *y);
	float max_scale = 0;
	const float sigma2 = 2 * pj_sumsq256(x) / PJ_QK_K;
	for (int ib = 0; ib < 16; ib++) {
		const float *xb = x + 16 * ib;
		iq1_weights(xb, qw ? qw + 16 * ib : NULL, sigma2, weight);
		float max = fabsf(xb[0]);
		for (int i = 1; i < 16; i++)
			max = PJ_MAX(max, fabsf(xb[i]));
		if (max < 1e-7f) {
			scales[ib] = 0;
			shifts[ib] = 0;
			continue;
		}
		int idx[16];
		pj_sort_ascending(xb, 16, idx);
		float best_score = -FLT_MAX, scale = max;
		int bi1 = -1, bi2 = -1, bk = -1;
		/* sums run over the sorted order with level 0 below i1, 1 below i2,
		 * 2 above: the prefix states are reused, the additions are the same */
		/* the products w*q*x and w*q*q of every element, level and shift
		 * pattern, computed once (same values, same rounding) */
		float px[16][3][4], p2[16][3][4];
		for (int i = 0; i < 16; i++)
			for (int lv = 0; lv < 3; lv++)
				for (int k = 0; k < 4; k++) {
					const float q = iq1_levels(k, i >= 8)[lv];
					px[i][lv][k] = weight[i] * q * xb[i];
					p2[i][lv][k] = weight[i] * q * q;
				}
		float ax[4] = { 0, 0, 0, 0 }, a2[4] = { 0, 0, 0, 0 };
		for (int i1 = 0; i1 <= 16; i1++) {
			if (i1 > 0) {
				const int i = idx[i1 - 1];
				for (int k = 0; k < 4; k++) {
					ax[k] += px[i][0][k];
					a2[k] += p2[i][0][k];
				}
			}
			float bx[4], b2[4];
			memcpy(bx, ax, sizeof bx);
			memcpy(b2, a2, sizeof b2);
			for (int i2 = i1; i2 <= 16; i2++) {
				if (i2 > i1) {
					const int i = idx[i2 - 1];
					for (int k = 0; k < 4; k++) {
						bx[k] += px[i][1][k];
						b2[k] += p2[i][1][k];
					}
				}
				float sx[4], s2[4];
				memcpy(sx, bx, sizeof sx);
				memcpy(s2, b2, sizeof s2);
				for (int j = i2; j < 16; j++) {
					const int i = idx[j];
					for (int k = 0; k < 4; k++) {
						sx[k] += px[i][2][k];
						s2[k] += p2[i][2][k];
					}
				}
				for (int k = 0; k < 4; k++) {
					if (s2[k] > 0 && sx[k] * sx[k] > best_score * s2[k]) {
						scale = sx[k] / s2[k];
						best_score = scale * sx[k];
						bi1 = i1;
						bi2 = i2;
						bk = k;
					}
				}
			}
		}
		if (bi1 < 0 || bi2 < 0 || bk < 0) {
			scales[ib] = 0;
			shifts[ib] = 0;
			continue;
		}
		for (int j = 0; j < 16; j++)
			L[idx[j]] = (int8_t)(j < bi1 ? 0 : j < bi2 ? 1 : 2);
		if (scale < 0) {
			for (int j = 0; j < 16; j++)
				L[j] = (int8_t)(2 - L[j]);
			scale = -scale;
			bk = 3 - bk;
		}
		bool all_on = true;
		int index[2];
		for (int k = 0; k < 2; k++) {
			const float *xx = iq1_levels(bk, k);
			uint16_t u = 0;
			for (int j = 0; j < 8; j++)
				u |= (uint16_t)(L[8 * k + j] << (2 * j));
			int gi = G1->map[u];
			if (gi < 0) {
				all_on = false;
				gi = pj_iq1_best_neighbour(G1->nb - gi - 1, xb + 8 * k, weight + 8 * k, scale, xx, L + 8 * k);
			}
			index[k] = gi;
		}
		if (!all_on) {
			const float *levels[2] = { iq1_levels(bk, 0), iq1_levels(bk, 1) };
			scale = pj_iq1_refit(index, 2, levels, xb, weight, scale);
		}
		y->qs[2 * ib] = (uint8_t)(index[0] & 255);
		y->qs[2 * ib + 1] = (uint8_t)(index[1] & 255);
		y->qh[ib] = (uint8_t)((index[0] >> 8) | ((index[1] >> 8) << 4));
		scales[ib] = scale;
		shifts[ib] = (int8_t)bk;
		max_scale = PJ_MAX(max_scale, scale);
	}
	if (!max_scale)
		return;
	static const uint8_t masks[4] = { 0x00, 0x80, 0x08, 0x88 };
	uint16_t sc[4] = { 0, 0, 0, 0 };
	float d = max_scale / 15;
	const float id = 1 / d;
	float sx = 0, s2 = 0;
	for (int ib = 0; ib < 16; ib++) {
		int l = pj_nearest_int(0.5f * (id * scales[ib] - 1));
		l = PJ_MAX(0, PJ_MIN(7, l));
		sc[ib / 4] |= (uint16_t)(l << (3 * (ib % 4)));
		y->qh[ib] |= masks[shifts[ib]];
		const float *xb = x + 16 * ib;
		iq1_weights(xb, qw ? qw + 16 * ib : NULL, sigma2, weight);
		for (int k = 0; k < 2; k++) {
			const float *xx = iq1_levels(shifts[ib], k);
			const uint8_t *pg = G1->pts[y->qs[2 * ib + k] + ((y->qh[ib] << (8 - 4 * k)) & 0x700)];
			for (int j = 0; j < 8; j++) {
				const float w = weight[8 * k + j];
				const float q = xx[(pg[j] - 1) / 2] * (2 * l + 1);
				sx += w * q * xb[8 * k + j];
				s2 += w * q * q;
			}
		}
	}
	if (s2 > 0)
		d = sx / s2;
	const uint16_t h = pj_f2h(d * 1.1125f);
	sc[0] |= (uint16_t)((h & 0x000f) << 12);
	sc[1] |= (uint16_t)((h & 0x00f0) << 8);
	sc[2] |= (uint16_t)((h & 0x0f00) << 4);
	sc[3] |= (uint16_t)(h & 0xf000);
	memcpy(y->scales, sc, sizeof sc);
}

void pj_qrow_iq1_m(const float *x, void *vy, int64_t n, const float *qw)
{
	pthread_once(&iq1_once, iq1_init);
	pj_blk_iq1_m *y = vy;
	for (int64_t i = 0; i < n / PJ_QK_K; i++)
		iq1m_superblock(x + PJ_QK_K * i, &y[i], qw ? qw + PJ_QK_K * i : NULL);
}

void pj_dqrow_iq1_m(const void *vx, float *y, int64_t n)
{
	pthread_once(&iq1_once, iq1_init);
	const pj_blk_iq1_m *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		uint16_t sc[4];
		memcpy(sc, x[i].scales, sizeof sc);
		const uint16_t h = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
		const float d = pj_h2f(h);
		for (int ib = 0; ib < 16; ib++) {
			const float dl = d * (2 * ((sc[ib / 4] >> (3 * (ib % 4))) & 0x7) + 1);
			const uint8_t qh = x[i].qh[ib];
			for (int k = 0; k < 2; k++) {
				const int gi = x[i].qs[2 * ib + k] | ((qh << (8 - 4 * k)) & 0x700);
				const float delta = qh & (k ? 0x80 : 0x08) ? -IQ1_DELTA : IQ1_DELTA;
				for (int j = 0; j < 8; j++)
					*y++ = dl * ((G1->pts[gi][j] - 1) / 2 - 1 + delta);
			}
		}
	}
}
