//===- MemRef.h - MLIR memref descriptors for the model ABI -----*- C++ -*-===//
//
// An argument of a model entry point is a pointer to an MLIR memref
// descriptor of rank R:
//   struct { void *allocated; void *aligned; int64_t offset;
//            int64_t sizes[R]; int64_t strides[R]; }
// On a 64-bit target every field is one 8-byte word, so a descriptor of any
// rank is an array of 3 + 2R words; MemRefDescriptor holds one and fills it
// with offset 0 and the canonical (row-major, contiguous) strides of its
// sizes.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_ENGINE_MEMREF_H
#define ZAMBA2_RUNTIME_ENGINE_MEMREF_H

#include <cstdint>
#include <cstring>
#include <vector>

namespace zamba2 {

static_assert(sizeof(void *) == sizeof(int64_t),
              "the model ABI assumes 64-bit pointers");

class MemRefDescriptor {
public:
  MemRefDescriptor() = default;
  explicit MemRefDescriptor(size_t rank) : words(3 + 2 * rank, 0) {}

  size_t rank() const { return (words.size() - 3) / 2; }

  /// Points the descriptor at `data` with the given sizes (rank() of them),
  /// offset 0 and canonical strides.
  void set(void *data, const int64_t *sizes) {
    size_t r = rank();
    std::memcpy(&words[0], &data, sizeof(void *));
    std::memcpy(&words[1], &data, sizeof(void *));
    words[2] = 0;
    int64_t stride = 1;
    for (size_t d = r; d-- > 0;) {
      words[3 + d] = sizes[d];
      words[3 + r + d] = stride;
      stride *= sizes[d];
    }
  }

  /// What the entry point receives as args[i].
  void *abiPointer() { return words.data(); }

  void *aligned() const {
    void *p;
    std::memcpy(&p, &words[1], sizeof(void *));
    return p;
  }
  int64_t size(size_t d) const { return words[3 + d]; }
  int64_t stride(size_t d) const { return words[3 + rank() + d]; }

private:
  std::vector<int64_t> words;
};

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_ENGINE_MEMREF_H
