//===- Safetensors.h - safetensors reader, writer, checkpoints --*- C++ -*-===//
//
// Reads safetensors files by mmap (tensor bytes are never copied), validating
// every header field before anything points into the file, and writes them
// tensor by tensor so that multi-GB files never sit in memory. A Checkpoint is
// a Hugging Face directory: one model.safetensors or an index of shards.
//
// No exceptions: functions return false / nullptr and fill `err` with one line
// that names the file (and the tensor when there is one).
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_FORMAT_SAFETENSORS_H
#define ZAMBA2_RUNTIME_FORMAT_SAFETENSORS_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zamba2 {

enum class DType : uint8_t {
  F64,
  F32,
  F16,
  BF16,
  I64,
  I32,
  I16,
  I8,
  U8,
  BOOL,
  U16,
  U32,
  U64,
  F8_E4M3,
  F8_E5M2,
};

/// Parses a safetensors dtype name ("F32", "BF16", "F8_E4M3", ...).
bool parseDType(std::string_view name, DType &out);
/// The safetensors spelling of `dt`.
const char *dtypeName(DType dt);
/// Bytes per element.
size_t dtypeSize(DType dt);
/// F32, F16 or BF16: the dtypes a checkpoint's weights may have.
bool isWeightDType(DType dt);

/// "[a, b, c]" for error messages.
std::string formatShape(const std::vector<int64_t> &shape);

/// One tensor of a mapped file. `data` points into the mapping and lives as
/// long as the SafetensorsFile that owns this entry.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  uint64_t byteSize = 0;
  uint64_t numElements = 0;
  /// Path of the file the tensor lives in (for error messages).
  const std::string *file = nullptr;
};

class SafetensorsFile {
public:
  /// Maps `path` read-only and validates its header. nullptr on error.
  static std::unique_ptr<SafetensorsFile> open(const std::string &path,
                                               std::string &err);
  /// Parses a file image held in memory (not copied: `data` must outlive the
  /// result). `name` is used in error messages. For tests and fuzzing.
  static std::unique_ptr<SafetensorsFile> openBuffer(const void *data,
                                                     size_t size,
                                                     const std::string &name,
                                                     std::string &err);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  const std::string &path() const { return filePath; }
  /// Tensors in header (file) order.
  const std::vector<TensorInfo> &tensors() const { return entries; }
  /// nullptr when absent.
  const TensorInfo *find(std::string_view name) const;
  /// `__metadata__` pairs in header order.
  const std::vector<std::pair<std::string, std::string>> &metadata() const {
    return meta;
  }
  uint64_t fileSize() const { return size; }
  uint64_t headerSize() const { return headerLen; }

private:
  SafetensorsFile() = default;
  bool parse(std::string &err);

  std::string filePath;
  const uint8_t *base = nullptr;
  uint64_t size = 0;
  uint64_t headerLen = 0;
  void *mapping = nullptr; // non-null when we own an mmap
  size_t mappingSize = 0;
  std::vector<TensorInfo> entries;
  std::map<std::string, size_t, std::less<>> byName;
  std::vector<std::pair<std::string, std::string>> meta;
};

/// A Hugging Face checkpoint directory: `model.safetensors`, or
/// `model.safetensors.index.json` whose `weight_map` names the shards.
class Checkpoint {
public:
  static std::unique_ptr<Checkpoint> open(const std::string &dir,
                                          std::string &err);

  const std::string &dir() const { return dirPath; }
  /// nullptr when absent.
  const TensorInfo *find(std::string_view name) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }
  /// All tensors: shards in index order, each in file order.
  std::vector<const TensorInfo *> tensors() const;
  const std::vector<std::unique_ptr<SafetensorsFile>> &shards() const {
    return files;
  }
  /// The file errors about a missing tensor should name: the single file or
  /// the index.
  const std::string &weightsPath() const { return mainPath; }
  uint64_t totalBytes() const;
  uint64_t totalElements() const;

private:
  std::string dirPath;
  std::string mainPath;
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, const TensorInfo *, std::less<>> byName;
};

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

/// bf16 bits -> f32 (exact).
float bf16ToF32(uint16_t bits);
/// f32 -> bf16 bits, round to nearest even; NaN stays NaN (quiet), inf stays.
uint16_t f32ToBf16(float f);
/// IEEE half bits -> f32 (exact, denormals included).
float f16ToF32(uint16_t bits);
/// f32 -> IEEE half bits, round to nearest even; overflow gives inf.
uint16_t f32ToF16(float f);
/// Converts a F32/F16/BF16/F64 tensor to f32 into `dst` (numElements floats).
/// False for other dtypes.
bool readAsF32(const TensorInfo &t, float *dst);

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

/// Streams a safetensors file: declare every tensor, then begin(), then the
/// bytes of each tensor in declaration order through write() (in chunks of
/// any size), then finish(). Output goes to PATH.tmp and is renamed onto PATH
/// only by a successful finish(); on any error or destruction before that the
/// temporary file is removed, so a partial PATH never exists.
class SafetensorsWriter {
public:
  explicit SafetensorsWriter(std::string path);
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter &) = delete;
  SafetensorsWriter &operator=(const SafetensorsWriter &) = delete;

  void setMetadata(const std::string &key, const std::string &value);
  /// Declares the next tensor. Errors: duplicate name, negative dimension,
  /// size overflow, called after begin().
  bool addTensor(const std::string &name, DType dtype,
                 const std::vector<int64_t> &shape, std::string &err);
  /// Creates PATH.tmp and writes the header.
  bool begin(std::string &err);
  /// Appends tensor bytes (the tensors' data back to back, in order).
  bool write(const void *data, size_t bytes, std::string &err);
  /// Checks every declared byte was written, flushes and renames onto PATH.
  bool finish(std::string &err);
  /// Drops the output (removes PATH.tmp).
  void abort();

  /// Index of the tensor the next write() byte belongs to.
  size_t currentTensor() const;
  uint64_t totalDataBytes() const { return dataBytes; }
  const std::string &path() const { return outPath; }

private:
  struct Decl {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;
  };
  std::string outPath, tmpPath;
  std::vector<Decl> decls;
  std::vector<std::pair<std::string, std::string>> meta;
  uint64_t dataBytes = 0;
  uint64_t written = 0;
  std::FILE *out = nullptr;
  bool begun = false, done = false;
};

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_FORMAT_SAFETENSORS_H
