//===- fuzz_config.cpp - libFuzzer target: JSON and config.json -----------===//
//
// Input: config.json text. Checks that the JSON parser never crashes, that
// write() output parses back to the same text, and that a config that parses
// can be turned into its expected tensor list and back into config.json.
//
//===----------------------------------------------------------------------===//
#include "fuzz/FuzzChecks.h"
#include "runtime/Json.h"
#include "runtime/format/ModelConfig.h"

#include <cstdlib>

using namespace zamba2;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  json::Value v;
  std::string err;
  if (!json::parse(text, v, err)) {
    if (err.empty())
      std::abort();
    return 0;
  }
  // Writer round trip: write(parse(write(v))) == write(v).
  std::string once = json::write(v);
  json::Value w;
  if (!json::parse(once, w, err) || json::write(w) != once)
    std::abort();
  std::string pretty = json::write(v, 2);
  if (!json::parse(pretty, w, err) || json::write(w) != once)
    std::abort();

  ModelConfig cfg;
  if (!parseModelConfig(v, "fuzz.json", cfg, err)) {
    fuzz::requireOneLineError(err);
    return 0;
  }
  (void)expectedShapes(cfg);
  (void)cfg.parameterCount();
  json::Value hf = toHuggingFaceJson(cfg);
  ModelConfig again;
  if (!parseModelConfig(hf, "hf.json", again, err))
    std::abort(); // what we write must read back
  if (json::write(toHuggingFaceJson(again)) != json::write(hf))
    std::abort();
  return 0;
}
