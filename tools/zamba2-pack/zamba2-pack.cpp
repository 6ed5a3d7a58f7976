//===- zamba2-pack.cpp - a package's weights.bin from a checkpoint --------===//
//
// zamba2-pack CKPT PKG
//
// Reads the weight table of PKG/manifest.json (names, stored dtypes,
// shapes, offsets, as zamba2-compile planned them) and writes PKG/weights.bin
// from the checkpoint CKPT, converting each tensor to its stored dtype. This
// is how a package compiled on one machine gets its weights on another (a
// GPU server without LLVM/MLIR, or with the checkpoint too large to send):
// compile, copy the package without weights.bin, pack there.
//
//===----------------------------------------------------------------------===//
#include "runtime/engine/Manifest.h"
#include "runtime/format/Safetensors.h"
#include "runtime/pack/WeightPack.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

using namespace zamba2;

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "zamba2-pack: error: %s\n", message.c_str());
  return 1;
}

bool parseDTypeName(const std::string &name, DType &out) {
  std::string upper = name;
  for (char &c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return parseDType(upper, out);
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 2 &&
      (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    std::printf(
        "usage: zamba2-pack CKPT PKG\n"
        "Writes PKG/weights.bin from the checkpoint directory CKPT, laid out\n"
        "as PKG/manifest.json's weight table says (each tensor converted to\n"
        "its stored dtype at its offset). The file appears only when\n"
        "complete. Needs no LLVM/MLIR.\n");
    return 0;
  }
  if (argc != 3)
    return fail("expected CKPT PKG (see --help)");
  std::string ckptDir = argv[1], pkgDir = argv[2];
  while (pkgDir.size() > 1 && pkgDir.back() == '/')
    pkgDir.pop_back();

  PackageManifest m;
  if (Status s = readManifestFile(pkgDir + "/manifest.json", m); !s)
    return fail(s.message());
  std::string err;
  std::unique_ptr<Checkpoint> ck = Checkpoint::open(ckptDir, err);
  if (!ck)
    return fail(err);

  std::vector<PackEntry> entries;
  for (const WeightSpec &w : m.weights) {
    PackEntry e;
    e.name = w.name;
    if (!parseDTypeName(w.dtype, e.dtype))
      return fail(pkgDir + "/manifest.json: weight '" + w.name +
                  "': unknown dtype '" + w.dtype + "'");
    e.shape = w.shape;
    e.offset = w.offset;
    e.bytes = w.bytes;
    entries.push_back(std::move(e));
  }
  auto start = std::chrono::steady_clock::now();
  int lastPercent = -1;
  PackProgressFn progress = [&](uint64_t done, uint64_t total) {
    int percent = total ? static_cast<int>(100 * done / total) : 100;
    if (percent / 10 != lastPercent / 10) {
      std::fprintf(stderr, "zamba2-pack: %3d%% (%.1f of %.1f GB)\n", percent,
                   done / 1e9, total / 1e9);
      lastPercent = percent;
    }
  };
  std::string out = pkgDir + "/" + m.weightsFile;
  if (!packWeights(*ck, entries, m.weightsBytes, out, progress, err))
    return fail(err);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::fprintf(stderr,
               "zamba2-pack: wrote %s (%zu weights, %.1f MB) in %.1f s\n",
               out.c_str(), entries.size(), m.weightsBytes / 1e6, seconds);
  return 0;
}
