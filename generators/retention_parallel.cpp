// Registers the generators of retention_parallel.h with the generator executable.
#include "retention_parallel.h"

HALIDE_REGISTER_GENERATOR(retnet_gen::RetentionParallel, retention_parallel)
