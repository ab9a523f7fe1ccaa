/* convert.c - element decoders.  Bit-level constructions rather than
 * ldexp() where possible: they are exact by construction and fast. */
#include "config.h"
#include "convert.h"

#include <math.h>
#include <string.h>

#include "qtypes.h"

static inline float f32_from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

float pj_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x3ffu;

	if (exp == 0x1f)                 /* Inf / NaN: keep the payload */
		return f32_from_bits(sign | 0x7f800000u | (mant << 13));
	if (exp == 0) {                  /* zero / subnormal: mant * 2^-24, exact in f32 */
		float v = (float)mant * 0x1p-24f;
		return sign ? -v : v;
	}
	return f32_from_bits(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

float pj_bf16_to_f32(uint16_t b)
{
	/* bf16 is the top half of an f32, subnormals and NaN included. */
	return f32_from_bits((uint32_t)b << 16);
}

float pj_fp8_e4m3_to_f32(uint8_t v)
{
	uint32_t sign = v & 0x80u;
	uint32_t exp = (v >> 3) & 0xfu;
	uint32_t mant = v & 0x7u;
	float r;

	if (exp == 0xf && mant == 0x7)   /* the only NaN encodings; no Inf in E4M3FN */
		return sign ? -NAN : NAN;
	if (exp == 0)
		r = (float)mant * 0x1p-9f;       /* subnormal: m/8 * 2^(1-7) */
	else
		r = f32_from_bits(((exp + 127 - 7) << 23) | (mant << 20));
	return sign ? -r : r;
}

float pj_fp8_e5m2_to_f32(uint8_t v)
{
	/* E5M2 is exactly the top byte of an IEEE half. */
	return pj_f16_to_f32((uint16_t)((uint16_t)v << 8));
}

float pj_e8m0_to_f32(uint8_t v)
{
	if (v == 0xff)
		return NAN;
	if (v == 0)
		return 0x1p-127f;                /* an f32 subnormal */
	return f32_from_bits((uint32_t)v << 23);
}

/* Loads through memcpy: tensor data in a mapped file need not be aligned. */
#define PJ_LOADER(name, type) \
	static inline type name(const void *p, size_t i) \
	{ type v; memcpy(&v, (const char *)p + i * sizeof v, sizeof v); return v; }
PJ_LOADER(ld_u16, uint16_t)
PJ_LOADER(ld_i16, int16_t)
PJ_LOADER(ld_u32, uint32_t)
PJ_LOADER(ld_i32, int32_t)
PJ_LOADER(ld_u64, uint64_t)
PJ_LOADER(ld_i64, int64_t)
PJ_LOADER(ld_f64, double)
#undef PJ_LOADER

bool pj_convert_supported(pj_dtype t)
{
	switch (t) {
	case PJ_DT_F32: case PJ_DT_F16: case PJ_DT_BF16: case PJ_DT_F64:
	case PJ_DT_F8_E4M3: case PJ_DT_F8_E5M2: case PJ_DT_F8_E8M0:
	case PJ_DT_I8: case PJ_DT_I16: case PJ_DT_I32: case PJ_DT_I64:
	case PJ_DT_U8: case PJ_DT_U16: case PJ_DT_U32: case PJ_DT_U64:
	case PJ_DT_BOOL:
		return true;
	default:
		return false;
	}
}

pj_status pj_convert_f32(pj_dtype t, const void *src, float *dst, size_t n)
{
	const uint8_t *b = src;

	switch (t) {
	case PJ_DT_F32:
		memcpy(dst, src, n * sizeof *dst);
		break;
	case PJ_DT_F16:
		for (size_t i = 0; i < n; i++)
			dst[i] = pj_f16_to_f32(ld_u16(src, i));
		break;
	case PJ_DT_BF16:
		for (size_t i = 0; i < n; i++)
			dst[i] = pj_bf16_to_f32(ld_u16(src, i));
		break;
	case PJ_DT_F64:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)ld_f64(src, i);
		break;
	case PJ_DT_F8_E4M3:
		for (size_t i = 0; i < n; i++)
			dst[i] = pj_fp8_e4m3_to_f32(b[i]);
		break;
	case PJ_DT_F8_E5M2:
		for (size_t i = 0; i < n; i++)
			dst[i] = pj_fp8_e5m2_to_f32(b[i]);
		break;
	case PJ_DT_F8_E8M0:
		for (size_t i = 0; i < n; i++)
			dst[i] = pj_e8m0_to_f32(b[i]);
		break;
	case PJ_DT_I8:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)(int8_t)b[i];
		break;
	case PJ_DT_U8:
	case PJ_DT_BOOL:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)b[i];
		break;
	case PJ_DT_I16:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)ld_i16(src, i);
		break;
	case PJ_DT_U16:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)ld_u16(src, i);
		break;
	case PJ_DT_I32:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)ld_i32(src, i);
		break;
	case PJ_DT_U32:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)ld_u32(src, i);
		break;
	case PJ_DT_I64:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)ld_i64(src, i);
		break;
	case PJ_DT_U64:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)ld_u64(src, i);
		break;
	default:
		return PJ_EUNSUPPORTED;
	}
	return PJ_OK;
}

/* ---- sources for quantization --------------------------------------------- */

bool pj_convert_is_requant(pj_dtype t)
{
	const pj_dtype_info *di = pj_dtype_info_of(t);
	return di && di->quantized;
}

bool pj_convert_rows_supported(pj_dtype t)
{
	const pj_qtype *q = pj_qtype_get(t);
	return pj_convert_supported(t) || (pj_convert_is_requant(t) && q && q->dequantize_row);
}

pj_status pj_convert_rows_f32(pj_dtype t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                              const char *what, pj_error *err)
{
	if (nrows < 0 || ncols < 0)
		return pj_fail(err, PJ_EUSAGE, "%s: negative shape", what ? what : "tensor");
	if (pj_convert_supported(t)) {
		/* row by row keeps the size_t product of one row only */
		const size_t esz = pj_dtype_info_of(t)->type_size;
		for (int64_t r = 0; r < nrows; r++)
			pj_convert_f32(t, (const uint8_t *)src + (size_t)r * (size_t)ncols * esz, dst + r * ncols,
			               (size_t)ncols);
		return PJ_OK;
	}
	const pj_qtype *q = pj_qtype_get(t);
	if (pj_convert_is_requant(t) && q && q->dequantize_row) {
		if (ncols % q->block)
			return pj_fail(err, PJ_EFORMAT, "%s: rows of %lld are not whole %s blocks of %u",
			               what ? what : "tensor", (long long)ncols, q->name, q->block);
		return pj_dequantize_rows(t, src, dst, nrows, ncols, err);
	}
	return pj_fail(err, PJ_EUNSUPPORTED, "%s: cannot convert %s to f32 (no dequantizer)", what ? what : "tensor",
	               pj_dtype_name(t));
}

pj_status pj_convert_fp8_block_scaled(pj_dtype t, const void *w, pj_dtype scale_type, const void *scale,
                                      uint64_t scale_n, int64_t rows, int64_t cols, int64_t block,
                                      int64_t row0, int64_t nrows, float *dst, const char *what,
                                      pj_error *err)
{
	const char *nm = what ? what : "tensor";
	if (t != PJ_DT_F8_E4M3 && t != PJ_DT_F8_E5M2)
		return pj_fail(err, PJ_EUSAGE, "%s: block scales apply to FP8 tensors, not %s", nm, pj_dtype_name(t));
	if (scale_type != PJ_DT_F32 && scale_type != PJ_DT_BF16 && scale_type != PJ_DT_F16)
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: scale_inv of type %s", nm, pj_dtype_name(scale_type));
	if (block < 1 || rows < 0 || cols < 0 || row0 < 0 || nrows < 0 || row0 + nrows > rows)
		return pj_fail(err, PJ_EUSAGE, "%s: bad block scale request", nm);
	const int64_t br = (rows + block - 1) / block, bc = (cols + block - 1) / block;
	if ((uint64_t)(br * bc) != scale_n)
		return pj_fail(err, PJ_EFORMAT, "%s: scale_inv has %llu values, expected %lld x %lld for %lld x %lld blocks of %lld",
		               nm, (unsigned long long)scale_n, (long long)br, (long long)bc, (long long)rows,
		               (long long)cols, (long long)block);
	const size_t ssz = pj_dtype_info_of(scale_type)->type_size;
	for (int64_t r = 0; r < nrows; r++) {
		const int64_t gr = row0 + r;
		float *out = dst + r * cols;
		pj_convert_f32(t, (const uint8_t *)w + (size_t)gr * (size_t)cols, out, (size_t)cols);
		const uint8_t *srow = (const uint8_t *)scale + (size_t)(gr / block * bc) * ssz;
		for (int64_t b = 0; b < bc; b++) {
			float s;
			pj_convert_f32(scale_type, srow + (size_t)b * ssz, &s, 1);
			const int64_t end = (b + 1) * block < cols ? (b + 1) * block : cols;
			for (int64_t c = b * block; c < end; c++)
				out[c] *= s;
		}
	}
	return PJ_OK;
}

static bool grid_fits(int64_t rows, int64_t cols, int64_t srows, int64_t scols, int64_t b)
{
	return (rows + b - 1) / b == srows && (cols + b - 1) / b == scols;
}

int64_t pj_convert_fp8_block_of(int64_t rows, int64_t cols, int64_t srows, int64_t scols)
{
	if (rows < 1 || cols < 1 || srows < 1 || scols < 1)
		return 0;
	if (grid_fits(rows, cols, srows, scols, 128))
		return 128;
	const int64_t most = rows > cols ? rows : cols;
	for (int64_t b = 1; b <= most; b++)
		if (grid_fits(rows, cols, srows, scols, b))
			return b;
	return 0;
}
