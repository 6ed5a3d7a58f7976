//===- PackageWriter.cpp - writes a zamba2c package directory -------------===//
#include "PackageWriter.h"
#include "lowering/Pipelines.h"
#include "runtime/Json.h"
#include "runtime/tokenizer/Tokenizer.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>
#include <fstream>
#include <sstream>

using namespace mlir;
using namespace mlir::zamba2;
namespace json = ::zamba2::json;

namespace {

bool storedDType(Type element, ::zamba2::DType &out) {
  if (element.isF32())
    out = ::zamba2::DType::F32;
  else if (element.isBF16())
    out = ::zamba2::DType::BF16;
  else if (element.isF16())
    out = ::zamba2::DType::F16;
  else if (element.isInteger(8)) // packed integers, zero points
    out = ::zamba2::DType::I8;
  else
    return false;
  return true;
}

/// The `quant` entry zamba2-prepare-entry-points copied from zamba2.quant.
bool readQuant(DictionaryAttr d, const std::string &name,
               ::zamba2::PackQuant &out, std::string &err) {
  auto source = d.getAs<StringAttr>("source");
  auto tensor = d.getAs<StringAttr>("tensor");
  auto part = d.getAs<StringAttr>("part");
  auto bits = d.getAs<IntegerAttr>("bits");
  auto group = d.getAs<IntegerAttr>("group_size");
  auto scheme = d.getAs<StringAttr>("scheme");
  auto scaleType = d.getAs<TypeAttr>("scale_type");
  err = "internal error: weight '" + name + "': malformed zamba2.quant";
  if (!source || !part || !bits || !group || !scheme || !scaleType)
    return false;
  out.source = source.str();
  out.tensor = tensor ? tensor.str() : out.source;
  out.params.bits = static_cast<int>(bits.getInt());
  out.params.groupSize = group.getInt();
  if (!::zamba2::parseQuantPart(part.str(), out.part) ||
      !::zamba2::parseQuantScheme(scheme.str(), out.params.scheme) ||
      !storedDType(scaleType.getValue(), out.params.scaleType))
    return false;
  err.clear();
  return true;
}

json::Value intArray(const std::vector<int64_t> &values) {
  json::Value a = json::Value::array();
  for (int64_t v : values)
    a.push(json::Value::integer(v));
  return a;
}

} // namespace

bool mlir::zamba2::takeModuleTables(ModuleOp module, ModuleTables &out,
                                    std::string &err) {
  auto weights = module->getAttrOfType<ArrayAttr>("zamba2.weight_table");
  auto bytes = module->getAttrOfType<IntegerAttr>("zamba2.weights_bytes");
  auto states = module->getAttrOfType<ArrayAttr>("zamba2.state_table");
  if (!weights || !bytes || !states) {
    err = "internal error: the pipeline left no weight/state table";
    return false;
  }
  for (Attribute a : weights) {
    auto d = cast<DictionaryAttr>(a);
    auto type =
        cast<RankedTensorType>(cast<TypeAttr>(d.get("type")).getValue());
    ::zamba2::PackEntry e;
    e.name = cast<StringAttr>(d.get("name")).str();
    if (!storedDType(type.getElementType(), e.dtype)) {
      err = "internal error: weight '" + e.name + "' has no stored dtype";
      return false;
    }
    e.shape.assign(type.getShape().begin(), type.getShape().end());
    e.offset = cast<IntegerAttr>(d.get("offset")).getInt();
    e.bytes = cast<IntegerAttr>(d.get("bytes")).getInt();
    if (auto quant = d.getAs<DictionaryAttr>("quant")) {
      e.quant.emplace();
      if (!readQuant(quant, e.name, *e.quant, err))
        return false;
    }
    out.weights.push_back(std::move(e));
  }
  out.weightsBytes = bytes.getInt();
  for (Attribute a : states) {
    auto d = cast<DictionaryAttr>(a);
    auto type =
        cast<RankedTensorType>(cast<TypeAttr>(d.get("type")).getValue());
    ModuleTables::State s;
    s.name = cast<StringAttr>(d.get("name")).str();
    s.dtype = type.getElementType().isF32() ? "f32" : "unsupported";
    // Dim 0 is the batch; any other dynamic dim is the KV cache's length.
    for (auto [i, dim] : llvm::enumerate(type.getShape()))
      s.shape.push_back(i == 0                       ? "batch"
                        : ShapedType::isDynamic(dim) ? "seq"
                                                     : std::to_string(dim));
    out.states.push_back(std::move(s));
  }
  for (StringRef name : {"zamba2.weight_table", "zamba2.weights_bytes",
                         "zamba2.state_table", "zamba2.model"})
    module->removeAttr(name);
  return true;
}

namespace {

bool readJsonFile(const std::string &path, json::Value &out, std::string &err) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::string parseError;
  if (!in || !json::parse(text.str(), out, parseError)) {
    err = path + ": " + (parseError.empty() ? "cannot read" : parseError);
    return false;
  }
  return true;
}

/// A token id field: null means none (-1), else a non-negative integer.
bool readId(const json::Value &v, const std::string &path,
            const std::string &field, int64_t &out, std::string &err) {
  if (v.isNull()) {
    out = -1;
    return true;
  }
  if (!v.isInteger() || v.asInt() < 0) {
    err = path + ": field '" + field + "': expected a token id";
    return false;
  }
  out = v.asInt();
  return true;
}

} // namespace

bool mlir::zamba2::readGenerationIds(const ::zamba2::ModelConfig &cfg,
                                     const std::string &checkpointDir,
                                     GenerationIds &out, std::string &err) {
  out.bos = cfg.bosTokenId;
  out.pad = cfg.padTokenId;
  out.eos = cfg.eosTokenIds;
  std::string path = checkpointDir + "/generation_config.json";
  if (!llvm::sys::fs::exists(path))
    return true;
  json::Value g;
  if (!readJsonFile(path, g, err))
    return false;
  if (!g.isObject()) {
    err = path + ": expected a JSON object";
    return false;
  }
  if (const json::Value *v = g.get("bos_token_id");
      v && !readId(*v, path, "bos_token_id", out.bos, err))
    return false;
  if (const json::Value *v = g.get("pad_token_id");
      v && !readId(*v, path, "pad_token_id", out.pad, err))
    return false;
  if (const json::Value *v = g.get("eos_token_id"); v && !v->isNull()) {
    std::vector<int64_t> ids;
    std::vector<json::Value> items =
        v->isArray() ? v->items() : std::vector<json::Value>{*v};
    for (const json::Value &item : items) {
      int64_t id = -1;
      if (!readId(item, path, "eos_token_id", id, err))
        return false;
      if (id >= 0)
        ids.push_back(id);
    }
    out.eos = ids;
  }
  for (int64_t id : out.eos)
    if (id >= cfg.vocabSize) {
      err = path + ": field 'eos_token_id': id " + std::to_string(id) +
            " is outside the vocabulary of " + std::to_string(cfg.vocabSize);
      return false;
    }
  return true;
}

bool mlir::zamba2::checkTokenizer(const std::string &checkpointDir,
                                  int64_t vocabSize, bool &present,
                                  std::string &err) {
  std::string path = checkpointDir + "/tokenizer.json";
  present = llvm::sys::fs::exists(path);
  if (!present)
    return true;
  ::zamba2::Tokenizer tok;
  if (!::zamba2::Tokenizer::load(path, tok, err))
    return false; // the tokenizer's message names the file and field
  if (tok.vocabSize() > vocabSize) {
    err = path + ": the tokenizer has ids up to " +
          std::to_string(tok.vocabSize() - 1) +
          ", beyond the model's vocabulary of " + std::to_string(vocabSize);
    return false;
  }
  return true;
}

std::string mlir::zamba2::buildManifest(
    const ::zamba2::ModelConfig &cfg, const std::string &checkpointDir,
    const CpuTarget &target, const ModuleTables &tables,
    const GenerationIds &generation, bool hasTokenizer, std::string &err,
    const std::string &gpuChip, bool dependentLaunch) {
  json::Value config;
  if (!readJsonFile(checkpointDir + "/config.json", config, err))
    return "";
  json::Value m = json::Value::object();
  m.set("format", json::Value::string("zamba2c-package"));
  m.set("format_version", json::Value::integer(1));
  m.set("producer", json::Value::string("zamba2c 0.1.0"));
  json::Value t = json::Value::object();
  t.set("kind", json::Value::string(gpuChip.empty() ? "cpu" : "cuda"));
  if (!gpuChip.empty()) {
    t.set("gpu", json::Value::string(gpuChip));
    t.set("dependent_launch", json::Value::boolean(dependentLaunch));
  }
  t.set("triple", json::Value::string(target.triple));
  t.set("cpu", json::Value::string(target.cpu));
  json::Value features = json::Value::array();
  for (const std::string &f : target.requiredFeatures)
    features.push(json::Value::string(f));
  t.set("features", std::move(features));
  m.set("target", std::move(t));
  m.set("library", json::Value::string("model.so"));
  m.set("abi_version", json::Value::integer(kAbiVersion));
  json::Value entries = json::Value::object();
  entries.set("prefill", json::Value::string("zamba2_prefill"));
  entries.set("decode", json::Value::string("zamba2_decode"));
  m.set("entry_points", std::move(entries));

  json::Value model = json::Value::object();
  model.set("vocab_size", json::Value::integer(cfg.vocabSize));
  model.set("hidden_size", json::Value::integer(cfg.hiddenSize));
  model.set("num_layers", json::Value::integer(cfg.numLayers));
  model.set("hybrid_layer_ids", intArray(cfg.hybridLayers));
  auto idOrNull = [](int64_t id) {
    return id < 0 ? json::Value::null() : json::Value::integer(id);
  };
  model.set("bos_token_id", idOrNull(generation.bos));
  model.set("eos_token_id",
            idOrNull(generation.eos.empty() ? -1 : generation.eos[0]));
  model.set("eos_token_ids", intArray(generation.eos));
  model.set("pad_token_id", idOrNull(generation.pad));
  m.set("model", std::move(model));
  m.set("config", std::move(config));
  m.set("tokenizer", hasTokenizer ? json::Value::string("tokenizer.json")
                                  : json::Value::null());

  json::Value w = json::Value::object();
  w.set("file", json::Value::string("weights.bin"));
  w.set("bytes",
        json::Value::integer(static_cast<int64_t>(tables.weightsBytes)));
  w.set("alignment", json::Value::integer(tables.weightAlignment));
  json::Value list = json::Value::array();
  for (const ::zamba2::PackEntry &e : tables.weights) {
    json::Value o = json::Value::object();
    o.set("name", json::Value::string(e.name));
    std::string dtype = ::zamba2::dtypeName(e.dtype);
    for (char &c : dtype)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    o.set("dtype", json::Value::string(dtype)); // "f32", "bf16", "f16", "i8"
    o.set("shape", intArray(e.shape));
    o.set("offset", json::Value::integer(static_cast<int64_t>(e.offset)));
    o.set("bytes", json::Value::integer(static_cast<int64_t>(e.bytes)));
    if (e.quant) {
      const ::zamba2::PackQuant &q = *e.quant;
      json::Value qo = json::Value::object();
      qo.set("source", json::Value::string(q.source));
      qo.set("tensor", json::Value::string(q.tensor));
      qo.set("part", json::Value::string(::zamba2::quantPartName(q.part)));
      qo.set("bits", json::Value::integer(q.params.bits));
      qo.set("group_size", json::Value::integer(q.params.groupSize));
      qo.set("scheme",
             json::Value::string(::zamba2::quantSchemeName(q.params.scheme)));
      qo.set("scale_dtype",
             json::Value::string(
                 q.params.scaleType == ::zamba2::DType::F16 ? "f16" : "f32"));
      o.set("quant", std::move(qo));
    }
    list.push(std::move(o));
  }
  w.set("tensors", std::move(list));
  m.set("weights", std::move(w));

  json::Value states = json::Value::array();
  for (const ModuleTables::State &s : tables.states) {
    json::Value o = json::Value::object();
    o.set("name", json::Value::string(s.name));
    o.set("dtype", json::Value::string(s.dtype));
    json::Value shape = json::Value::array();
    for (const std::string &d : s.shape)
      shape.push(d == "batch" || d == "seq"
                     ? json::Value::string(d)
                     : json::Value::integer(std::stoll(d)));
    o.set("shape", std::move(shape));
    states.push(std::move(o));
  }
  m.set("state", std::move(states));
  return json::write(m, 2) + "\n";
}

PackageDir::PackageDir(std::string path) : dest(std::move(path)) {
  tmp = dest + ".tmp-" + std::to_string(llvm::sys::Process::getProcessId());
  old = dest + ".old-" + std::to_string(llvm::sys::Process::getProcessId());
}

PackageDir::~PackageDir() {
  if (!committed && !dest.empty())
    llvm::sys::fs::remove_directories(tmp);
}

bool PackageDir::create(std::string &err) {
  if (llvm::sys::fs::exists(dest)) {
    bool isDir = llvm::sys::fs::is_directory(dest);
    bool isPackage = llvm::sys::fs::exists(dest + "/manifest.json");
    std::error_code ec;
    bool isEmpty = isDir && llvm::sys::fs::directory_iterator(dest, ec) ==
                                llvm::sys::fs::directory_iterator();
    if (!isDir || (!isPackage && !isEmpty)) {
      err = dest + ": exists and is not a zamba2c package; refusing to "
                   "overwrite it";
      return false;
    }
  }
  llvm::sys::fs::remove_directories(tmp);
  if (std::error_code ec = llvm::sys::fs::create_directories(tmp)) {
    err = tmp + ": cannot create: " + ec.message();
    return false;
  }
  return true;
}

bool PackageDir::writeText(const std::string &name, const std::string &text,
                           std::string &err) {
  std::error_code ec;
  llvm::raw_fd_ostream os(file(name), ec);
  if (!ec) {
    os << text;
    os.close();
  }
  if (ec || os.has_error()) {
    err = file(name) + ": write failed";
    return false;
  }
  return true;
}

bool PackageDir::copyIn(const std::string &source, const std::string &name,
                        std::string &err) {
  if (std::error_code ec = llvm::sys::fs::copy_file(source, file(name))) {
    err = source + ": cannot copy into the package: " + ec.message();
    return false;
  }
  return true;
}

bool PackageDir::commit(std::string &err) {
  bool hadOld = llvm::sys::fs::exists(dest);
  if (hadOld) {
    if (std::error_code ec = llvm::sys::fs::rename(dest, old)) {
      err = dest + ": cannot replace: " + ec.message();
      return false;
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, dest)) {
    if (hadOld)
      llvm::sys::fs::rename(old, dest);
    err = dest + ": cannot create: " + ec.message();
    return false;
  }
  if (hadOld)
    llvm::sys::fs::remove_directories(old);
  committed = true;
  return true;
}
