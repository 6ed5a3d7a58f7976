//===- WeightPack.cpp - the package's weight file -------------------------===//
#include "runtime/pack/WeightPack.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace zamba2 {

namespace {

bool isStoredType(DType dt) {
  return dt == DType::F32 || dt == DType::BF16 || dt == DType::F16;
}

/// Owns a FILE* on PATH.tmp; removes it unless committed.
class TempFile {
public:
  explicit TempFile(std::string path)
      : finalPath(std::move(path)), tmpPath(finalPath + ".tmp") {}
  ~TempFile() {
    if (file)
      std::fclose(file);
    if (!committed)
      std::remove(tmpPath.c_str());
  }
  bool open(std::string &err) {
    file = std::fopen(tmpPath.c_str(), "wb");
    if (!file)
      err = tmpPath + ": cannot create: " + std::strerror(errno);
    return file != nullptr;
  }
  bool write(const void *data, size_t bytes, std::string &err) {
    if (bytes && std::fwrite(data, 1, bytes, file) != bytes) {
      err = tmpPath + ": write failed: " + std::strerror(errno);
      return false;
    }
    return true;
  }
  bool commit(std::string &err) {
    bool ok = std::fflush(file) == 0;
    ok = std::fclose(file) == 0 && ok;
    file = nullptr;
    if (!ok || std::rename(tmpPath.c_str(), finalPath.c_str()) != 0) {
      err = finalPath + ": cannot finish writing: " + std::strerror(errno);
      return false;
    }
    committed = true;
    return true;
  }

private:
  std::string finalPath, tmpPath;
  FILE *file = nullptr;
  bool committed = false;
};

bool writeZeros(TempFile &out, uint64_t count, std::string &err) {
  static const char zeros[4096] = {};
  while (count) {
    size_t n =
        count < sizeof(zeros) ? static_cast<size_t>(count) : sizeof(zeros);
    if (!out.write(zeros, n, err))
      return false;
    count -= n;
  }
  return true;
}

/// Converts f32 values to the stored dtype into `dst`.
void storeAs(DType dtype, const float *src, uint64_t n, uint8_t *dst) {
  switch (dtype) {
  case DType::BF16:
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t v = f32ToBf16(src[i]);
      std::memcpy(dst + 2 * i, &v, 2);
    }
    return;
  case DType::F16:
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t v = f32ToF16(src[i]);
      std::memcpy(dst + 2 * i, &v, 2);
    }
    return;
  default:
    std::memcpy(dst, src, n * sizeof(float));
    return;
  }
}

} // namespace

bool validatePackTable(const Checkpoint &ck,
                       const std::vector<PackEntry> &entries,
                       uint64_t totalBytes, std::string &err) {
  uint64_t end = 0;
  for (const PackEntry &e : entries) {
    const TensorInfo *t = ck.find(e.name);
    if (!t) {
      err = ck.dir() + ": tensor '" + e.name + "' is not in the checkpoint";
      return false;
    }
    if (t->shape != e.shape) {
      err = *t->file + ": tensor '" + e.name + "' has shape " +
            formatShape(t->shape) + ", the package expects " +
            formatShape(e.shape);
      return false;
    }
    if (!isStoredType(t->dtype) && t->dtype != DType::F64) {
      err = *t->file + ": tensor '" + e.name + "' has dtype " +
            dtypeName(t->dtype) + ", not a float type";
      return false;
    }
    if (!isStoredType(e.dtype)) {
      err = std::string("weight '") + e.name + "': cannot store as " +
            dtypeName(e.dtype);
      return false;
    }
    if (e.bytes != t->numElements * dtypeSize(e.dtype)) {
      err = "weight '" + e.name + "': table says " + std::to_string(e.bytes) +
            " bytes, its shape and dtype need " +
            std::to_string(t->numElements * dtypeSize(e.dtype));
      return false;
    }
    if (e.offset < end || e.offset + e.bytes > totalBytes) {
      err = "weight '" + e.name + "': offset " + std::to_string(e.offset) +
            " overlaps the previous weight or runs past the end";
      return false;
    }
    end = e.offset + e.bytes;
  }
  return true;
}

bool packWeights(const Checkpoint &ck, const std::vector<PackEntry> &entries,
                 uint64_t totalBytes, const std::string &path,
                 const PackProgressFn &progress, std::string &err) {
  if (!validatePackTable(ck, entries, totalBytes, err))
    return false;
  TempFile out(path);
  if (!out.open(err))
    return false;
  uint64_t cursor = 0;
  std::vector<float> values;
  std::vector<uint8_t> stored;
  for (const PackEntry &e : entries) {
    const TensorInfo &t = *ck.find(e.name);
    if (!writeZeros(out, e.offset - cursor, err))
      return false;
    if (t.dtype == e.dtype) {
      if (!out.write(t.data, t.byteSize, err)) // same type: bytes as they are
        return false;
    } else {
      values.resize(t.numElements);
      readAsF32(t, values.data());
      stored.resize(e.bytes);
      storeAs(e.dtype, values.data(), t.numElements, stored.data());
      if (!out.write(stored.data(), stored.size(), err))
        return false;
    }
    cursor = e.offset + e.bytes;
    if (progress)
      progress(cursor, totalBytes);
  }
  if (!writeZeros(out, totalBytes - cursor, err))
    return false;
  return out.commit(err);
}

} // namespace zamba2
