// A text file's token ids in order, in bounded memory: the file is read in blocks of about
// 1 MiB, each cut after a newline (or at the block's end when a line is longer) and encoded on
// its own, BOS before the first. For the byte vocabulary the ids are the bytes, whatever the cuts;
// for a tokenizer, a token never spans two blocks, so a cut can change the tokens next to it
// (a newline is a token boundary in the tokenizers of RetNet checkpoints).
#pragma once

#include <cstdint>
#include <deque>
#include <fstream>
#include <string>

#include "retnet/tokenizer.h"

namespace retnet::apps {

class TextTokenStream {
public:
    TextTokenStream(const std::string &path, const Tokenizer &tokenizer, bool add_bos);

    // The next id, or false at the end of the text.
    bool next(int32_t &id);

private:
    void refill();

    std::ifstream in_;
    const Tokenizer &tokenizer_;
    bool add_bos_;
    std::deque<int32_t> pending_;
    std::string carry_;  // the part of the last block after its last newline
    bool eof_ = false;
};

}  // namespace retnet::apps
