// Registers the generators of retention_chunkwise.h with the generator executable.
#include "retention_chunkwise.h"

HALIDE_REGISTER_GENERATOR(retnet_gen::RetentionChunkwise, retention_chunkwise)
