// Where the apps find a model when --model is not given: $RETNET_MODEL, else the model shipped in
// the source tree (models/kjv-byte, found from the working directory or the build's source path).
#pragma once

#include <string>

namespace retnet::apps {

std::string default_model_dir();

}  // namespace retnet::apps
