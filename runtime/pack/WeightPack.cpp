//===- WeightPack.cpp - the package's weight file -------------------------===//
#include "runtime/pack/WeightPack.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
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

bool sameParams(const QuantParams &a, const QuantParams &b) {
  return a.bits == b.bits && a.groupSize == b.groupSize &&
         a.scheme == b.scheme && a.scaleType == b.scaleType;
}

uint64_t elementCount(const std::vector<int64_t> &shape) {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<uint64_t>(d < 0 ? 0 : d);
  return n;
}

std::string lower(std::string s) {
  for (char &c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// "int4 g64 symmetric f16" for messages.
std::string describe(const QuantParams &p) {
  return "int" + std::to_string(p.bits) + " g" + std::to_string(p.groupSize) +
         " " + quantSchemeName(p.scheme) + " " + lower(dtypeName(p.scaleType));
}

/// The stored size of `e` agrees with its dtype and shape.
bool checkBytes(const PackEntry &e, std::string &err) {
  uint64_t need = elementCount(e.shape) * dtypeSize(e.dtype);
  if (e.bytes != need) {
    err = "weight '" + e.name + "': table says " + std::to_string(e.bytes) +
          " bytes, its shape and dtype need " + std::to_string(need);
    return false;
  }
  return true;
}

/// A quantized part against its source in the checkpoint.
bool validateQuantEntry(const Checkpoint &ck, const PackEntry &e,
                        std::string &err) {
  const PackQuant &q = *e.quant;
  if (!checkQuantParams(q.params, err)) {
    err = "weight '" + e.name + "': " + err;
    return false;
  }
  const TensorInfo *t = ck.find(q.source);
  if (!t) {
    err = ck.dir() + ": tensor '" + q.source + "' (quantized as '" + e.name +
          "') is not in the checkpoint";
    return false;
  }
  if (!isStoredType(t->dtype) && t->dtype != DType::F64) {
    err = *t->file + ": tensor '" + q.source + "' has dtype " +
          dtypeName(t->dtype) + ", not a float type";
    return false;
  }
  if (t->shape.size() != 2) {
    err = *t->file + ": tensor '" + q.source + "' has shape " +
          formatShape(t->shape) + "; only 2-D weights are quantized";
    return false;
  }
  std::string why;
  if (!canQuantize(q.params, t->shape[1], why)) {
    err = *t->file + ": tensor '" + q.source + "' cannot be quantized " +
          describe(q.params) + ": " + why;
    return false;
  }
  if (q.part == QuantPart::Zeros && q.params.scheme == QuantScheme::Symmetric) {
    err = "weight '" + e.name + "': the symmetric scheme stores no zeros";
    return false;
  }
  std::vector<int64_t> shape =
      quantPartShape(q.params, q.part, t->shape[0], t->shape[1]);
  DType dtype = quantPartDType(q.params, q.part);
  if (e.shape != shape || e.dtype != dtype) {
    err = "weight '" + e.name + "': " + dtypeName(e.dtype) + " " +
          formatShape(e.shape) + ", but the " + quantPartName(q.part) +
          " of '" + q.source + "' " + formatShape(t->shape) + " quantized " +
          describe(q.params) + " are " + dtypeName(dtype) + " " +
          formatShape(shape);
    return false;
  }
  return checkBytes(e, err);
}

/// Entries in increasing non-overlapping order within `totalBytes`.
bool checkPlacement(const PackEntry &e, uint64_t &end, uint64_t totalBytes,
                    std::string &err) {
  if (e.offset < end || e.bytes > totalBytes ||
      e.offset > totalBytes - e.bytes) {
    err = "weight '" + e.name + "': offset " + std::to_string(e.offset) +
          " overlaps the previous weight or runs past the end";
    return false;
  }
  end = e.offset + e.bytes;
  return true;
}

/// Reads `bytes` bytes at `offset` of `file` into `out`.
bool readAt(FILE *file, const std::string &path, uint64_t offset,
            uint64_t bytes, std::vector<uint8_t> &out, std::string &err) {
  out.resize(bytes);
  if (fseeko(file, static_cast<off_t>(offset), SEEK_SET) != 0 ||
      (bytes && std::fread(out.data(), 1, bytes, file) != bytes)) {
    err = path + ": cannot read bytes [" + std::to_string(offset) + ", " +
          std::to_string(offset + bytes) + ")";
    return false;
  }
  return true;
}

} // namespace

bool validatePackTable(const Checkpoint &ck,
                       const std::vector<PackEntry> &entries,
                       uint64_t totalBytes, std::string &err) {
  uint64_t end = 0;
  for (const PackEntry &e : entries) {
    if (e.quant) {
      if (!validateQuantEntry(ck, e, err) ||
          !checkPlacement(e, end, totalBytes, err))
        return false;
      continue;
    }
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
    if (!checkPlacement(e, end, totalBytes, err))
      return false;
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
  // The parts of one matrix are consecutive: quantize each source once.
  QuantizedMatrix quantized;
  const PackQuant *quantizedFrom = nullptr;
  for (const PackEntry &e : entries) {
    if (!writeZeros(out, e.offset - cursor, err))
      return false;
    if (e.quant) {
      const PackQuant &q = *e.quant;
      if (!quantizedFrom || quantizedFrom->source != q.source ||
          !sameParams(quantizedFrom->params, q.params)) {
        const TensorInfo &t = *ck.find(q.source);
        values.resize(t.numElements);
        readAsF32(t, values.data());
        if (!quantizeMatrix(q.params, values.data(), t.shape[0], t.shape[1],
                            quantized, *t.file + ": tensor '" + q.source + "'",
                            err))
          return false;
        quantizedFrom = &q;
      }
      if (!out.write(quantized.part(q.part).data(), e.bytes, err))
        return false;
      cursor = e.offset + e.bytes;
      if (progress)
        progress(cursor, totalBytes);
      continue;
    }
    const TensorInfo &t = *ck.find(e.name);
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

bool planDequantize(const std::vector<PackEntry> &entries, uint64_t totalBytes,
                    std::vector<DequantTensor> &out, std::string &err) {
  out.clear();
  std::map<std::string, size_t> byName;
  uint64_t end = 0;
  for (const PackEntry &e : entries) {
    if (!checkPlacement(e, end, totalBytes, err))
      return false;
    if (!e.quant) {
      if (!isStoredType(e.dtype)) {
        err = "weight '" + e.name + "': dtype " + dtypeName(e.dtype) +
              " is not a float type and the weight is not quantized";
        return false;
      }
      if (!checkBytes(e, err))
        return false;
      if (!byName.emplace(e.name, out.size()).second) {
        err = "weight '" + e.name + "' appears twice";
        return false;
      }
      DequantTensor t;
      t.name = e.name;
      t.shape = e.shape;
      t.plain = &e;
      out.push_back(std::move(t));
      continue;
    }
    const PackQuant &q = *e.quant;
    if (!checkQuantParams(q.params, err)) {
      err = "weight '" + e.name + "': " + err;
      return false;
    }
    if (e.dtype != quantPartDType(q.params, q.part) || e.shape.size() != 2) {
      err = "weight '" + e.name + "': the " + quantPartName(q.part) +
            " of a matrix quantized " + describe(q.params) + " are 2-D " +
            dtypeName(quantPartDType(q.params, q.part)) + ", found " +
            dtypeName(e.dtype) + " " + formatShape(e.shape);
      return false;
    }
    if (!checkBytes(e, err))
      return false;
    auto [it, inserted] = byName.emplace(q.tensor, out.size());
    if (inserted) {
      DequantTensor t;
      t.name = q.tensor;
      out.push_back(std::move(t));
    }
    DequantTensor &t = out[it->second];
    const PackEntry *first = t.packed   ? t.packed
                             : t.scales ? t.scales
                                        : t.zeros;
    if (t.plain || (first && (first->quant->source != q.source ||
                              !sameParams(first->quant->params, q.params)))) {
      err = "weight '" + e.name + "': tensor '" + q.tensor +
            "' is also stored as '" + (t.plain ? t.plain->name : first->name) +
            "', differently";
      return false;
    }
    const PackEntry *&slot = q.part == QuantPart::Packed   ? t.packed
                             : q.part == QuantPart::Scales ? t.scales
                                                           : t.zeros;
    if (slot) {
      err = "weight '" + e.name + "': tensor '" + q.tensor + "' has two " +
            quantPartName(q.part) + " parts";
      return false;
    }
    slot = &e;
  }
  for (DequantTensor &t : out) {
    if (t.plain)
      continue;
    const PackEntry *any = t.packed ? t.packed : t.scales ? t.scales : t.zeros;
    const QuantParams &p = any->quant->params;
    bool asymmetric = p.scheme == QuantScheme::Asymmetric;
    if (!t.packed || !t.scales || asymmetric != (t.zeros != nullptr)) {
      err = "weight '" + any->name + "': tensor '" + t.name + "' quantized " +
            describe(p) + " needs packed, scales" +
            (asymmetric ? " and zeros" : " and no zeros") + " parts";
      return false;
    }
    int64_t rows = t.packed->shape[0];
    int64_t cols = t.packed->shape[1] * 8 / p.bits;
    std::string why;
    if (!canQuantize(p, cols, why)) {
      err = "weight '" + t.packed->name + "': " + why;
      return false;
    }
    for (const PackEntry *part : {t.scales, t.zeros}) {
      if (!part)
        continue;
      std::vector<int64_t> shape =
          quantPartShape(p, part->quant->part, rows, cols);
      if (part->shape != shape) {
        err = "weight '" + part->name + "': shape " + formatShape(part->shape) +
              ", expected " + formatShape(shape) + " for '" + t.packed->name +
              "' " + formatShape(t.packed->shape);
        return false;
      }
    }
    t.shape = {rows, cols};
  }
  return true;
}

bool dequantizeWeights(const std::vector<PackEntry> &entries,
                       uint64_t totalBytes, const std::string &weightsPath,
                       const std::string &outPath, std::string &err) {
  std::vector<DequantTensor> tensors;
  if (!planDequantize(entries, totalBytes, tensors, err))
    return false;
  std::unique_ptr<FILE, int (*)(FILE *)> file(
      std::fopen(weightsPath.c_str(), "rb"), std::fclose);
  if (!file) {
    err = weightsPath + ": cannot open: " + std::strerror(errno);
    return false;
  }
  if (fseeko(file.get(), 0, SEEK_END) != 0 ||
      static_cast<uint64_t>(ftello(file.get())) != totalBytes) {
    err = weightsPath + ": expected " + std::to_string(totalBytes) +
          " bytes (the manifest's weights.bytes), found " +
          std::to_string(static_cast<long long>(ftello(file.get())));
    return false;
  }
  SafetensorsWriter writer(outPath);
  writer.setMetadata("format", "pt");
  writer.setMetadata("zamba2c", "dequantized package weights");
  for (const DequantTensor &t : tensors)
    if (!writer.addTensor(t.name, DType::F32, t.shape, err))
      return false;
  if (!writer.begin(err))
    return false;
  std::vector<uint8_t> packed, scales, zeros;
  std::vector<float> values;
  for (const DequantTensor &t : tensors) {
    values.resize(elementCount(t.shape));
    if (t.plain) {
      const PackEntry &e = *t.plain;
      if (!readAt(file.get(), weightsPath, e.offset, e.bytes, packed, err))
        return false;
      TensorInfo info;
      info.name = e.name;
      info.dtype = e.dtype;
      info.shape = e.shape;
      info.data = packed.data();
      info.byteSize = e.bytes;
      info.numElements = values.size();
      readAsF32(info, values.data());
    } else {
      const QuantParams &p = t.packed->quant->params;
      if (!readAt(file.get(), weightsPath, t.packed->offset, t.packed->bytes,
                  packed, err) ||
          !readAt(file.get(), weightsPath, t.scales->offset, t.scales->bytes,
                  scales, err) ||
          (t.zeros && !readAt(file.get(), weightsPath, t.zeros->offset,
                              t.zeros->bytes, zeros, err)))
        return false;
      dequantizeMatrix(p, t.shape[0], t.shape[1], packed.data(), scales.data(),
                       t.zeros ? zeros.data() : nullptr, values.data());
    }
    if (!writer.write(values.data(), values.size() * sizeof(float), err))
      return false;
  }
  return writer.finish(err);
}

} // namespace zamba2
