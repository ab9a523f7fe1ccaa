/* q_iq2.c - 2-bit grid formats IQ2_XXS, IQ2_XS, IQ2_S and the 1-bit IQ1_S.
 *
 * IQ2: groups of 8 magnitudes, each an odd level 2l+1 (l in 0..2), must be
 * one of 256 (XXS), 512 (XS) or 1024 (S) allowed points; a point off the
 * grid becomes the best of its neighbours (q_grid.h: the two nearest
 * distances for XXS/XS, the nearest for S).  XXS and XS store 7 signs per
 * group and flip the least important element to make the count even; S
 * stores all 8.  Scales: one per 32 (XXS) or 16 (XS, S) elements, 4 bits
 * each, under a half-precision super-block scale.  Decoded magnitudes are
 * 8, 25, 43 for l = 0, 1, 2 (times a quarter of the sub-block scale).
 *
 * IQ1_S: 32-element sub-blocks of ternary levels (-1, 0, 1, all shifted by
 * +-1/8), groups of 8 on the 2048-point grid IQ1_M also uses (q_iq.c).
 *
 * The searches are ggml's quantize_row_iq2_xxs_impl, _iq2_xs_impl,
 * _iq2_s_impl and _iq1_s_impl, arithmetic in the same order.  IQ2_XXS,
 * IQ2_XS and IQ1_S need importance weights (ggml asserts them). */
#include "config.h"

#include <float.h>
#include <pthread.h>
#include <stdlib.h>

#include "error.h"
#include "q_common.h"
#include "q_grid.h"

typedef struct { pj_half d; uint16_t qs[32]; } blk_iq2_xxs;
typedef struct { pj_half d; uint16_t qs[32]; uint8_t scales[8]; } blk_iq2_xs;
typedef struct { pj_half d; uint8_t qs[64]; uint8_t qh[8]; uint8_t scales[8]; } blk_iq2_s;
typedef struct { pj_half d; uint8_t qs[32]; uint16_t qh[8]; } blk_iq1_s;
_Static_assert(sizeof(blk_iq2_xxs) == 66, "iq2_xxs");
_Static_assert(sizeof(blk_iq2_xs) == 74, "iq2_xs");
_Static_assert(sizeof(blk_iq2_s) == 82, "iq2_s");
_Static_assert(sizeof(blk_iq1_s) == 50, "iq1_s");

/* The allowed points: 2 bits per coordinate, coordinate i in bits 2i..2i+1
 * (ggml's kgrid_2bit_256/512/1024; the decoding tables iq2xxs_grid etc.
 * are these with l -> 8, 25, 43 per byte). */
static const uint16_t IQ2_CODES_256[256] = {
	0, 2, 5, 8, 10, 17, 20, 32, 34, 40, 42, 65, 68, 80, 88, 97,
	100, 128, 130, 138, 162, 257, 260, 272, 277, 320, 388, 408, 512, 514, 546, 642,
	1025, 1028, 1040, 1057, 1060, 1088, 1090, 1096, 1120, 1153, 1156, 1168, 1188, 1280, 1282, 1288,
	1312, 1350, 1385, 1408, 1425, 1545, 1552, 1600, 1668, 1700, 2048, 2053, 2056, 2068, 2088, 2113,
	2116, 2128, 2130, 2184, 2308, 2368, 2562, 2580, 4097, 4100, 4112, 4129, 4160, 4192, 4228, 4240,
	4245, 4352, 4360, 4384, 4432, 4442, 4480, 4644, 4677, 5120, 5128, 5152, 5157, 5193, 5248, 5400,
	5474, 5632, 5654, 6145, 6148, 6160, 6208, 6273, 6400, 6405, 6560, 6737, 8192, 8194, 8202, 8260,
	8289, 8320, 8322, 8489, 8520, 8704, 8706, 9217, 9220, 9232, 9280, 9302, 9472, 9537, 9572, 9872,
	10248, 10272, 10388, 10820, 16385, 16388, 16400, 16408, 16417, 16420, 16448, 16456, 16470, 16480, 16513, 16516,
	16528, 16640, 16672, 16737, 16768, 16773, 16897, 16912, 16968, 16982, 17000, 17408, 17416, 17440, 17536, 17561,
	17682, 17700, 17920, 18433, 18436, 18448, 18496, 18501, 18688, 18776, 18785, 18818, 19013, 19088, 20480, 20488,
	20497, 20505, 20512, 20608, 20616, 20740, 20802, 20900, 21137, 21648, 21650, 21770, 22017, 22100, 22528, 22545,
	22553, 22628, 22848, 23048, 24580, 24592, 24640, 24680, 24832, 24917, 25112, 25184, 25600, 25605, 25872, 25874,
	25988, 26690, 32768, 32770, 32778, 32833, 32898, 33028, 33048, 33088, 33297, 33793, 33796, 33808, 33813, 33856,
	33888, 34048, 34118, 34196, 34313, 34368, 34400, 34818, 35076, 35345, 36868, 36880, 36900, 36928, 37025, 37142,
	37248, 37445, 37888, 37922, 37956, 38225, 39041, 39200, 40962, 41040, 41093, 41225, 41472, 42008, 43088, 43268,
};

static const uint16_t IQ2_CODES_512[512] = {
	0, 2, 5, 8, 10, 17, 20, 22, 25, 32, 34, 37, 40, 65, 68, 70,
	73, 80, 82, 85, 88, 97, 100, 128, 130, 133, 136, 145, 148, 153, 160, 257,
	260, 262, 265, 272, 274, 277, 280, 282, 289, 292, 320, 322, 325, 328, 337, 340,
	352, 360, 385, 388, 400, 512, 514, 517, 520, 529, 532, 544, 577, 580, 592, 597,
	640, 650, 1025, 1028, 1030, 1033, 1040, 1042, 1045, 1048, 1057, 1060, 1088, 1090, 1093, 1096,
	1105, 1108, 1110, 1120, 1153, 1156, 1168, 1280, 1282, 1285, 1288, 1297, 1300, 1312, 1345, 1348,
	1360, 1377, 1408, 1537, 1540, 1552, 1574, 1600, 1602, 1668, 2048, 2050, 2053, 2056, 2058, 2065,
	2068, 2080, 2085, 2113, 2116, 2128, 2136, 2176, 2208, 2218, 2305, 2308, 2320, 2368, 2433, 2441,
	2560, 2592, 2600, 2710, 2720, 4097, 4100, 4102, 4105, 4112, 4114, 4117, 4120, 4129, 4132, 4160,
	4162, 4165, 4168, 4177, 4180, 4192, 4202, 4225, 4228, 4240, 4352, 4354, 4357, 4360, 4369, 4372,
	4384, 4417, 4420, 4432, 4480, 4500, 4502, 4609, 4612, 4614, 4624, 4672, 4704, 5120, 5122, 5125,
	5128, 5137, 5140, 5152, 5185, 5188, 5193, 5200, 5220, 5248, 5377, 5380, 5392, 5440, 5632, 5652,
	5705, 6145, 6148, 6160, 6162, 6208, 6228, 6278, 6400, 6405, 6502, 6737, 6825, 8192, 8194, 8197,
	8200, 8202, 8209, 8212, 8224, 8257, 8260, 8272, 8320, 8352, 8449, 8452, 8464, 8512, 8520, 8549,
	8704, 8738, 8832, 8872, 9217, 9220, 9232, 9257, 9280, 9472, 9537, 9554, 9625, 9729, 9754, 9894,
	10240, 10248, 10250, 10272, 10325, 10376, 10402, 10600, 10640, 10760, 10784, 10882, 10888, 10890, 16385, 16388,
	16390, 16393, 16400, 16402, 16405, 16408, 16417, 16420, 16448, 16450, 16453, 16456, 16458, 16465, 16468, 16480,
	16485, 16513, 16516, 16528, 16640, 16642, 16645, 16648, 16657, 16660, 16672, 16705, 16708, 16720, 16768, 16773,
	16802, 16897, 16900, 16912, 16914, 16937, 16960, 17408, 17410, 17413, 17416, 17425, 17428, 17433, 17440, 17473,
	17476, 17488, 17536, 17556, 17665, 17668, 17680, 17700, 17728, 17818, 17920, 17930, 17988, 18000, 18433, 18436,
	18448, 18496, 18501, 18516, 18530, 18688, 18705, 18756, 18768, 18793, 18948, 20480, 20482, 20485, 20488, 20497,
	20500, 20512, 20520, 20545, 20548, 20560, 20608, 20737, 20740, 20752, 20757, 20800, 20802, 20992, 21060, 21162,
	21505, 21508, 21520, 21537, 21568, 21600, 21633, 21665, 21760, 21768, 21888, 21896, 22049, 22120, 22177, 22528,
	22548, 22593, 22608, 22681, 22810, 22848, 22850, 23173, 24577, 24580, 24592, 24640, 24660, 24674, 24710, 24745,
	24832, 25124, 25162, 25234, 25600, 25622, 25872, 25920, 25925, 26020, 26625, 26730, 26917, 27142, 27220, 27234,
	32768, 32770, 32773, 32776, 32785, 32788, 32800, 32810, 32833, 32836, 32848, 32896, 32898, 32936, 32938, 33025,
	33028, 33030, 33040, 33088, 33105, 33113, 33280, 33312, 33408, 33410, 33440, 33448, 33793, 33796, 33808, 33810,
	33813, 33856, 33888, 33929, 34048, 34116, 34213, 34328, 34410, 34816, 34824, 34853, 34906, 34944, 34946, 34984,
	35078, 35362, 35456, 35464, 35478, 35496, 36865, 36868, 36880, 36928, 36950, 36996, 37120, 37154, 37220, 37462,
	37513, 37888, 37893, 37956, 37968, 37976, 38185, 38288, 38290, 38465, 38993, 39078, 39241, 39445, 39520, 40960,
	40962, 40968, 40970, 40992, 41002, 41120, 41297, 41305, 41382, 41472, 41474, 41480, 41514, 41600, 41632, 42048,
	42133, 42597, 42648, 43018, 43040, 43042, 43048, 43168, 43176, 43268, 43396, 43398, 43560, 43562, 43665, 43690,
};

static const uint16_t IQ2_CODES_1024[1024] = {
	0, 2, 5, 8, 10, 17, 20, 22, 25, 32, 34, 37, 40, 65, 68, 70,
	73, 80, 82, 85, 88, 97, 100, 102, 105, 128, 130, 133, 136, 145, 148, 160,
	165, 170, 257, 260, 262, 265, 272, 274, 277, 280, 289, 292, 320, 322, 325, 328,
	337, 340, 342, 345, 352, 357, 360, 385, 388, 400, 402, 405, 417, 420, 512, 514,
	517, 520, 529, 532, 544, 554, 577, 580, 582, 585, 592, 597, 640, 645, 650, 660,
	674, 1025, 1028, 1030, 1033, 1040, 1042, 1045, 1048, 1057, 1060, 1062, 1065, 1088, 1090, 1093,
	1096, 1098, 1105, 1108, 1110, 1113, 1120, 1122, 1125, 1153, 1156, 1158, 1161, 1168, 1173, 1176,
	1185, 1188, 1280, 1282, 1285, 1288, 1290, 1297, 1300, 1302, 1305, 1312, 1317, 1320, 1345, 1348,
	1350, 1353, 1360, 1362, 1365, 1368, 1377, 1380, 1408, 1410, 1413, 1416, 1425, 1428, 1440, 1537,
	1540, 1542, 1545, 1552, 1557, 1600, 1605, 1608, 1617, 1620, 1632, 1665, 1668, 1680, 2048, 2050,
	2053, 2056, 2065, 2068, 2070, 2073, 2080, 2085, 2090, 2113, 2116, 2118, 2121, 2128, 2130, 2133,
	2136, 2145, 2148, 2176, 2181, 2196, 2218, 2305, 2308, 2320, 2322, 2325, 2328, 2337, 2368, 2373,
	2376, 2385, 2388, 2400, 2433, 2448, 2560, 2577, 2580, 2594, 2600, 2602, 2640, 2713, 4097, 4100,
	4102, 4105, 4112, 4114, 4117, 4120, 4129, 4132, 4134, 4160, 4162, 4165, 4168, 4177, 4180, 4182,
	4185, 4192, 4194, 4197, 4200, 4225, 4228, 4230, 4240, 4245, 4248, 4257, 4260, 4352, 4354, 4357,
	4360, 4362, 4369, 4372, 4374, 4377, 4384, 4386, 4389, 4392, 4417, 4420, 4422, 4425, 4432, 4434,
	4437, 4440, 4449, 4452, 4480, 4482, 4485, 4488, 4497, 4500, 4609, 4612, 4617, 4624, 4629, 4641,
	4644, 4672, 4677, 4689, 4692, 4737, 4740, 4752, 5120, 5122, 5125, 5128, 5137, 5140, 5142, 5145,
	5152, 5157, 5160, 5185, 5188, 5190, 5193, 5200, 5202, 5205, 5208, 5217, 5220, 5248, 5250, 5253,
	5256, 5265, 5268, 5280, 5377, 5380, 5382, 5385, 5392, 5394, 5397, 5400, 5409, 5412, 5440, 5442,
	5445, 5448, 5457, 5460, 5472, 5505, 5508, 5520, 5632, 5637, 5640, 5649, 5652, 5664, 5697, 5700,
	5712, 5760, 5802, 6145, 6148, 6150, 6153, 6160, 6165, 6168, 6177, 6208, 6210, 6213, 6216, 6225,
	6228, 6240, 6273, 6276, 6400, 6402, 6405, 6408, 6417, 6420, 6432, 6465, 6468, 6480, 6505, 6562,
	6660, 6672, 6720, 6742, 8192, 8194, 8197, 8200, 8209, 8212, 8214, 8217, 8224, 8229, 8234, 8257,
	8260, 8272, 8274, 8277, 8292, 8320, 8330, 8340, 8362, 8449, 8452, 8464, 8466, 8469, 8481, 8512,
	8514, 8517, 8529, 8532, 8544, 8577, 8580, 8592, 8704, 8714, 8738, 8744, 8746, 8772, 8784, 8840,
	8842, 8872, 9217, 9220, 9222, 9225, 9232, 9237, 9240, 9249, 9252, 9280, 9282, 9285, 9288, 9297,
	9300, 9312, 9345, 9348, 9360, 9472, 9477, 9480, 9489, 9492, 9504, 9537, 9540, 9552, 9574, 9600,
	9729, 9732, 9744, 9792, 9817, 10240, 10245, 10257, 10260, 10305, 10308, 10320, 10378, 10410, 10497, 10500,
	10512, 10645, 10762, 10786, 10852, 10888, 10890, 16385, 16388, 16390, 16393, 16400, 16402, 16405, 16408, 16410,
	16417, 16420, 16422, 16448, 16450, 16453, 16456, 16458, 16465, 16468, 16470, 16473, 16480, 16482, 16485, 16513,
	16516, 16528, 16533, 16536, 16545, 16548, 16640, 16642, 16645, 16648, 16657, 16660, 16662, 16665, 16672, 16674,
	16677, 16705, 16708, 16710, 16713, 16720, 16722, 16725, 16728, 16737, 16740, 16768, 16770, 16773, 16776, 16785,
	16788, 16800, 16897, 16900, 16912, 16914, 16917, 16920, 16932, 16960, 16965, 16968, 16977, 16980, 16992, 17025,
	17028, 17408, 17410, 17413, 17416, 17418, 17425, 17428, 17430, 17433, 17440, 17442, 17445, 17448, 17473, 17476,
	17478, 17481, 17488, 17490, 17493, 17496, 17505, 17508, 17536, 17538, 17541, 17544, 17553, 17556, 17568, 17665,
	17668, 17670, 17673, 17680, 17682, 17685, 17688, 17697, 17700, 17728, 17730, 17733, 17736, 17745, 17748, 17760,
	17770, 17793, 17796, 17808, 17920, 17922, 17925, 17928, 17937, 17940, 17952, 17985, 17988, 18000, 18048, 18085,
	18433, 18436, 18441, 18448, 18450, 18453, 18456, 18465, 18468, 18496, 18498, 18501, 18504, 18513, 18516, 18528,
	18564, 18576, 18688, 18690, 18693, 18696, 18705, 18708, 18720, 18753, 18756, 18768, 18816, 18838, 18945, 18948,
	18960, 19008, 20480, 20482, 20485, 20488, 20497, 20500, 20502, 20505, 20512, 20514, 20517, 20520, 20545, 20548,
	20550, 20553, 20560, 20562, 20565, 20568, 20577, 20580, 20608, 20610, 20613, 20616, 20625, 20628, 20737, 20740,
	20742, 20745, 20752, 20754, 20757, 20760, 20769, 20772, 20800, 20802, 20805, 20808, 20817, 20820, 20832, 20865,
	20868, 20880, 20992, 20997, 21000, 21009, 21012, 21024, 21057, 21060, 21072, 21097, 21120, 21505, 21508, 21510,
	21513, 21520, 21522, 21525, 21528, 21537, 21540, 21568, 21570, 21573, 21576, 21585, 21588, 21600, 21633, 21636,
	21648, 21760, 21762, 21765, 21768, 21777, 21780, 21792, 21825, 21828, 21840, 21888, 22017, 22020, 22032, 22054,
	22080, 22528, 22530, 22533, 22536, 22545, 22548, 22560, 22593, 22596, 22608, 22618, 22656, 22785, 22788, 22800,
	22848, 23040, 23065, 23173, 23208, 24577, 24580, 24582, 24592, 24594, 24597, 24600, 24609, 24612, 24640, 24645,
	24648, 24657, 24660, 24672, 24708, 24720, 24832, 24834, 24837, 24840, 24849, 24852, 24864, 24897, 24900, 24912,
	24960, 24985, 25092, 25104, 25152, 25174, 25249, 25600, 25605, 25608, 25617, 25620, 25632, 25665, 25668, 25680,
	25728, 25857, 25860, 25872, 25920, 25930, 25960, 26002, 26112, 26260, 26625, 26628, 26640, 26725, 26776, 26880,
	26922, 27202, 27297, 32768, 32770, 32773, 32776, 32785, 32788, 32793, 32800, 32805, 32833, 32836, 32848, 32850,
	32853, 32856, 32865, 32896, 32901, 32913, 32916, 33025, 33028, 33033, 33040, 33042, 33045, 33048, 33057, 33060,
	33088, 33090, 33093, 33096, 33105, 33108, 33153, 33156, 33168, 33193, 33280, 33285, 33290, 33297, 33300, 33345,
	33348, 33360, 33793, 33796, 33798, 33801, 33808, 33810, 33813, 33816, 33825, 33856, 33858, 33861, 33864, 33873,
	33876, 33888, 33921, 33924, 33936, 34048, 34050, 34053, 34056, 34065, 34068, 34080, 34113, 34116, 34128, 34176,
	34186, 34305, 34308, 34320, 34345, 34368, 34816, 34821, 34833, 34836, 34881, 34884, 34896, 34978, 35073, 35076,
	35136, 35173, 35362, 35416, 35418, 35458, 35490, 36865, 36868, 36873, 36880, 36882, 36885, 36888, 36900, 36928,
	36930, 36933, 36936, 36945, 36948, 36960, 36993, 36996, 37008, 37120, 37125, 37137, 37140, 37185, 37188, 37200,
	37210, 37377, 37380, 37392, 37440, 37542, 37888, 37890, 37893, 37896, 37905, 37908, 37920, 37953, 37956, 37968,
	38016, 38038, 38145, 38148, 38160, 38208, 38296, 38305, 38400, 38470, 38500, 38913, 38916, 38928, 38950, 38976,
	39081, 39168, 39241, 39250, 39568, 40960, 40965, 40970, 40980, 40994, 41002, 41025, 41028, 41040, 41122, 41130,
	41280, 41317, 41474, 41482, 41506, 41512, 41514, 41602, 41608, 41610, 41640, 41985, 41988, 42000, 42048, 42121,
	42148, 42240, 42265, 42577, 43018, 43048, 43170, 43348, 43398, 43528, 43530, 43552, 43554, 43560, 43656, 43690,
};

/* decoded magnitude of level l */
static const uint8_t IQ2_LEVEL[3] = { 8, 25, 43 };

/* ---- the grids ------------------------------------------------------------ */

pj_grid8 *pj_grid8_build(const uint16_t *codes, int size, int nwant)
{
	pj_grid8 *g = pj_xcalloc(1, sizeof *g);
	g->size = size;
	g->pts = pj_xmalloc((size_t)size * sizeof *g->pts);
	for (int i = 0; i < PJ_G8_NCODES; i++)
		g->map[i] = INT32_MIN;
	for (int k = 0; k < size; k++) {
		for (int i = 0; i < 8; i++)
			g->pts[k][i] = (uint8_t)(2 * ((codes[k] >> (2 * i)) & 3) + 1);
		g->map[codes[k]] = k;
	}
	int *d2s = pj_xmalloc((size_t)size * sizeof *d2s);
	size_t cap = 6561 * 16, used = 0;
	g->nb = pj_xmalloc(cap * sizeof(uint16_t));
	for (int code = 0; code < PJ_G8_NCODES; code++) {
		if (g->map[code] != INT32_MIN)
			continue;
		int pos[8];
		bool ternary = true;
		for (int i = 0; i < 8; i++) {
			pos[i] = 2 * ((code >> (2 * i)) & 3) + 1;
			ternary &= pos[i] < 7;
		}
		if (!ternary)
			continue;
		int best[3] = { INT32_MAX, INT32_MAX, INT32_MAX };   /* nwant smallest distinct */
		for (int j = 0; j < size; j++) {
			int d2 = 0;
			for (int i = 0; i < 8; i++)
				d2 += (g->pts[j][i] - pos[i]) * (g->pts[j][i] - pos[i]);
			d2s[j] = d2;
			int p = 0;
			while (p < nwant && best[p] < d2)
				p++;
			if (p == nwant || best[p] == d2)
				continue;
			for (int q = nwant - 1; q > p; q--)
				best[q] = best[q - 1];
			best[p] = d2;
		}
		if (used + 1 + (size_t)size > cap) {
			cap = 2 * cap + (size_t)size;
			g->nb = pj_xrealloc(g->nb, cap * sizeof(uint16_t));
		}
		g->map[code] = -(int32_t)(used + 1);
		const size_t start = used++;
		for (int b = 0; b < nwant && best[b] != INT32_MAX; b++)
			for (int j = 0; j < size; j++)
				if (d2s[j] == best[b])
					g->nb[used++] = (uint16_t)j;
		g->nb[start] = (uint16_t)(used - start - 1);
	}
	free(d2s);
	return g;
}

static pj_grid8 *G256, *G512, *G1024;
static pthread_once_t iq2_once = PTHREAD_ONCE_INIT;

static void iq2_init(void)
{
	G256 = pj_grid8_build(IQ2_CODES_256, 256, 2);
	G512 = pj_grid8_build(IQ2_CODES_512, 512, 2);
	G1024 = pj_grid8_build(IQ2_CODES_1024, 1024, 1);
}

/* pj_grid_best_neighbour for IQ2 groups: each coordinate has only three
 * levels, so its three terms w*(scale*q - x)^2 are formed once (the same
 * products, rounded the same) and every neighbour's distance adds them in
 * the same order - the same sums, about three times fewer operations. */
static void iq2_best_neighbour(const pj_grid8 *g, const uint16_t *nb, const float *xval, const float *w, float scale,
                               int8_t *L)
{
	float term[8][3];
	for (int i = 0; i < 8; i++)
		for (int l = 0; l < 3; l++) {
			const float q = (float)(2 * l + 1);
			const float diff = scale * q - xval[i];
			term[i][l] = w[i] * diff * diff;
		}
	float best_d2 = FLT_MAX;
	int best = nb[1];       /* kept only for NaN distances (finite input has none) */
	for (int j = 1; j <= nb[0]; j++) {
		const uint8_t *pg = g->pts[nb[j]];
		float d2 = 0;
		for (int i = 0; i < 8; i++)
			d2 += term[i][pg[i] >> 1];
		if (d2 < best_d2) {
			best_d2 = d2;
			best = nb[j];
		}
	}
	for (int i = 0; i < 8; i++)
		L[i] = (int8_t)(g->pts[best][i] >> 1);
}

/* Levels of a group at inverse scale id, snapped to the grid (the neighbour
 * search at scale `scale` when off it).  Returns whether it was on it. */
static bool iq2_group(const pj_grid8 *g, const float *xval, const float *waux, float id, float scale, int8_t *L)
{
	for (int i = 0; i < 8; i++) {
		const int l = pj_nearest_int(0.5f * (id * xval[i] - 1));
		L[i] = (int8_t)PJ_MAX(0, PJ_MIN(2, l));
	}
	const int gi = g->map[pj_grid8_code(L)];
	if (gi >= 0)
		return true;
	iq2_best_neighbour(g, g->nb - gi - 1, xval, waux, scale, L);
	return false;
}

/* grid index of on-grid levels (anything else is a bug: ggml aborts) */
static int iq2_index(const pj_grid8 *g, const int8_t *L)
{
	const int gi = g->map[pj_grid8_code(L)];
	return gi >= 0 ? gi : 0;
}

static float iq2_fit(int n, const float *xval, const float *weight, const int8_t *L, float *sumq2)
{
	float sumqx = 0, s2 = 0;
	for (int i = 0; i < n; i++) {
		const float w = weight[i];
		const float q = 2 * L[i] + 1;
		sumqx += w * xval[i] * q;
		s2 += w * q * q;
	}
	*sumq2 = s2;
	return sumqx;
}

/* Magnitudes and signs of a group of 8.  even: make the number of negative
 * signs even by flipping the element of least weight*x^2 (its magnitude goes
 * negative) - the 7-bit sign codes of XXS and XS. */
static uint8_t iq2_signs(const float *xb, const float *weight, float *xval, bool even)
{
	int nflip = 0;
	uint8_t s = 0;
	for (int i = 0; i < 8; i++) {
		if (xb[i] >= 0) {
			xval[i] = xb[i];
		} else {
			xval[i] = -xb[i];
			nflip++;
			s |= (uint8_t)(1 << i);
		}
	}
	if (even && nflip % 2) {
		int imin = 0;
		float min = weight[0] * xb[0] * xb[0];
		for (int i = 1; i < 8; i++) {
			const float ax = weight[i] * xb[i] * xb[i];
			if (ax < min) {
				min = ax;
				imin = i;
			}
		}
		xval[imin] = -xval[imin];
		s ^= (uint8_t)(1 << imin);
	}
	return even ? s & 127 : s;
}

/* Weights (qw NULL: IQ2_S's fallback), their square roots, magnitudes and
 * sign codes of n elements; returns the largest magnitude. */
static float iq2_prepare(const float *xb, const float *qw, float sigma2, int n, bool even, float *weight,
                         float *waux, float *xval, uint8_t *signs)
{
	for (int i = 0; i < n; i++)
		weight[i] = qw ? qw[i] * sqrtf(sigma2 + xb[i] * xb[i]) : 0.25f * sigma2 + xb[i] * xb[i];
	for (int i = 0; i < n; i++)
		waux[i] = sqrtf(weight[i]);
	for (int k = 0; k < n / 8; k++)
		signs[k] = iq2_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k, even);
	float max = xval[0];
	for (int i = 1; i < n; i++)
		max = PJ_MAX(max, xval[i]);
	return max;
}

/* The super-block scale d = max_scale/31, stored times fudge; false (and
 * nothing stored) for an empty super-block. */
static bool iq2_dscale(float max_scale, float fudge, pj_half *dh, float *id)
{
	if (!max_scale)
		return false;
	const float d = max_scale / 31;
	*dh = pj_f2h(d * fudge);
	*id = 1 / d;
	return true;
}

/* 4-bit sub-block scale l with (2l+1)*d/2 ~ scale */
static inline int iq2_scale4(float id, float scale)
{
	const int l = pj_nearest_int(0.5f * (id * scale - 1));
	return PJ_MAX(0, PJ_MIN(15, l));
}

/* ---- IQ2_XS and IQ2_S: 16-element sub-blocks -------------------------------
 * 19 trial scales around max/5; groups that ended off the grid are redone at
 * the best scale and the scale refit.  The caller skips empty sub-blocks. */
static float iq2_sub16(const pj_grid8 *g, const float *xval, const float *weight, const float *waux, float max,
                       int8_t *L)
{
	int8_t Laux[16];
	bool on[2] = { true, true }, on_aux[2];
	float best = 0, scale = max / 5, sumq2;
	for (int is = -9; is <= 9; is++) {
		const float id = (5 + is * 0.1f) / max;
		const float this_scale = 1 / id;
		for (int k = 0; k < 2; k++)
			on_aux[k] = iq2_group(g, xval + 8 * k, waux + 8 * k, id, this_scale, Laux + 8 * k);
		const float sumqx = iq2_fit(16, xval, weight, Laux, &sumq2);
		if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
			scale = sumqx / sumq2;
			best = scale * sumqx;
			memcpy(L, Laux, 16);
			on[0] = on_aux[0];
			on[1] = on_aux[1];
		}
	}
	if ((!on[0] || !on[1]) && scale > 0) {
		const float id = 1 / scale;
		for (int k = 0; k < 2; k++)
			if (!on[k])
				iq2_group(g, xval + 8 * k, waux + 8 * k, id, scale, L + 8 * k);
		const float sumqx = iq2_fit(16, xval, weight, L, &sumq2);
		if (sumq2 > 0)
			scale = sumqx / sumq2;
	}
	return scale;
}

/* ---- IQ2_XXS -------------------------------------------------------------- */

static void iq2xxs_superblock(const float *x, blk_iq2_xxs *y, const float *qw)
{
	const pj_grid8 *g = G256;
	uint32_t q2[16];
	float scales[8], weight[32], waux[32], xval[32];
	int8_t L[32], Laux[32];
	uint8_t signs[4];
	memset(q2, 0, sizeof q2);
	y->d = pj_f2h(0.f);
	float max_scale = 0;
	const float sigma2 = pj_sumsq256(x) / PJ_QK_K;
	for (int ib = 0; ib < 8; ib++) {
		const float max = iq2_prepare(x + 32 * ib, qw + 32 * ib, sigma2, 32, true, weight, waux, xval, signs);
		scales[ib] = 0;
		if (max < PJ_GROUP_EPS)
			continue;
		float scale = pj_make_qp(32, 4, xval, (uint8_t *)L, weight);
		const float eff_max = scale * 3;
		if (eff_max <= 0)
			continue;
		float best = 0, sumq2;
		for (int is = -6; is <= 6; is++) {
			const float id = (5 + is * 0.1f) / eff_max;
			const float this_scale = 1 / id;
			for (int k = 0; k < 4; k++)
				iq2_group(g, xval + 8 * k, waux + 8 * k, id, this_scale, Laux + 8 * k);
			const float sumqx = iq2_fit(32, xval, weight, Laux, &sumq2);
			if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
				scale = sumqx / sumq2;
				best = scale * sumqx;
				memcpy(L, Laux, 32);
			}
		}
		if (scale > 0) {
			const float id = 1 / scale;
			for (int k = 0; k < 4; k++)
				iq2_group(g, xval + 8 * k, waux + 8 * k, id, scale, L + 8 * k);
			const float sumqx = iq2_fit(32, xval, weight, L, &sumq2);
			if (sumq2 > 0)
				scale = sumqx / sumq2;
		}
		if (scale < 0) {
			scale = -scale;
			for (int k = 0; k < 4; k++)
				signs[k] = (uint8_t)(~signs[k] & 127);
		}
		for (int k = 0; k < 4; k++) {
			q2[2 * ib] |= (uint32_t)iq2_index(g, L + 8 * k) << (8 * k);
			q2[2 * ib + 1] |= (uint32_t)signs[k] << (7 * k);
		}
		scales[ib] = scale;
		max_scale = PJ_MAX(max_scale, scale);
	}
	float id;
	if (!iq2_dscale(max_scale, 1.0f, &y->d, &id)) {
		memset(y->qs, 0, sizeof y->qs);
		return;
	}
	for (int ib = 0; ib < 8; ib++)
		q2[2 * ib + 1] |= (uint32_t)iq2_scale4(id, scales[ib]) << 28;
	memcpy(y->qs, q2, sizeof q2);
}

/* ---- IQ2_XS --------------------------------------------------------------- */

static void iq2xs_superblock(const float *x, blk_iq2_xs *y, const float *qw)
{
	const pj_grid8 *g = G512;
	uint16_t q2[32];
	float scales[16], weight[16], waux[16], xval[16];
	int8_t L[16];
	uint8_t signs[2];
	memset(q2, 0, sizeof q2);
	memset(y->scales, 0, sizeof y->scales);
	y->d = pj_f2h(0.f);
	float max_scale = 0;
	const float sigma2 = pj_sumsq256(x) / PJ_QK_K;
	for (int ib = 0; ib < 16; ib++) {
		const float max = iq2_prepare(x + 16 * ib, qw + 16 * ib, sigma2, 16, true, weight, waux, xval, signs);
		memset(L, 0, sizeof L);
		scales[ib] = 0;
		if (max < PJ_GROUP_EPS)
			continue;
		float scale = iq2_sub16(g, xval, weight, waux, max, L);
		if (scale < 0) {
			scale = -scale;
			for (int k = 0; k < 2; k++)
				signs[k] = (uint8_t)(~signs[k] & 127);
		}
		for (int k = 0; k < 2; k++)
			q2[2 * ib + k] = (uint16_t)(iq2_index(g, L + 8 * k) | (signs[k] << 9));
		scales[ib] = scale;
		max_scale = PJ_MAX(max_scale, scale);
	}
	float id;
	if (!iq2_dscale(max_scale, 1.0f, &y->d, &id)) {
		memset(y->qs, 0, sizeof y->qs);
		return;
	}
	for (int ib = 0; ib < 16; ib++)
		y->scales[ib / 2] |= (uint8_t)(iq2_scale4(id, scales[ib]) << (4 * (ib % 2)));
	memcpy(y->qs, q2, sizeof q2);
}

/* ---- IQ2_S ---------------------------------------------------------------- */

static void iq2s_superblock(const float *x, blk_iq2_s *y, const float *qw)
{
	const pj_grid8 *g = G1024;
	float scales[16], weight[16], waux[16], xval[16];
	int8_t L[16];
	memset(y, 0, sizeof *y);
	y->d = pj_f2h(0.f);
	float max_scale = 0;
	const float sigma2 = 2 * pj_sumsq256(x) / PJ_QK_K;
	for (int ib = 0; ib < 16; ib++) {
		uint8_t signs[2];
		const float max = iq2_prepare(x + 16 * ib, qw ? qw + 16 * ib : NULL, sigma2, 16, false, weight, waux, xval,
		                              signs);
		memset(L, 0, sizeof L);
		scales[ib] = 0;
		if (max < 1e-8f)
			continue;
		float scale = iq2_sub16(g, xval, weight, waux, max, L);
		if (scale < 0) {
			scale = -scale;
			for (int k = 0; k < 2; k++)
				signs[k] = (uint8_t)~signs[k];
		}
		for (int k = 0; k < 2; k++) {
			const int gi = iq2_index(g, L + 8 * k), i8 = 2 * ib + k;
			y->qs[i8] = (uint8_t)(gi & 255);
			y->qh[i8 / 4] |= (uint8_t)((gi >> 8) << (2 * (i8 % 4)));
			y->qs[32 + i8] = signs[k];
		}
		scales[ib] = scale;
		max_scale = PJ_MAX(max_scale, scale);
	}
	float id;
	if (!iq2_dscale(max_scale, 0.9875f, &y->d, &id))
		return;
	for (int ib = 0; ib < 16; ib++)
		y->scales[ib / 2] |= (uint8_t)(iq2_scale4(id, scales[ib]) << (4 * (ib % 2)));
}

/* ---- IQ1_S ----------------------------------------------------------------
 * Exhaustive over the two split points of the sorted values (levels -1, 0, 1
 * below, between, above), both shifts, from prefix sums of w*x and w; then
 * the grid constraint, a refit when a group moved, and 3-bit scales. */

static const float IQ1_XP[3] = { -1 + PJ_IQ1_DELTA, PJ_IQ1_DELTA, 1 + PJ_IQ1_DELTA };
static const float IQ1_XM[3] = { -1 - PJ_IQ1_DELTA, -PJ_IQ1_DELTA, 1 - PJ_IQ1_DELTA };

/* score of a split (i1, i2) for levels xx: sumqx and sumq2 as ggml forms them */
static inline float iq1s_split(const float *sumx, const float *sumw, int i1, int i2, const float *xx, float *sumq2)
{
	*sumq2 = (sumw[i1] - sumw[0]) * xx[0] * xx[0] + (sumw[i2] - sumw[i1]) * xx[1] * xx[1] +
	         (sumw[32] - sumw[i2]) * xx[2] * xx[2];
	return (sumx[i1] - sumx[0]) * xx[0] + (sumx[i2] - sumx[i1]) * xx[1] + (sumx[32] - sumx[i2]) * xx[2];
}

static void iq1s_superblock(const pj_grid8 *g, const float *x, blk_iq1_s *y, const float *qw)
{
	float scales[8], weight[32], sumx[33], sumw[33];
	int8_t shifts[8], L[32];
	int idx[32];
	memset(y, 0, sizeof *y);
	y->d = pj_f2h(0.f);
	float max_scale = 0;
	const float sigma2 = 2 * pj_sumsq256(x) / PJ_QK_K;
	for (int ib = 0; ib < 8; ib++) {
		const float *xb = x + 32 * ib;
		for (int i = 0; i < 32; i++)
			weight[i] = qw[32 * ib + i] * sqrtf(sigma2 + xb[i] * xb[i]);
		float max = fabsf(xb[0]);
		for (int i = 1; i < 32; i++)
			max = PJ_MAX(max, fabsf(xb[i]));
		scales[ib] = 0;
		shifts[ib] = 1;
		if (max < 1e-12f)
			continue;
		pj_sort_ascending(xb, 32, idx);
		sumx[0] = sumw[0] = 0;
		for (int j = 0; j < 32; j++) {
			const int i = idx[j];
			sumx[j + 1] = sumx[j] + weight[i] * xb[i];
			sumw[j + 1] = sumw[j] + weight[i];
		}
		float best_score = -FLT_MAX, scale = max, sumq2;
		int bi1 = -1, bi2 = -1, shift = 0;
		for (int i1 = 0; i1 <= 32; i1++) {
			for (int i2 = i1; i2 <= 32; i2++) {
				for (int m = 0; m < 2; m++) {
					const float sumqx = iq1s_split(sumx, sumw, i1, i2, m ? IQ1_XM : IQ1_XP, &sumq2);
					if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
						scale = sumqx / sumq2;
						best_score = scale * sumqx;
						bi1 = i1;
						bi2 = i2;
						shift = m ? -1 : 1;
					}
				}
			}
		}
		if (bi1 < 0 || bi2 < 0 || shift == 0)
			continue;
		for (int j = 0; j < 32; j++)
			L[idx[j]] = (int8_t)(j < bi1 ? 0 : j < bi2 ? 1 : 2);
		if (scale < 0) {
			for (int j = 0; j < 32; j++)
				L[j] = (int8_t)(2 - L[j]);
			scale = -scale;
			shift = -shift;
		}
		const float *xx = shift == 1 ? IQ1_XP : IQ1_XM;
		bool all_on = true;
		int index[4];
		for (int k = 0; k < 4; k++) {
			int gi = g->map[pj_grid8_code(L + 8 * k)];
			if (gi < 0) {
				all_on = false;
				gi = pj_iq1_best_neighbour(g->nb - gi - 1, xb + 8 * k, weight + 8 * k, scale, xx, L + 8 * k);
			}
			index[k] = gi;
		}
		if (!all_on) {
			const float *levels[4] = { xx, xx, xx, xx };
			scale = pj_iq1_refit(index, 4, levels, xb, weight, scale);
		}
		uint16_t h = 0;
		for (int k = 0; k < 4; k++) {
			y->qs[4 * ib + k] = (uint8_t)(index[k] & 255);
			h |= (uint16_t)((index[k] >> 8) << (3 * k));
		}
		y->qh[ib] = h;
		scales[ib] = scale;
		shifts[ib] = (int8_t)shift;
		max_scale = PJ_MAX(max_scale, scale);
	}
	if (!max_scale)
		return;
	const float d = max_scale / 15;
	y->d = pj_f2h(d * 1.125f);
	const float id = 1 / d;
	for (int ib = 0; ib < 8; ib++) {
		int l = pj_nearest_int(0.5f * (id * scales[ib] - 1));
		l = PJ_MAX(0, PJ_MIN(7, l));
		if (shifts[ib] == -1)
			l |= 8;
		y->qh[ib] |= (uint16_t)(l << 12);
	}
}

/* ---- row entry points ----------------------------------------------------- */

/* IQ2_XXS, IQ2_XS and IQ1_S are only reached with weights (qtypes.c refuses
 * them without, as ggml asserts); unit weights keep a direct caller safe. */
static void unit_weights(float *w)
{
	for (int i = 0; i < PJ_QK_K; i++)
		w[i] = 1.f;
}

#define IQ2_ROW(name, blk, fn)                                                    \
	void pj_qrow_##name(const float *x, void *vy, int64_t n, const float *qw) \
	{                                                                          \
		pthread_once(&iq2_once, iq2_init);                                 \
		float ones[PJ_QK_K];                                               \
		if (!qw)                                                           \
			unit_weights(ones);                                        \
		blk *y = vy;                                                       \
		for (int64_t i = 0; i < n / PJ_QK_K; i++)                          \
			fn(x + PJ_QK_K * i, &y[i], qw ? qw + PJ_QK_K * i : ones); \
	}
IQ2_ROW(iq2_xxs, blk_iq2_xxs, iq2xxs_superblock)
IQ2_ROW(iq2_xs, blk_iq2_xs, iq2xs_superblock)
#undef IQ2_ROW

void pj_qrow_iq2_s(const float *x, void *vy, int64_t n, const float *qw)
{
	pthread_once(&iq2_once, iq2_init);
	blk_iq2_s *y = vy;
	for (int64_t i = 0; i < n / PJ_QK_K; i++)
		iq2s_superblock(x + PJ_QK_K * i, &y[i], qw ? qw + PJ_QK_K * i : NULL);
}

void pj_qrow_iq1_s(const float *x, void *vy, int64_t n, const float *qw)
{
	const pj_grid8 *g = pj_iq1_grid();
	float ones[PJ_QK_K];
	if (!qw)
		unit_weights(ones);
	blk_iq1_s *y = vy;
	for (int64_t i = 0; i < n / PJ_QK_K; i++)
		iq1s_superblock(g, x + PJ_QK_K * i, &y[i], qw ? qw + PJ_QK_K * i : ones);
}

/* ---- dequantization ------------------------------------------------------- */

/* 8 values of grid point gi times db, sign bit j of s negating value j */
static inline float *iq2_put8(const pj_grid8 *g, int gi, uint8_t s, float db, float *y)
{
	for (int j = 0; j < 8; j++)
		*y++ = db * IQ2_LEVEL[(g->pts[gi][j] - 1) / 2] * ((s >> j) & 1 ? -1.f : 1.f);
	return y;
}

/* a 7-bit sign code and its parity bit */
static inline uint8_t iq2_sign8(unsigned s7) { return (uint8_t)(s7 | (__builtin_popcount(s7) & 1) << 7); }

void pj_dqrow_iq2_xxs(const void *vx, float *y, int64_t n)
{
	pthread_once(&iq2_once, iq2_init);
	const blk_iq2_xxs *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d);
		for (int ib = 0; ib < 8; ib++) {
			uint32_t aux[2];
			memcpy(aux, x[i].qs + 4 * ib, sizeof aux);
			const float db = d * (0.5f + (aux[1] >> 28)) * 0.25f;
			for (int l = 0; l < 4; l++)
				y = iq2_put8(G256, (aux[0] >> (8 * l)) & 255, iq2_sign8((aux[1] >> (7 * l)) & 127), db, y);
		}
	}
}

void pj_dqrow_iq2_xs(const void *vx, float *y, int64_t n)
{
	pthread_once(&iq2_once, iq2_init);
	const blk_iq2_xs *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d);
		for (int ib = 0; ib < 8; ib++)
			for (int l = 0; l < 4; l++) {
				const float db = d * (0.5f + ((x[i].scales[ib] >> (4 * (l / 2))) & 0xf)) * 0.25f;
				const uint16_t q = x[i].qs[4 * ib + l];
				y = iq2_put8(G512, q & 511, iq2_sign8(q >> 9), db, y);
			}
	}
}

void pj_dqrow_iq2_s(const void *vx, float *y, int64_t n)
{
	pthread_once(&iq2_once, iq2_init);
	const blk_iq2_s *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d);
		for (int ib = 0; ib < 8; ib++)
			for (int l = 0; l < 4; l++) {
				const float db = d * (0.5f + ((x[i].scales[ib] >> (4 * (l / 2))) & 0xf)) * 0.25f;
				const int gi = x[i].qs[4 * ib + l] | ((x[i].qh[ib] << (8 - 2 * l)) & 0x300);
				y = iq2_put8(G1024, gi, x[i].qs[32 + 4 * ib + l], db, y);
			}
	}
}

void pj_dqrow_iq1_s(const void *vx, float *y, int64_t n)
{
	const pj_grid8 *g = pj_iq1_grid();
	const blk_iq1_s *x = vx;
	for (int64_t i = 0; i < n / PJ_QK_K; i++) {
		const float d = pj_h2f(x[i].d);
		for (int ib = 0; ib < 8; ib++) {
			const uint16_t qh = x[i].qh[ib];
			const float dl = d * (2 * ((qh >> 12) & 7) + 1);
			const float delta = qh & 0x8000 ? -PJ_IQ1_DELTA : PJ_IQ1_DELTA;
			for (int l = 0; l < 4; l++) {
				const int gi = x[i].qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8);
				for (int j = 0; j < 8; j++)
					*y++ = dl * ((g->pts[gi][j] - 1) / 2 - 1 + delta);
			}
		}
	}
}
