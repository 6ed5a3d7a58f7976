//===- fuzz_manifest.cpp - libFuzzer target: a package's manifest.json ----===//
//
// Input: manifest.json text. Checks that the JSON parser and the manifest
// reader never crash, and that a manifest the reader refuses gets one
// non-empty line of error.
//
//===----------------------------------------------------------------------===//
#include "fuzz/FuzzChecks.h"
#include "runtime/Json.h"
#include "runtime/engine/Manifest.h"

using namespace zamba2;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  json::Value root;
  std::string err;
  if (!json::parse(text, root, err))
    return 0; // the JSON parser has its own target (fuzz_config.cpp)
  PackageManifest manifest;
  Status status = parseManifest(root, "fuzz/manifest.json", manifest);
  if (!status.isOk())
    fuzz::requireOneLineError(status.message());
  return 0;
}
