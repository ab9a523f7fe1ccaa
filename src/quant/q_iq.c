/* q_iq.c - grid ("i-quant") formats: IQ3_XXS, IQ3_S (and later IQ1_M).
 *
 * IQ3: groups of 4 magnitudes, each an odd level 2l+1 (l in 0..7), must be one
 * of 256 (XXS) or 512 (S) allowed points of the 8^4 lattice.  A point off the
 * grid is replaced by the best of its nearest grid points (all grid points at
 * the two (XXS) or three (S) smallest squared distances, in (distance, index)
 * order - the order decides ties, exactly as in ggml's iq3xs_init_impl).
 * Signs: 8 per group of 8 (XXS keeps 7 and an even-parity rule).
 *
 * The search is ggml's quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl
 * arithmetic, in the same order, including its quirks (see iq3s_superblock). */
#include "config.h"

#include <float.h>
#include <pthread.h>
#include <stdlib.h>

#include "error.h"
#include "q_common.h"

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

/* Best neighbour of an off-grid group: weighted distance of scale*level to
 * the target magnitudes; the first strict minimum wins.  Writes levels l. */
static int iq3_best_neighbour(const iq3_grid *g, const uint16_t *nb, const float *xval, const float *w,
                              float scale, int8_t *L)
{
	const int n = nb[0];
	float best_d2 = FLT_MAX;
	int best = -1;
	for (int j = 1; j <= n; j++) {
		const uint8_t *pg = g->pts[nb[j]];
		float d2 = 0;
		for (int i = 0; i < 4; i++) {
			const float q = pg[i];
			const float diff = scale * q - xval[i];
			d2 += w[i] * diff * diff;
		}
		if (d2 < best_d2) {
			best_d2 = d2;
			best = nb[j];
		}
	}
	for (int i = 0; i < 4; i++)
		L[i] = (int8_t)((g->pts[best][i] - 1) / 2);
	return best;
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

static float sumsq256(const float *x)
{
	float s = 0;
	for (int i = 0; i < PJ_QK_K; i++)
		s += x[i] * x[i];
	return s;
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
	const float sigma2 = 2 * sumsq256(x) / PJ_QK_K;
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
	const float sigma2 = 2 * sumsq256(x) / PJ_QK_K;
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
