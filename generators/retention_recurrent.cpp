// Registers the generators of retention_recurrent.h with the generator executable.
#include "retention_recurrent.h"

HALIDE_REGISTER_GENERATOR(retnet_gen::RetentionDecodeStep, retention_decode_step)
HALIDE_REGISTER_GENERATOR(retnet_gen::RetentionRecurrent, retention_recurrent)
