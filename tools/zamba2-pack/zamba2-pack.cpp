//===- zamba2-pack.cpp - a package's weights.bin from a checkpoint --------===//
//
// zamba2-pack CKPT PKG
// zamba2-pack --dequantize PKG -o OUT.safetensors
//
// Reads the weight table of PKG/manifest.json (names, stored dtypes,
// shapes, offsets, quantization, as zamba2-compile planned them) and writes
// PKG/weights.bin from the checkpoint CKPT, converting each tensor to its
// stored dtype or quantizing it. This is how a package compiled on one
// machine gets its weights on another (a GPU server without LLVM/MLIR, or
// with the checkpoint too large to send): compile, copy the package without
// weights.bin, pack there.
//
// --dequantize goes the other way: the package's weights as f32 tensors
// under their checkpoint names (each stored weight once, quantized ones
// decoded), so that a quantized package can be checked against any plain
// implementation evaluated on exactly the weights it computes with.
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

/// The manifest's weight table as the packer's entries.
bool packEntries(const PackageManifest &m, std::vector<PackEntry> &entries,
                 std::string &err) {
  for (const WeightSpec &w : m.weights) {
    PackEntry e;
    e.name = w.name;
    if (!parseDTypeName(w.dtype, e.dtype)) {
      err =
          m.path + ": weight '" + w.name + "': unknown dtype '" + w.dtype + "'";
      return false;
    }
    e.shape = w.shape;
    e.offset = w.offset;
    e.bytes = w.bytes;
    if (w.quantized) {
      // parseManifest checked the values.
      PackQuant q;
      q.source = w.quant.source;
      q.tensor = w.quant.tensor;
      parseQuantPart(w.quant.part, q.part);
      q.params.bits = static_cast<int>(w.quant.bits);
      q.params.groupSize = w.quant.groupSize;
      parseQuantScheme(w.quant.scheme, q.params.scheme);
      q.params.scaleType =
          w.quant.scaleDType == "f16" ? DType::F16 : DType::F32;
      e.quant = q;
    }
    entries.push_back(std::move(e));
  }
  return true;
}

std::string withoutTrailingSlash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  return dir;
}

/// zamba2-pack --dequantize PKG -o OUT
int dequantize(const std::string &pkgDir, const std::string &outPath) {
  PackageManifest m;
  if (Status s = readManifestFile(pkgDir + "/manifest.json", m); !s)
    return fail(s.message());
  std::vector<PackEntry> entries;
  std::string err;
  if (!packEntries(m, entries, err))
    return fail(err);
  std::vector<DequantTensor> tensors;
  if (!planDequantize(entries, m.weightsBytes, tensors, err))
    return fail(m.path + ": " + err);
  if (!dequantizeWeights(entries, m.weightsBytes, pkgDir + "/" + m.weightsFile,
                         outPath, err))
    return fail(err);
  size_t quantized = 0;
  for (const DequantTensor &t : tensors)
    quantized += t.plain == nullptr;
  std::fprintf(stderr,
               "zamba2-pack: wrote %s (%zu f32 tensors, %zu of them "
               "dequantized)\n",
               outPath.c_str(), tensors.size(), quantized);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 2 &&
      (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    std::printf(
        "usage: zamba2-pack CKPT PKG\n"
        "       zamba2-pack --dequantize PKG -o OUT.safetensors\n"
        "Writes PKG/weights.bin from the checkpoint directory CKPT, laid out\n"
        "as PKG/manifest.json's weight table says (each tensor converted to\n"
        "its stored dtype, or quantized, at its offset). The file appears\n"
        "only when complete. Needs no LLVM/MLIR.\n"
        "--dequantize writes the weights of PKG as f32 tensors under their\n"
        "checkpoint names (each stored weight once; quantized weights\n"
        "decoded as the model code decodes them, f32(q - z) * s; bf16/f16\n"
        "widened), for checking a package against a plain implementation.\n"
        "With tied embeddings and a quantized lm_head the decoded head is\n"
        "written as 'lm_head.weight' (evaluate it untied).\n");
    return 0;
  }
  if (argc >= 2 && !std::strcmp(argv[1], "--dequantize")) {
    if (argc != 5 || std::strcmp(argv[3], "-o") != 0)
      return fail("expected --dequantize PKG -o OUT.safetensors (see --help)");
    return dequantize(withoutTrailingSlash(argv[2]), argv[4]);
  }
  if (argc != 3 || argv[1][0] == '-')
    return fail("expected CKPT PKG (see --help)");
  std::string ckptDir = argv[1], pkgDir = withoutTrailingSlash(argv[2]);

  PackageManifest m;
  if (Status s = readManifestFile(pkgDir + "/manifest.json", m); !s)
    return fail(s.message());
  std::string err;
  std::unique_ptr<Checkpoint> ck = Checkpoint::open(ckptDir, err);
  if (!ck)
    return fail(err);

  std::vector<PackEntry> entries;
  if (!packEntries(m, entries, err))
    return fail(err);
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
