//===- fuzz_safetensors.cpp - libFuzzer target: safetensors header --------===//
//
// Input: a whole safetensors file image. Whatever the bytes, openBuffer must
// either fail with a message or return tensors whose [data, data + byteSize)
// lies inside the image (touched below, so ASan catches a bad pointer).
//
//===----------------------------------------------------------------------===//
#include "runtime/format/Safetensors.h"

#include <cstdlib>
#include <vector>

using namespace zamba2;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Copy into an exactly sized heap block so ASan flags any read past it.
  std::vector<uint8_t> buf(data, data + size);
  std::string err;
  auto f = SafetensorsFile::openBuffer(buf.data(), buf.size(), "fuzz", err);
  if (!f) {
    if (err.empty())
      std::abort(); // every failure must say why
    return 0;
  }
  volatile uint8_t sink = 0;
  for (const TensorInfo &t : f->tensors()) {
    if (t.byteSize) {
      sink = sink ^ t.data[0] ^ t.data[t.byteSize - 1];
      if (t.data < buf.data() || t.data + t.byteSize > buf.data() + buf.size())
        std::abort();
    }
    if (t.numElements * dtypeSize(t.dtype) != t.byteSize)
      std::abort();
    if (f->find(t.name) == nullptr)
      std::abort();
    if (t.numElements <= 4096) {
      std::vector<float> out(t.numElements + 1);
      readAsF32(t, out.data());
    }
  }
  return 0;
}
