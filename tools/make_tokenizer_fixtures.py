#!/usr/bin/python3
"""Builds the tokenizer fixtures of tests/data/tokenizers/ from text on this machine.

    /usr/bin/python3 tools/make_tokenizer_fixtures.py      (then: node tools/tokenizer_fixture_ids.mjs)

The training corpus is written to .data/tokenizer_corpus.txt (git ignores .data/).

Needs Debian's python3-sentencepiece, python3-regex and bible-kjv (`bible`, the reader of
bible-kjv-text); `bash tools/make_tokenizer_fixtures.sh` installs them and runs both steps.

It writes, each as a model directory:
  spm_bpe/tokenizer.model       SentencePiece BPE, Llama-style (byte_fallback, split_digits, identity
                                normalization, dummy prefix, whitespace kept), vocabulary 3000
  spm_unigram/spiece.model      SentencePiece unigram, T5-style defaults (nmt_nfkc, no byte
                                fallback: lossy), vocabulary 1000
  llama_hf/tokenizer.json       spm_bpe converted to tokenizer.json, legacy Llama layout
                                (normalizer Prepend+Replace, merges as [a, b] pairs)
  llama_hf_metaspace/tokenizer.json  the same vocabulary, newer layout (Metaspace pre-tokenizer,
                                prepend_scheme "first"; merges as "a b" strings)
  bytelevel_bpe/tokenizer.json  GPT-2/NeoX-style byte-level BPE trained here (1024 ids)
  bytelevel_nfkc/tokenizer.json the byte-level BPE behind an NFKC normalizer
  added_tokens/tokenizer.json   the same vocabulary behind Split(Regex)+ByteLevel, ignore_merges,
                                extra added tokens (lstrip/rstrip/normalized/non-special) and a
                                TemplateProcessing post-processor adding <|endoftext|> as BOS
and texts.json (the test texts), and expected_ids.json in the two SentencePiece directories
(ids and decoded text from python3-sentencepiece). The ids of the tokenizer.json directories come
from transformers.js (tools/tokenizer_fixture_ids.mjs).
"""
import collections
import json
import os
import subprocess
import sys

import regex
import sentencepiece as spm

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# Relative paths (from ROOT) so that the models, which record their training input and prefix,
# come out the same byte for byte wherever the repository is.
OUT = os.path.join("tests", "data", "tokenizers")
CORPUS = os.path.join(".data", "tokenizer_corpus.txt")

# Lines written here so that the corpus has some non-ASCII text (the rarest characters fall outside
# the character coverage and reach the byte fallback).
EXTRA_LINES = [
    "日本語のテキストです。東京は日本の首都です。今日はいい天気ですね。",
    "中文文本。北京是中国的首都。我们今天去公园散步。",
    "한국어 텍스트입니다. 서울은 한국의 수도입니다.",
    "Emoji: 😀 🎉 👍 ❤️ 🚀 🌍 😀😀 🎉🎉",
    "Ünïcödé façade naïve café résumé — “quotes” ‘single’ … déjà vu",
    "Grüße aus München! Ça va? ¿Qué tal? Jalapeño, smørrebrød, Ångström.",
    "Ελληνικά κείμενα και Русский текст для проверки.",
    "Tabs\tand\tnew\nlines, numbers 0123456789 and 3.14159, 1,000,000.",
    "    indented code(x) { return x + 1; }",
]

TEXTS = [
    "",
    "Hello world",
    "In the beginning God created the heaven and the earth.",
    "  leading spaces",
    "trailing spaces   ",
    "multiple    spaces  inside",
    " ",
    "   ",
    "\ttabs\tand\nnewlines\n\n",
    "\n",
    "\r\nwindows line\r\n",
    "Numbers: 0 12 345 6789 3.14159 1,000,000 2024",
    "Ünïcödé façade naïve café — “quotes” ‘single’ …",
    "日本語のテキストです。中文文本。한국어 텍스트",
    "Emoji: 😀🎉👍🏽 👨‍👩‍👧‍👦 ❤️ 💩💩💩",
    "rare bytes \x01\x02\x7f and replacement \ufffd char",
    "e\u0301 combining accent, ﬁ ligature, Å Ω ǅ",
    "a\u00a0b\u2003c\u3000d no-break and wide spaces",
    "don't you'll I've we're it's DON'T",
    "Mixed: naïve 日本 😀 123abc   end ",
    "<unk> <s> </s> literal control strings",
    "<|user|> Hello there<|assistant|>  Hi!<|end|>",
    "a<|end|>!b [NEW]c<|endoftext|>d",
    "<|padding|><|padding|>  [NEW] [NEW]x",
    "x" * 100 + " " + "ab" * 50,
    "And God said, Let there be light: and there was light.\n"
    "And God saw the light, that it was good: and God divided the light from the darkness.",
]


def sh(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def corpus_text():
    kjv = sh(["bible", "-l100000", "gen1:1-rev22:21"])
    # Every third line of the Bible (about 1.5 MB) keeps training quick.
    lines = [l for i, l in enumerate(kjv.splitlines()) if i % 3 == 0]
    lic_dir = "/usr/share/common-licenses"
    for name in sorted(os.listdir(lic_dir)):
        path = os.path.join(lic_dir, name)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                lines += f.read().splitlines()
    lines += EXTRA_LINES * 20
    return "\n".join(l for l in lines if l.strip()) + "\n"


def train_spm(corpus_path, out_dir, name, **options):
    os.makedirs(out_dir, exist_ok=True)
    prefix = os.path.join(out_dir, "tmp_" + name)
    spm.SentencePieceTrainer.train(input=corpus_path, model_prefix=prefix, num_threads=1,
                                   minloglevel=2, **options)
    os.replace(prefix + ".model", os.path.join(out_dir, name))
    os.remove(prefix + ".vocab")
    return spm.SentencePieceProcessor(model_file=os.path.join(out_dir, name))


def spm_fixture(sp, out_dir):
    ids = [sp.encode(t) for t in TEXTS]
    fixture = {
        "source": "python3-sentencepiece %s (Debian), SentencePieceProcessor.encode/decode" % spm.__version__,
        "bos_id": sp.bos_id(), "eos_id": sp.eos_id(), "vocab_size": sp.get_piece_size(),
        "texts": TEXTS,
        "ids": ids,
        "decoded": [sp.decode(i) for i in ids],
    }
    write_json(os.path.join(out_dir, "expected_ids.json"), fixture)


def write_json(path, obj, compact=False):
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


# ---- SentencePiece BPE -> tokenizer.json (Llama layout), written from the model's pieces --------

def spm_to_llama_json(sp, metaspace):
    n = sp.get_piece_size()
    vocab = {sp.id_to_piece(i): i for i in range(n)}
    normal = [i for i in range(n) if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i)
                                          or sp.is_unused(i))]
    # A merge for every way of cutting a normal piece into two pieces of the vocabulary, ranked by
    # the merged piece's score (SentencePiece BPE merges the best-scoring pair first), then by the
    # ids of the two parts.
    merges = []
    for i in normal:
        piece = sp.id_to_piece(i)
        cuts = []
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab:
                cuts.append((vocab[left], vocab[right], left, right))
        cuts.sort()
        for c in cuts:
            merges.append((-sp.get_score(i), i, c[0], c[1], c[2], c[3]))
    merges.sort()
    special = [{"id": i, "content": sp.id_to_piece(i), "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False, "special": True}
               for i in range(n) if sp.is_control(i) or sp.is_unknown(i)]
    bos = sp.id_to_piece(sp.bos_id())
    post = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [sp.bos_id()], "tokens": [bos]}}}
    if metaspace:
        normalizer = None
        pre_tokenizer = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
                         "split": False}
        decoder = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
        merge_list = ["%s %s" % (m[4], m[5]) for m in merges]
    else:
        normalizer = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
        pre_tokenizer = None
        decoder = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
        merge_list = [[m[4], m[5]] for m in merges]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": special,
        "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": post,
        "decoder": decoder,
        "model": {"type": "BPE", "dropout": None, "unk_token": sp.id_to_piece(sp.unk_id()),
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                  "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merge_list},
    }


# ---- byte-level BPE trained here ----------------------------------------------------------------

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def byte_to_char():
    """The usual printable stand-ins for bytes: printable Latin-1 bytes stand for themselves, the
    rest are numbered from U+0100 in byte order."""
    keep = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + extra)
            extra += 1
    return table


def train_byte_bpe(text, total_ids):
    b2c = byte_to_char()
    words = collections.Counter(regex.findall(GPT2_PATTERN, text))
    seqs, counts = [], []
    for w, c in words.items():
        seqs.append([b2c[b] for b in w.encode("utf-8")])
        counts.append(c)
    specials = ["<|endoftext|>", "<|padding|>"]
    vocab = {s: i for i, s in enumerate(specials)}
    for b in range(256):
        vocab[b2c[b]] = len(vocab)
    pair_count = collections.Counter()
    where = collections.defaultdict(set)
    for wi, s in enumerate(seqs):
        for a, b in zip(s, s[1:]):
            pair_count[(a, b)] += counts[wi]
            where[(a, b)].add(wi)
    merges = []
    while len(vocab) < total_ids and pair_count:
        best = max(pair_count.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pair_count[best] < 2:
            break
        merged = best[0] + best[1]
        merges.append(best)
        if merged not in vocab:
            vocab[merged] = len(vocab)
        for wi in list(where[best]):
            s, c = seqs[wi], counts[wi]
            for a, b in zip(s, s[1:]):
                pair_count[(a, b)] -= c
                if pair_count[(a, b)] <= 0:
                    del pair_count[(a, b)]
            out, k = [], 0
            while k < len(s):
                if k + 1 < len(s) and (s[k], s[k + 1]) == best:
                    out.append(merged)
                    k += 2
                else:
                    out.append(s[k])
                    k += 1
            seqs[wi] = out
            for a, b in zip(out, out[1:]):
                pair_count[(a, b)] += c
                where[(a, b)].add(wi)
        where.pop(best, None)
    return vocab, merges


def added(id_, content, special=True, lstrip=False, rstrip=False, normalized=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def bytelevel_json(vocab, merges):
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(0, "<|endoftext|>"), added(1, "<|padding|>")],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": ["%s %s" % m for m in merges]},
    }


def added_tokens_json(vocab, merges):
    j = bytelevel_json(vocab, merges)
    n = len(vocab)
    j["added_tokens"] += [
        added(n, "<|user|>", rstrip=True),
        added(n + 1, "<|assistant|>", lstrip=True),
        added(n + 2, "<|end|>"),
        added(n + 3, "<|end|>!", special=False),
        added(n + 4, "[NEW]", special=False, normalized=True),
    ]
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": GPT2_PATTERN}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    bos = "<|endoftext|>"
    j["post_processor"] = {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": bos, "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {bos: {"id": bos, "ids": [0], "tokens": [bos]}}}
    j["model"]["ignore_merges"] = True
    return j


def nfkc_json(vocab, merges):
    """The byte-level BPE behind a Unicode NFKC normalizer (compatibility forms folded: "…" to
    "...", ligatures split), as some GPT-NeoX-style tokenizer.json files have (NFC or NFKC)."""
    j = bytelevel_json(vocab, merges)
    j["normalizer"] = {"type": "NFKC"}
    return j


def main():
    os.chdir(ROOT)
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(os.path.dirname(CORPUS), exist_ok=True)
    text = corpus_text()
    corpus = CORPUS
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(text)
    print("corpus: %d bytes, %d lines" % (len(text.encode()), text.count("\n")))
    bpe = train_spm(corpus, os.path.join(OUT, "spm_bpe"), "tokenizer.model",
                    model_type="bpe", vocab_size=3000, byte_fallback=True, split_digits=True,
                    normalization_rule_name="identity", add_dummy_prefix=True,
                    remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
                    character_coverage=0.9995, max_sentence_length=100000,
                    unk_id=0, bos_id=1, eos_id=2, pad_id=-1)
    uni = train_spm(corpus, os.path.join(OUT, "spm_unigram"), "spiece.model",
                    model_type="unigram", vocab_size=1000, character_coverage=0.9995,
                    max_sentence_length=100000, seed_sentencepiece_size=200000)
    spm_fixture(bpe, os.path.join(OUT, "spm_bpe"))
    spm_fixture(uni, os.path.join(OUT, "spm_unigram"))
    for name, metaspace in (("llama_hf", False), ("llama_hf_metaspace", True)):
        os.makedirs(os.path.join(OUT, name), exist_ok=True)
        write_json(os.path.join(OUT, name, "tokenizer.json"), spm_to_llama_json(bpe, metaspace), True)
    vocab, merges = train_byte_bpe(text, 1024)
    print("byte-level BPE: %d ids, %d merges" % (len(vocab), len(merges)))
    for name, j in (("bytelevel_bpe", bytelevel_json(vocab, merges)),
                    ("added_tokens", added_tokens_json(vocab, merges)),
                    ("bytelevel_nfkc", nfkc_json(vocab, merges))):
        os.makedirs(os.path.join(OUT, name), exist_ok=True)
        write_json(os.path.join(OUT, name, "tokenizer.json"), j, True)
    write_json(os.path.join(OUT, "texts.json"), TEXTS)


if __name__ == "__main__":
    sys.exit(main())
