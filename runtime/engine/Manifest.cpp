//===- Manifest.cpp - manifest.json of a zamba2c package ------------------===//
#include "runtime/engine/Manifest.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <set>

namespace zamba2 {

namespace {

/// "string 'x'", "integer 3", "array", ... for "found ..." in messages.
std::string describe(const json::Value &v) {
  switch (v.kind()) {
  case json::Value::Kind::Null:
    return "null";
  case json::Value::Kind::Bool:
    return v.asBool() ? "true" : "false";
  case json::Value::Kind::Number:
    if (v.isInteger())
      return "integer " + std::to_string(v.asInt());
    return "number " + json::write(v);
  case json::Value::Kind::String: {
    std::string s = v.asString();
    if (s.size() > 40)
      s = s.substr(0, 40) + "...";
    return "string '" + s + "'";
  }
  case json::Value::Kind::Array:
    return "array";
  case json::Value::Kind::Object:
    return "object";
  }
  return "?";
}

/// Reads typed fields of one JSON object, naming them by their full dotted
/// path ("weights.tensors[3].offset") in errors. Only the first error is
/// kept, so a caller may check `ok()` once after a group of reads.
class Reader {
public:
  explicit Reader(const std::string &path) : path(path) {}

  bool ok() const { return status.isOk(); }
  Status take() { return status; }

  bool fail(const std::string &field, const std::string &what,
            StatusCode code = StatusCode::Format) {
    if (status.isOk())
      status = Status::error(code, path + ": field '" + field + "': " + what);
    return false;
  }
  bool failFound(const std::string &field, const std::string &expected,
                 const json::Value *found) {
    return fail(field, "expected " + expected + ", found " +
                           (found ? describe(*found) : "nothing (missing)"));
  }

  /// Member `key` of `obj`; nullptr, and an error naming `expected` when it
  /// is required, when missing.
  const json::Value *member(const json::Value &obj, const std::string &prefix,
                            const char *key, bool required,
                            const char *expected) {
    const json::Value *v = obj.get(key);
    if (!v && required)
      failFound(join(prefix, key), expected, nullptr);
    return v;
  }

  bool getString(const json::Value &obj, const std::string &prefix,
                 const char *key, std::string &out, bool required = true) {
    const json::Value *v =
        member(obj, prefix, key, required, "a non-empty string");
    if (!v)
      return !required;
    if (!v->isString() || v->asString().empty())
      return failFound(join(prefix, key), "a non-empty string", v);
    out = v->asString();
    return true;
  }

  static bool toInt(const json::Value &v, int64_t &out) {
    if (v.isInteger()) {
      out = v.asInt();
      return true;
    }
    // Python may write 64.0 for an int; accept exact integral values only.
    if (v.isNumber() && std::isfinite(v.asDouble()) &&
        std::floor(v.asDouble()) == v.asDouble() &&
        std::fabs(v.asDouble()) < 9.007199254740992e15) {
      out = static_cast<int64_t>(v.asDouble());
      return true;
    }
    return false;
  }

  /// Integer >= minimum.
  bool getInt(const json::Value &obj, const std::string &prefix,
              const char *key, int64_t &out, int64_t minimum,
              bool required = true) {
    const json::Value *v = member(obj, prefix, key, required, "an integer");
    if (!v)
      return !required;
    return intValue(*v, join(prefix, key), out, minimum);
  }

  bool intValue(const json::Value &v, const std::string &field, int64_t &out,
                int64_t minimum) {
    int64_t x;
    if (!toInt(v, x) || x < minimum)
      return failFound(field,
                       minimum == 0   ? "an integer >= 0"
                       : minimum == 1 ? "a positive integer"
                                      : "an integer",
                       &v);
    out = x;
    return true;
  }

  /// Token id: an integer (negative means none: -1) or null (-1); absent
  /// keeps -1.
  bool getTokenId(const json::Value &obj, const std::string &prefix,
                  const char *key, int64_t &out) {
    const json::Value *v = obj.get(key);
    if (!v || v->isNull())
      return true;
    if (!intValue(*v, join(prefix, key), out, INT64_MIN))
      return false;
    if (out < 0)
      out = -1;
    return true;
  }

  const json::Value *getObject(const json::Value &obj,
                               const std::string &prefix, const char *key,
                               bool required = true) {
    const json::Value *v = member(obj, prefix, key, required, "an object");
    if (v && !v->isObject()) {
      failFound(join(prefix, key), "an object", v);
      return nullptr;
    }
    return v;
  }

  const json::Value *getArray(const json::Value &obj, const std::string &prefix,
                              const char *key, bool required = true) {
    const json::Value *v = member(obj, prefix, key, required, "an array");
    if (v && !v->isArray()) {
      failFound(join(prefix, key), "an array", v);
      return nullptr;
    }
    return v;
  }

  static std::string join(const std::string &prefix, const char *key) {
    return prefix.empty() ? std::string(key) : prefix + "." + key;
  }
  static std::string index(const std::string &field, size_t i) {
    return field + "[" + std::to_string(i) + "]";
  }

private:
  const std::string &path;
  Status status;
};

bool stateDTypeSize(const std::string &dtype, size_t &size) {
  if (dtype == "f32") {
    size = 4;
    return true;
  }
  if (dtype == "bf16" || dtype == "f16") {
    size = 2;
    return true;
  }
  return false;
}

/// Bytes per element of the weight dtypes the contract names (i8: the packed
/// integers and zero points of quantized weights); 0 for others, whose size
/// the runtime does not need to know.
/// Either case: the contract spells them "f32", safetensors "F32".
uint64_t weightDTypeSize(const std::string &dtype) {
  std::string d = dtype;
  for (char &c : d)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (d == "f32")
    return 4;
  if (d == "bf16" || d == "f16")
    return 2;
  if (d == "i8")
    return 1;
  return 0;
}

/// `value` is one of `allowed`; else an error
/// listing them.
bool oneOf(Reader &r, const std::string &field, const std::string &value,
           std::initializer_list<const char *> allowed) {
  std::string list;
  for (const char *a : allowed) {
    if (value == a)
      return true;
    list += (list.empty() ? "'" : " or '") + std::string(a) + "'";
  }
  return r.fail(field, "expected " + list + ", found '" + value + "'");
}

/// The optional "quant" object of a weight-table entry.
bool parseWeightQuant(Reader &r, const json::Value &t, const std::string &field,
                      WeightSpec &spec) {
  const json::Value *q = r.getObject(t, field, "quant", /*required=*/false);
  if (!q)
    return r.ok();
  std::string qf = field + ".quant";
  WeightQuantSpec &out = spec.quant;
  r.getString(*q, qf, "source", out.source);
  r.getString(*q, qf, "tensor", out.tensor, /*required=*/false);
  r.getString(*q, qf, "part", out.part);
  r.getInt(*q, qf, "bits", out.bits, 1);
  r.getInt(*q, qf, "group_size", out.groupSize, 1);
  r.getString(*q, qf, "scheme", out.scheme);
  r.getString(*q, qf, "scale_dtype", out.scaleDType);
  if (!r.ok())
    return false;
  if (out.tensor.empty())
    out.tensor = out.source;
  if (out.bits != 4 && out.bits != 8)
    return r.fail(qf + ".bits",
                  "expected 4 or 8, found " + std::to_string(out.bits));
  if (!oneOf(r, qf + ".part", out.part, {"packed", "scales", "zeros"}) ||
      !oneOf(r, qf + ".scheme", out.scheme, {"symmetric", "asymmetric"}) ||
      !oneOf(r, qf + ".scale_dtype", out.scaleDType, {"f16", "f32"}))
    return false;
  const char *dtype = out.part == "scales" ? out.scaleDType.c_str() : "i8";
  if (spec.dtype != dtype)
    return r.fail(field + ".dtype", "tensor '" + spec.name + "': the " +
                                        out.part +
                                        " of a quantized weight "
                                        "are " +
                                        dtype + ", found '" + spec.dtype + "'");
  spec.quantized = true;
  return true;
}

bool parseTarget(Reader &r, const json::Value &root, PackageManifest &m) {
  const json::Value *t = r.getObject(root, "", "target");
  if (!t)
    return false;
  r.getString(*t, "target", "kind", m.targetKind);
  r.getString(*t, "target", "triple", m.triple, /*required=*/false);
  r.getString(*t, "target", "cpu", m.cpu, /*required=*/false);
  r.getString(*t, "target", "gpu", m.targetGpu, /*required=*/false);
  if (const json::Value *d = t->get("dependent_launch")) {
    if (!d->isBool())
      return r.failFound("target.dependent_launch", "true or false", d);
    m.dependentLaunch = d->asBool();
  }
  if (const json::Value *f = r.getArray(*t, "target", "features", false)) {
    for (size_t i = 0; i < f->items().size(); ++i) {
      const json::Value &v = f->items()[i];
      if (!v.isString() || v.asString().empty())
        return r.failFound(Reader::index("target.features", i),
                           "a feature name (string)", &v);
      m.features.push_back(v.asString());
    }
  }
  return r.ok();
}

bool parseModel(Reader &r, const json::Value &root, PackageManifest &m) {
  const json::Value *mo = r.getObject(root, "", "model");
  if (!mo)
    return false;
  r.getInt(*mo, "model", "vocab_size", m.vocabSize, 1);
  r.getInt(*mo, "model", "hidden_size", m.hiddenSize, 1);
  r.getInt(*mo, "model", "num_layers", m.numLayers, 1);
  if (const json::Value *h = r.getArray(*mo, "model", "hybrid_layer_ids",
                                        /*required=*/false)) {
    for (size_t i = 0; i < h->items().size(); ++i) {
      int64_t id = 0;
      if (!r.intValue(h->items()[i], Reader::index("model.hybrid_layer_ids", i),
                      id, 0))
        return false;
      m.hybridLayerIds.push_back(id);
    }
  }
  r.getTokenId(*mo, "model", "bos_token_id", m.bosTokenId);
  r.getTokenId(*mo, "model", "pad_token_id", m.padTokenId);
  // End of sequence: eos_token_ids (a list) when present, else
  // eos_token_id, which may itself be a list as in config.json. Negative ids
  // mean none.
  const char *eosKey =
      mo->get("eos_token_ids") ? "eos_token_ids" : "eos_token_id";
  if (const json::Value *e = mo->get(eosKey)) {
    std::string field = std::string("model.") + eosKey;
    std::vector<const json::Value *> items;
    if (e->isArray()) {
      for (const json::Value &item : e->items())
        items.push_back(&item);
    } else if (!e->isNull()) {
      items.push_back(e);
    }
    for (size_t i = 0; i < items.size(); ++i) {
      int64_t id = 0;
      if (!r.intValue(*items[i], e->isArray() ? Reader::index(field, i) : field,
                      id, INT64_MIN))
        return false;
      if (id >= 0)
        m.eosTokenIds.push_back(id);
    }
  }
  if (!m.eosTokenIds.empty())
    m.eosTokenId = m.eosTokenIds.front();
  // Token ids the runtime feeds or stops on must be in the vocabulary.
  if (r.ok() && m.vocabSize > 0) {
    auto inVocab = [&](int64_t id, const std::string &field) {
      if (id < m.vocabSize)
        return true;
      return r.fail(field, "token id " + std::to_string(id) +
                               " is outside the vocabulary [0, " +
                               std::to_string(m.vocabSize) + ")");
    };
    if (!inVocab(m.bosTokenId, "model.bos_token_id") ||
        !inVocab(m.padTokenId, "model.pad_token_id"))
      return false;
    for (int64_t id : m.eosTokenIds)
      if (!inVocab(id, std::string("model.") + eosKey))
        return false;
  }
  return r.ok();
}

bool parseWeights(Reader &r, const json::Value &root, PackageManifest &m) {
  const json::Value *w = r.getObject(root, "", "weights");
  if (!w)
    return false;
  int64_t bytes = 0, alignment = 1;
  r.getString(*w, "weights", "file", m.weightsFile);
  r.getInt(*w, "weights", "bytes", bytes, 0);
  r.getInt(*w, "weights", "alignment", alignment, 1, /*required=*/false);
  if (!r.ok())
    return false;
  if ((alignment & (alignment - 1)) != 0)
    return r.fail("weights.alignment", "expected a power of two, found " +
                                           std::to_string(alignment));
  m.weightsBytes = static_cast<uint64_t>(bytes);
  m.weightsAlignment = static_cast<uint64_t>(alignment);

  const json::Value *tensors = r.getArray(*w, "weights", "tensors");
  if (!tensors)
    return false;
  for (size_t i = 0; i < tensors->items().size(); ++i) {
    const json::Value &t = tensors->items()[i];
    std::string field = Reader::index("weights.tensors", i);
    if (!t.isObject())
      return r.failFound(field, "an object", &t);
    WeightSpec spec;
    int64_t offset = 0, size = 0;
    r.getString(t, field, "name", spec.name);
    r.getString(t, field, "dtype", spec.dtype);
    r.getInt(t, field, "offset", offset, 0);
    r.getInt(t, field, "bytes", size, 0);
    const json::Value *shape = r.getArray(t, field, "shape");
    if (!r.ok())
      return false;
    uint64_t elements = 1;
    for (size_t d = 0; d < shape->items().size(); ++d) {
      int64_t n = 0;
      if (!r.intValue(shape->items()[d], Reader::index(field + ".shape", d), n,
                      0))
        return false;
      spec.shape.push_back(n);
      elements = n == 0 || elements <= UINT64_MAX / static_cast<uint64_t>(n)
                     ? elements * static_cast<uint64_t>(n)
                     : UINT64_MAX;
    }
    spec.offset = static_cast<uint64_t>(offset);
    spec.bytes = static_cast<uint64_t>(size);
    if (spec.offset % m.weightsAlignment != 0)
      return r.fail(field + ".offset",
                    "tensor '" + spec.name + "': offset " +
                        std::to_string(offset) + " is not a multiple of " +
                        "weights.alignment " + std::to_string(alignment));
    if (spec.offset > m.weightsBytes ||
        spec.bytes > m.weightsBytes - spec.offset)
      return r.fail(field, "tensor '" + spec.name + "': bytes [" +
                               std::to_string(offset) + ", " +
                               std::to_string(offset + size) +
                               ") run past weights.bytes " +
                               std::to_string(bytes));
    uint64_t elementSize = weightDTypeSize(spec.dtype);
    if (elementSize && elements != UINT64_MAX &&
        elements * elementSize != spec.bytes)
      return r.fail(field + ".bytes",
                    "tensor '" + spec.name + "': " + std::to_string(size) +
                        " bytes, but " + spec.dtype + " of that shape is " +
                        std::to_string(elements * elementSize));
    if (!parseWeightQuant(r, t, field, spec))
      return false;
    m.weights.push_back(std::move(spec));
  }
  return true;
}

bool parseState(Reader &r, const json::Value &root, PackageManifest &m) {
  const json::Value *state = r.getArray(root, "", "state");
  if (!state)
    return false;
  std::set<std::string> names;
  for (size_t i = 0; i < state->items().size(); ++i) {
    const json::Value &s = state->items()[i];
    std::string field = Reader::index("state", i);
    if (!s.isObject())
      return r.failFound(field, "an object", &s);
    StateSpec spec;
    r.getString(s, field, "name", spec.name);
    r.getString(s, field, "dtype", spec.dtype);
    const json::Value *shape = r.getArray(s, field, "shape");
    if (!r.ok())
      return false;
    if (!names.insert(spec.name).second)
      return r.fail(field + ".name",
                    "duplicate state name '" + spec.name + "'");
    if (!stateDTypeSize(spec.dtype, spec.elementSize))
      return r.fail(field + ".dtype", "state '" + spec.name + "': dtype '" +
                                          spec.dtype +
                                          "' is not f32, bf16 or f16");
    if (shape->items().empty())
      return r.fail(field + ".shape",
                    "state '" + spec.name +
                        "': expected at least one "
                        "dimension (\"batch\" first), found none");
    for (size_t d = 0; d < shape->items().size(); ++d) {
      const json::Value &v = shape->items()[d];
      std::string dimField = Reader::index(field + ".shape", d);
      StateDim dim;
      if (v.isString() && v.asString() == "batch") {
        dim.kind = StateDim::Kind::Batch;
      } else if (v.isString() && v.asString() == "seq") {
        dim.kind = StateDim::Kind::Seq;
      } else if (!r.intValue(v, dimField, dim.size, 1)) {
        return false;
      }
      // Row b of every state belongs to sequence b: the batch dimension must
      // be the outermost one, and the only one.
      if ((d == 0) != (dim.kind == StateDim::Kind::Batch))
        return r.fail(dimField, "state '" + spec.name + "': " +
                                    (d == 0 ? std::string("the first "
                                                          "dimension must be "
                                                          "\"batch\", found ")
                                            : std::string("\"batch\" may "
                                                          "only be the first "
                                                          "dimension, "
                                                          "found ")) +
                                    describe(v));
      spec.shape.push_back(dim);
    }
    m.state.push_back(std::move(spec));
  }
  return true;
}

/// The optional "tokenizer": a file name inside the package (the
/// checkpoint's tokenizer.json, copied), or null or absent for none.
bool parseTokenizer(Reader &r, const json::Value &root, PackageManifest &m) {
  const json::Value *t = root.get("tokenizer");
  if (!t || t->isNull())
    return true;
  const char *expected = "a file name inside the package (a non-empty string "
                         "without '/') or null";
  if (!t->isString() || t->asString().empty())
    return r.failFound("tokenizer", expected, t);
  const std::string &name = t->asString();
  if (name.find('/') != std::string::npos || name == "." || name == "..")
    return r.fail("tokenizer", "expected " + std::string(expected) +
                                   ", found '" + name + "'");
  m.tokenizer = name;
  return true;
}

} // namespace

Status parseManifest(const json::Value &root, const std::string &path,
                     PackageManifest &m) {
  m = PackageManifest();
  m.path = path;
  Reader r(path);
  if (!root.isObject()) {
    r.fail("(root)", "expected an object, found " + describe(root));
    return r.take();
  }
  // Identity and version first: a manifest of another version may have any
  // other structure.
  if (!r.getString(root, "", "format", m.format))
    return r.take();
  if (m.format != kManifestFormatName) {
    r.fail("format", "expected '" + std::string(kManifestFormatName) +
                         "', found '" + m.format + "'");
    return r.take();
  }
  if (!r.getInt(root, "", "format_version", m.formatVersion, 0))
    return r.take();
  if (m.formatVersion != kManifestFormatVersion) {
    r.fail("format_version",
           "version " + std::to_string(m.formatVersion) +
               " is not supported (this runtime reads version " +
               std::to_string(kManifestFormatVersion) + ")",
           StatusCode::Unsupported);
    return r.take();
  }
  r.getString(root, "", "producer", m.producer, /*required=*/false);
  r.getInt(root, "", "abi_version", m.abiVersion, 0);
  if (!r.ok() || !parseTokenizer(r, root, m) || !parseTarget(r, root, m))
    return r.take();
  // The rest describes the model library (host code for CUDA packages);
  // an unknown kind is refused by Package with its own message.
  if (m.targetKind != "cpu" && m.targetKind != "cuda")
    return r.take();
  r.getString(root, "", "library", m.library);
  if (const json::Value *e = r.getObject(root, "", "entry_points")) {
    r.getString(*e, "entry_points", "prefill", m.prefillSymbol);
    r.getString(*e, "entry_points", "decode", m.decodeSymbol);
  }
  if (!r.ok())
    return r.take();
  if (m.library.find('/') != std::string::npos)
    r.fail("library", "expected a file name inside the package, found '" +
                          m.library + "'");
  if (!r.ok() || !parseModel(r, root, m))
    return r.take();
  if (const json::Value *c = r.getObject(root, "", "config", false))
    m.config = *c;
  if (!r.ok() || !parseWeights(r, root, m))
    return r.take();
  if (m.weightsFile.find('/') != std::string::npos)
    r.fail("weights.file", "expected a file name inside the package, found '" +
                               m.weightsFile + "'");
  if (!r.ok())
    return r.take();
  parseState(r, root, m);
  return r.take();
}

Status readManifestFile(const std::string &path, PackageManifest &m) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return Status::error(StatusCode::Io,
                         path + ": cannot open: " + std::strerror(errno));
  std::string text;
  char buf[65536];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), f)) > 0)
    text.append(buf, got);
  bool bad = std::ferror(f);
  std::fclose(f);
  if (bad)
    return Status::error(StatusCode::Io, path + ": read error");
  json::Value root;
  std::string jerr;
  if (!json::parse(text, root, jerr))
    return Status::error(StatusCode::Format, path + ": invalid JSON: " + jerr);
  return parseManifest(root, path, m);
}

} // namespace zamba2
