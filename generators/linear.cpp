// Registers the generators of linear.h with the generator executable: each product for float32,
// bfloat16 and float16 weights, and for int8 weights with a scale per output column.
#include "linear.h"

HALIDE_REGISTER_GENERATOR(retnet_gen::LinearT<float>, linear)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearResidualT<float>, linear_residual)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearGluT<float>, linear_glu)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearPairT<float>, linear_pair)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearT<uint16_t>, linear_bf16)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearResidualT<uint16_t>, linear_residual_bf16)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearGluT<uint16_t>, linear_glu_bf16)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearPairT<uint16_t>, linear_pair_bf16)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearT<Halide::float16_t>, linear_f16)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearResidualT<Halide::float16_t>, linear_residual_f16)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearGluT<Halide::float16_t>, linear_glu_f16)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearPairT<Halide::float16_t>, linear_pair_f16)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearInt8, linear_int8)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearResidualInt8, linear_residual_int8)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearGluInt8, linear_glu_int8)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearPairInt8, linear_pair_int8)
