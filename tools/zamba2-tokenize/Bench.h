//===- Bench.h - Encode benchmark of zamba2-tokenize ------------*- C++ -*-===//
#ifndef ZAMBA2_TOOLS_TOKENIZE_BENCH_H
#define ZAMBA2_TOOLS_TOKENIZE_BENCH_H

#include "runtime/tokenizer/Tokenizer.h"

#include <string>

namespace zamba2 {

/// Encodes the lines of `file` (a generated text when empty) with the
/// tokenizer's heap merge loop and with a naive quadratic reference loop,
/// `repeat` times each, and prints MB/s of both and their ratio. Returns the
/// process exit code: 1 when the two disagree or the file cannot be read.
int runEncodeBenchmark(const Tokenizer &tok, const std::string &tokPath,
                       const std::string &file, int repeat);

} // namespace zamba2

#endif // ZAMBA2_TOOLS_TOKENIZE_BENCH_H
