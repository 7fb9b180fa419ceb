// Registers the generators of linear.h with the generator executable.
#include "linear.h"

HALIDE_REGISTER_GENERATOR(retnet_gen::Linear, linear)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearResidual, linear_residual)
HALIDE_REGISTER_GENERATOR(retnet_gen::LinearGlu, linear_glu)
