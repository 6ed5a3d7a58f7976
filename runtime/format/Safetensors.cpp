//===- Safetensors.cpp - safetensors reader, writer, checkpoints ----------===//
//
// Format (https://github.com/huggingface/safetensors): 8-byte little-endian
// header length N, N bytes of JSON header, then the data area. Every header
// number is checked before it is used to form a pointer: the file may be
// hostile (the parser is fuzzed).
//
//===----------------------------------------------------------------------===//
#include "runtime/format/Safetensors.h"

#include "runtime/Json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace zamba2 {

namespace {

struct DTypeEntry {
  DType dt;
  const char *name;
  size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::F64, "F64", 8},         {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},         {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8},         {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},         {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},           {DType::BOOL, "BOOL", 1},
    {DType::U16, "U16", 2},         {DType::U32, "U32", 4},
    {DType::U64, "U64", 8},         {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1},
};

// The reference implementation refuses headers above 100 MB; so do we, so a
// corrupt length cannot make us parse gigabytes.
constexpr uint64_t kMaxHeaderSize = 100u * 1000u * 1000u;

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

bool mulOverflows(uint64_t a, uint64_t b, uint64_t &out) {
  return __builtin_mul_overflow(a, b, &out);
}

} // namespace

bool parseDType(std::string_view name, DType &out) {
  for (const DTypeEntry &e : kDTypes)
    if (name == e.name) {
      out = e.dt;
      return true;
    }
  return false;
}

const char *dtypeName(DType dt) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dt == dt)
      return e.name;
  return "?";
}

size_t dtypeSize(DType dt) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dt == dt)
      return e.size;
  return 0;
}

bool isWeightDType(DType dt) {
  return dt == DType::F32 || dt == DType::F16 || dt == DType::BF16;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

SafetensorsFile::~SafetensorsFile() {
  if (mapping)
    munmap(mapping, mappingSize);
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string &path,
                                                       std::string &err) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = path + ": cannot open: " + std::strerror(errno);
    return nullptr;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    err = path + ": cannot stat: " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) {
    err = path + ": not a regular file";
    ::close(fd);
    return nullptr;
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    err = path + ": truncated: " + std::to_string(size) +
          " bytes, a safetensors file has at least 8";
    ::close(fd);
    return nullptr;
  }
  void *m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int mapErrno = errno;
  ::close(fd); // the mapping keeps the file alive
  if (m == MAP_FAILED) {
    err = path + ": cannot mmap: " + std::strerror(mapErrno);
    return nullptr;
  }
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->filePath = path;
  f->mapping = m;
  f->mappingSize = size;
  f->base = static_cast<const uint8_t *>(m);
  f->size = size;
  if (!f->parse(err))
    return nullptr;
  return f;
}

std::unique_ptr<SafetensorsFile>
SafetensorsFile::openBuffer(const void *data, size_t size,
                            const std::string &name, std::string &err) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->filePath = name;
  f->base = static_cast<const uint8_t *>(data);
  f->size = size;
  if (!f->parse(err))
    return nullptr;
  return f;
}

const TensorInfo *SafetensorsFile::find(std::string_view name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &entries[it->second];
}

bool SafetensorsFile::parse(std::string &err) {
  const std::string &p = filePath;
  if (size < 8) {
    err = p + ": truncated: " + std::to_string(size) +
          " bytes, a safetensors file has at least 8";
    return false;
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | base[i];
  if (n > size - 8) {
    err = p + ": header length " + std::to_string(n) +
          " runs past the end of the file (" + std::to_string(size) + " bytes)";
    return false;
  }
  if (n > kMaxHeaderSize) {
    err = p + ": header length " + std::to_string(n) +
          " exceeds the 100 MB limit";
    return false;
  }
  headerLen = n;
  std::string_view text(reinterpret_cast<const char *>(base + 8), n);
  json::Value header;
  std::string jerr;
  if (!json::parse(text, header, jerr)) {
    err = p + ": header is not valid JSON: " + jerr;
    return false;
  }
  if (!header.isObject()) {
    err = p + ": header: expected a JSON object, found " +
          json::kindName(header.kind());
    return false;
  }
  const uint64_t dataStart = 8 + n;
  const uint64_t dataSize = size - dataStart;
  std::set<std::string_view> seen;
  for (const auto &[key, val] : header.members()) {
    if (!seen.insert(key).second) {
      err = p + ": tensor " + quote(key) + ": duplicate entry in header";
      return false;
    }
    if (key == "__metadata__") {
      if (!val.isObject()) {
        err = p + ": __metadata__: expected an object of strings, found " +
              json::kindName(val.kind());
        return false;
      }
      for (const auto &[mk, mv] : val.members()) {
        if (!mv.isString()) {
          err = p + ": __metadata__: entry " + quote(mk) +
                ": expected a string, found " + json::kindName(mv.kind());
          return false;
        }
        meta.emplace_back(mk, mv.asString());
      }
      continue;
    }
    std::string where = p + ": tensor " + quote(key) + ": ";
    if (!val.isObject()) {
      err = where + "expected an object, found " + json::kindName(val.kind());
      return false;
    }
    TensorInfo t;
    t.name = key;
    const json::Value *dt = val.get("dtype");
    if (!dt || !dt->isString()) {
      err = where + "'dtype': expected a string, found " +
            (dt ? json::kindName(dt->kind()) : "nothing");
      return false;
    }
    if (!parseDType(dt->asString(), t.dtype)) {
      err = where + "unknown dtype '" + dt->asString() + "'";
      return false;
    }
    const json::Value *shape = val.get("shape");
    if (!shape || !shape->isArray()) {
      err = where + "'shape': expected an array of integers, found " +
            (shape ? json::kindName(shape->kind()) : "nothing");
      return false;
    }
    uint64_t elems = 1;
    for (const json::Value &d : shape->items()) {
      if (!d.isInteger() || d.asInt() < 0) {
        err = where + "'shape': expected non-negative integers, found " +
              json::write(d);
        return false;
      }
      t.shape.push_back(d.asInt());
      if (mulOverflows(elems, static_cast<uint64_t>(d.asInt()), elems)) {
        err = where + "shape " + formatShape(t.shape) + "... overflows";
        return false;
      }
    }
    uint64_t bytes;
    if (mulOverflows(elems, dtypeSize(t.dtype), bytes)) {
      err = where + "shape " + formatShape(t.shape) + " overflows";
      return false;
    }
    const json::Value *offs = val.get("data_offsets");
    if (!offs || !offs->isArray() || offs->items().size() != 2 ||
        !offs->items()[0].isInteger() || !offs->items()[1].isInteger() ||
        offs->items()[0].asInt() < 0 || offs->items()[1].asInt() < 0) {
      err = where +
            "'data_offsets': expected [begin, end] with non-negative "
            "integers, found " +
            (offs ? json::write(*offs) : std::string("nothing"));
      return false;
    }
    uint64_t b = offs->items()[0].asInt(), e = offs->items()[1].asInt();
    if (b > e || e > dataSize) {
      err = where + "data_offsets [" + std::to_string(b) + ", " +
            std::to_string(e) + "] out of range of the data area (" +
            std::to_string(dataSize) + " bytes)";
      return false;
    }
    if (e - b != bytes) {
      err = where + "data_offsets [" + std::to_string(b) + ", " +
            std::to_string(e) + "] hold " + std::to_string(e - b) +
            " bytes, but " + dtypeName(t.dtype) + " " + formatShape(t.shape) +
            " needs " + std::to_string(bytes);
      return false;
    }
    t.numElements = elems;
    t.byteSize = bytes;
    t.data = base + dataStart + b;
    entries.push_back(std::move(t));
  }
  // Overlap check on [begin, end) ranges sorted by begin; empty tensors
  // occupy nothing and cannot overlap.
  std::vector<size_t> order;
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].byteSize)
      order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return entries[a].data < entries[b].data;
  });
  for (size_t k = 1; k < order.size(); ++k) {
    const TensorInfo &prev = entries[order[k - 1]];
    const TensorInfo &cur = entries[order[k]];
    if (cur.data < prev.data + prev.byteSize) {
      err = p + ": tensor " + quote(cur.name) + ": data overlaps tensor " +
            quote(prev.name);
      return false;
    }
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].file = &filePath;
    byName.emplace(entries[i].name, i);
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

namespace {

bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool readWholeFile(const std::string &path, std::string &out,
                   std::string &err) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    err = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  out.clear();
  char buf[65536];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), f)) > 0)
    out.append(buf, got);
  bool bad = std::ferror(f);
  std::fclose(f);
  if (bad) {
    err = path + ": read error";
    return false;
  }
  return true;
}

} // namespace

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string &dir,
                                             std::string &err) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    err = dir + ": not a checkpoint directory";
    return nullptr;
  }
  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  ck->dirPath = dir;
  std::string single = dir + "/model.safetensors";
  std::string index = dir + "/model.safetensors.index.json";
  if (!fileExists(index)) {
    if (!fileExists(single)) {
      err = single + ": cannot open: no such file (and no "
                     "model.safetensors.index.json)";
      return nullptr;
    }
    auto f = SafetensorsFile::open(single, err);
    if (!f)
      return nullptr;
    ck->mainPath = single;
    for (const TensorInfo &t : f->tensors())
      ck->byName.emplace(t.name, &t);
    ck->files.push_back(std::move(f));
    return ck;
  }

  ck->mainPath = index;
  std::string text;
  if (!readWholeFile(index, text, err))
    return nullptr;
  json::Value root;
  std::string jerr;
  if (!json::parse(text, root, jerr)) {
    err = index + ": invalid JSON: " + jerr;
    return nullptr;
  }
  const json::Value *wm = root.isObject() ? root.get("weight_map") : nullptr;
  if (!wm || !wm->isObject()) {
    err = index + ": field 'weight_map': expected an object, found " +
          (wm ? json::kindName(wm->kind()) : "nothing");
    return nullptr;
  }
  std::map<std::string, SafetensorsFile *> shardByName;
  for (const auto &[name, shardVal] : wm->members()) {
    if (!shardVal.isString()) {
      err = index + ": weight_map: tensor " + quote(name) +
            ": expected a shard file name, found " +
            json::kindName(shardVal.kind());
      return nullptr;
    }
    const std::string &shard = shardVal.asString();
    // Shards live in the checkpoint directory; a path would let an index
    // point anywhere on the machine.
    if (shard.empty() || shard == "." || shard == ".." ||
        shard.find('/') != std::string::npos) {
      err = index + ": weight_map: tensor " + quote(name) + ": shard name '" +
            shard + "' is not a plain file name";
      return nullptr;
    }
    if (!shardByName.count(shard)) {
      auto f = SafetensorsFile::open(dir + "/" + shard, err);
      if (!f)
        return nullptr;
      // A tensor in two shards is ambiguous: refuse rather than pick one.
      for (const TensorInfo &t : f->tensors()) {
        auto [it, inserted] = ck->byName.emplace(t.name, &t);
        if (!inserted) {
          err = f->path() + ": tensor " + quote(t.name) + " is also in " +
                *it->second->file;
          return nullptr;
        }
      }
      shardByName[shard] = f.get();
      ck->files.push_back(std::move(f));
    }
  }
  for (const auto &[name, shardVal] : wm->members()) {
    SafetensorsFile *f = shardByName[shardVal.asString()];
    if (!f->find(name)) {
      err = index + ": tensor " + quote(name) + ": mapped to " +
            shardVal.asString() + ", which does not contain it";
      return nullptr;
    }
  }
  return ck;
}

const TensorInfo *Checkpoint::find(std::string_view name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : it->second;
}

std::vector<const TensorInfo *> Checkpoint::tensors() const {
  std::vector<const TensorInfo *> out;
  for (const auto &f : files)
    for (const TensorInfo &t : f->tensors())
      out.push_back(&t);
  return out;
}

uint64_t Checkpoint::totalBytes() const {
  uint64_t n = 0;
  for (const auto &f : files)
    for (const TensorInfo &t : f->tensors())
      n += t.byteSize;
  return n;
}

uint64_t Checkpoint::totalElements() const {
  uint64_t n = 0;
  for (const auto &f : files)
    for (const TensorInfo &t : f->tensors())
      n += t.numElements;
  return n;
}

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

namespace {
uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
} // namespace

float bf16ToF32(uint16_t bits) { return bitsFloat(uint32_t(bits) << 16); }

uint16_t f32ToBf16(float f) {
  uint32_t u = floatBits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) // NaN: keep sign, force quiet bit
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  // Round to nearest even; carries into the exponent give inf correctly.
  uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

float f16ToF32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) // inf / NaN
    return bitsFloat(sign | 0x7F800000u | (man << 13));
  if (exp == 0) {
    if (man == 0)
      return bitsFloat(sign);
    // Denormal: value = man * 2^-24, exact in f32.
    float v = static_cast<float>(man) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  return bitsFloat(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t f32ToF16(float f) {
  uint32_t u = floatBits(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) // NaN: quiet, keep top mantissa bits
    return sign | 0x7E00u | static_cast<uint16_t>((a >> 13) & 0x3FFu);
  if (a >= 0x477FF000u) // >= 65520 rounds to inf (65504 is the largest)
    return sign | 0x7C00u;
  if (a < 0x38800000u) { // below 2^-14: denormal or zero in half
    // Scale so that the half denormal unit 2^-24 becomes 1, then let the
    // FPU round to nearest even.
    float v = bitsFloat(a) * 16777216.0f; // 2^24
    uint32_t m = static_cast<uint32_t>(std::nearbyint(v));
    return sign | static_cast<uint16_t>(m); // m == 0x400 is the smallest
                                            // normal, encoded correctly
  }
  uint32_t exp = (a >> 23) - 112;
  uint32_t man = a & 0x7FFFFFu;
  uint32_t h = (exp << 10) | (man >> 13);
  uint32_t rest = man & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
    ++h; // may carry into the exponent: still correct
  return sign | static_cast<uint16_t>(h);
}

bool readAsF32(const TensorInfo &t, float *dst) {
  // Data may be unaligned (header lengths need not be multiples of 8):
  // memcpy each element.
  const uint8_t *p = t.data;
  uint64_t n = t.numElements;
  switch (t.dtype) {
  case DType::F32:
    std::memcpy(dst, p, n * 4);
    return true;
  case DType::F64:
    for (uint64_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      dst[i] = static_cast<float>(d);
    }
    return true;
  case DType::BF16:
  case DType::F16:
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      dst[i] = t.dtype == DType::BF16 ? bf16ToF32(h) : f16ToF32(h);
    }
    return true;
  default:
    return false;
  }
}

//===----------------------------------------------------------------------===//
// SafetensorsWriter
//===----------------------------------------------------------------------===//

SafetensorsWriter::SafetensorsWriter(std::string path)
    : outPath(std::move(path)), tmpPath(outPath + ".tmp") {}

SafetensorsWriter::~SafetensorsWriter() {
  if (!done)
    abort();
}

void SafetensorsWriter::setMetadata(const std::string &key,
                                    const std::string &value) {
  for (auto &kv : meta)
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  meta.emplace_back(key, value);
}

bool SafetensorsWriter::addTensor(const std::string &name, DType dtype,
                                  const std::vector<int64_t> &shape,
                                  std::string &err) {
  if (begun) {
    err = outPath + ": tensor '" + name + "': declared after begin()";
    return false;
  }
  if (name == "__metadata__") {
    err = outPath + ": tensor '" + name + "': reserved name";
    return false;
  }
  for (const Decl &d : decls)
    if (d.name == name) {
      err = outPath + ": tensor '" + name + "': declared twice";
      return false;
    }
  uint64_t bytes = dtypeSize(dtype);
  for (int64_t d : shape) {
    if (d < 0 || mulOverflows(bytes, static_cast<uint64_t>(d), bytes)) {
      err = outPath + ": tensor '" + name + "': invalid shape " +
            formatShape(shape);
      return false;
    }
  }
  if (dataBytes + bytes < dataBytes) {
    err = outPath + ": tensor '" + name + "': file size overflows";
    return false;
  }
  decls.push_back({name, dtype, shape, dataBytes, dataBytes + bytes});
  dataBytes += bytes;
  return true;
}

bool SafetensorsWriter::begin(std::string &err) {
  if (begun) {
    err = outPath + ": begin() called twice";
    return false;
  }
  json::Value header = json::Value::object();
  if (!meta.empty()) {
    json::Value m = json::Value::object();
    for (const auto &[k, v] : meta)
      m.set(k, json::Value::string(v));
    header.set("__metadata__", std::move(m));
  }
  for (const Decl &d : decls) {
    json::Value e = json::Value::object();
    e.set("dtype", json::Value::string(dtypeName(d.dtype)));
    json::Value shape = json::Value::array();
    for (int64_t x : d.shape)
      shape.push(json::Value::integer(x));
    e.set("shape", std::move(shape));
    json::Value offs = json::Value::array();
    offs.push(json::Value::integer(static_cast<int64_t>(d.begin)));
    offs.push(json::Value::integer(static_cast<int64_t>(d.end)));
    e.set("data_offsets", std::move(offs));
    header.set(d.name, std::move(e));
  }
  std::string text = json::write(header);
  // Pad with spaces to a multiple of 8, as the reference library does, so
  // the data area (and every f32/f64 tensor in it) is aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  out = std::fopen(tmpPath.c_str(), "wb");
  if (!out) {
    err = tmpPath + ": cannot create: " + std::strerror(errno);
    return false;
  }
  begun = true;
  uint8_t len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<uint8_t>(n >> (8 * i));
  if (std::fwrite(len, 1, 8, out) != 8 ||
      std::fwrite(text.data(), 1, text.size(), out) != text.size()) {
    err = tmpPath + ": write error: " + std::strerror(errno);
    abort();
    return false;
  }
  return true;
}

bool SafetensorsWriter::write(const void *data, size_t bytes,
                              std::string &err) {
  if (!begun || !out) {
    err = outPath + ": write() before begin() or after an error";
    return false;
  }
  if (bytes > dataBytes - written) {
    err = outPath + ": more tensor bytes written than declared";
    abort();
    return false;
  }
  if (bytes && std::fwrite(data, 1, bytes, out) != bytes) {
    err = tmpPath + ": write error: " + std::strerror(errno);
    abort();
    return false;
  }
  written += bytes;
  return true;
}

size_t SafetensorsWriter::currentTensor() const {
  for (size_t i = 0; i < decls.size(); ++i)
    if (written < decls[i].end)
      return i;
  return decls.size();
}

bool SafetensorsWriter::finish(std::string &err) {
  if (!begun && !done) {
    if (!begin(err))
      return false;
  }
  if (!out) {
    err = outPath + ": finish() after an error";
    return false;
  }
  if (written != dataBytes) {
    err = outPath + ": only " + std::to_string(written) + " of " +
          std::to_string(dataBytes) + " tensor bytes were written";
    abort();
    return false;
  }
  bool ok = std::fflush(out) == 0 && fsync(fileno(out)) == 0;
  int e = errno;
  ok = (std::fclose(out) == 0) && ok;
  out = nullptr;
  if (!ok) {
    err = tmpPath + ": write error: " + std::strerror(e);
    abort();
    return false;
  }
  if (std::rename(tmpPath.c_str(), outPath.c_str()) != 0) {
    err = outPath + ": cannot rename " + tmpPath + ": " + std::strerror(errno);
    abort();
    return false;
  }
  done = true;
  return true;
}

void SafetensorsWriter::abort() {
  if (out) {
    std::fclose(out);
    out = nullptr;
  }
  if (begun && !done)
    std::remove(tmpPath.c_str());
  done = true;
}

} // namespace zamba2
