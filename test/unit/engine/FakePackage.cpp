//===- FakePackage.cpp - Package directories around FakeModel.c -----------===//
#include "FakePackage.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace zamba2::test {

std::string makeTempDir() {
  char buf[] = "/tmp/zamba2-engine-test-XXXXXX";
  const char *d = mkdtemp(buf);
  return d ? d : "";
}

void removeTree(const std::string &dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

namespace {

json::Value ints(std::initializer_list<int64_t> v) {
  json::Value a = json::Value::array();
  for (int64_t x : v)
    a.push(json::Value::integer(x));
  return a;
}

json::Value stateEntry(const char *name, json::Value shape) {
  json::Value s = json::Value::object();
  s.set("name", json::Value::string(name));
  s.set("dtype", json::Value::string("f32"));
  s.set("shape", std::move(shape));
  return s;
}

json::Value dim(const char *symbol) { return json::Value::string(symbol); }
json::Value dim(int64_t n) { return json::Value::integer(n); }

} // namespace

json::Value fakeManifest(const FakePackageSpec &spec) {
  json::Value m = json::Value::object();
  m.set("format", json::Value::string("zamba2c-package"));
  m.set("format_version", json::Value::integer(1));
  m.set("producer", json::Value::string("FakeModel.c"));
  json::Value target = json::Value::object();
  target.set("kind", json::Value::string("cpu"));
  target.set("triple", json::Value::string("x86_64-pc-linux-gnu"));
  target.set("cpu", json::Value::string("generic"));
  json::Value features = json::Value::array();
  for (const std::string &f : spec.features)
    features.push(json::Value::string(f));
  target.set("features", std::move(features));
  m.set("target", std::move(target));
  m.set("library", json::Value::string("model.so"));
  m.set("abi_version", json::Value::integer(1));
  json::Value entries = json::Value::object();
  entries.set("prefill", json::Value::string("zamba2_prefill"));
  entries.set("decode", json::Value::string("zamba2_decode"));
  m.set("entry_points", std::move(entries));
  json::Value model = json::Value::object();
  model.set("vocab_size", json::Value::integer(spec.vocab));
  model.set("hidden_size", json::Value::integer(8));
  model.set("num_layers", json::Value::integer(2));
  model.set("hybrid_layer_ids", ints({1}));
  model.set("bos_token_id", json::Value::integer(1));
  model.set("eos_token_id", json::Value::integer(spec.eosTokenId));
  model.set("pad_token_id", json::Value::integer(0));
  m.set("model", std::move(model));
  m.set("config", json::Value::object());
  json::Value weights = json::Value::object();
  weights.set("file", json::Value::string("weights.bin"));
  weights.set("bytes",
              json::Value::integer(static_cast<int64_t>(spec.weightsBytes)));
  weights.set("alignment", json::Value::integer(64));
  json::Value tensors = json::Value::array();
  if (spec.weightsBytes >= 4) {
    json::Value t = json::Value::object();
    t.set("name", json::Value::string("w"));
    t.set("dtype", json::Value::string("f32"));
    t.set("shape", ints({static_cast<int64_t>(spec.weightsBytes / 4)}));
    t.set("offset", json::Value::integer(0));
    t.set("bytes", json::Value::integer(
                       static_cast<int64_t>(spec.weightsBytes / 4 * 4)));
    tensors.push(std::move(t));
  }
  weights.set("tensors", std::move(tensors));
  m.set("weights", std::move(weights));
  json::Value state = json::Value::array();
  json::Value conv = json::Value::array(), ssm = json::Value::array(),
              kv = json::Value::array();
  conv.push(dim("batch"));
  conv.push(dim(4));
  conv.push(dim(3));
  ssm.push(dim("batch"));
  ssm.push(dim(2));
  kv.push(dim("batch"));
  kv.push(dim(2));
  kv.push(dim("seq"));
  kv.push(dim(3));
  state.push(stateEntry("conv", std::move(conv)));
  state.push(stateEntry("ssm", std::move(ssm)));
  state.push(stateEntry("kv", std::move(kv)));
  m.set("state", std::move(state));
  return m;
}

std::string writeFakePackage(const std::string &dir,
                             const FakePackageSpec &spec) {
  ::mkdir(dir.c_str(), 0755);
  if (spec.writeManifest) {
    json::Value m = fakeManifest(spec);
    if (spec.editManifest)
      spec.editManifest(m);
    std::ofstream(dir + "/manifest.json") << json::write(m, 2) << "\n";
  }
  if (spec.writeWeights) {
    std::string bytes(spec.weightsBytes, '\0');
    if (bytes.size() >= 4)
      std::memcpy(&bytes[0], &spec.w0, 4);
    std::ofstream(dir + "/weights.bin", std::ios::binary) << bytes;
  }
  if (spec.writeLibrary) {
    std::error_code ec;
    std::filesystem::copy_file(
        spec.library, dir + "/model.so",
        std::filesystem::copy_options::overwrite_existing, ec);
  }
  return dir;
}

void *loadedFakeLibrary(const std::string &packageDir) {
  void *h = dlopen((packageDir + "/model.so").c_str(),
                   RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  // RTLD_NOLOAD took a reference; the engine's own keeps it loaded.
  if (h)
    dlclose(h);
  return h;
}

FakeHooks fakeHooks(const std::string &packageDir) {
  FakeHooks hooks;
  void *h = loadedFakeLibrary(packageDir);
  if (!h)
    return hooks;
  hooks.lastDescriptor = reinterpret_cast<const int64_t *(*)(int)>(
      dlsym(h, "fake_last_descriptor"));
  hooks.lastEntry = reinterpret_cast<int (*)()>(dlsym(h, "fake_last_entry"));
  hooks.numCalls = reinterpret_cast<int64_t (*)()>(dlsym(h, "fake_num_calls"));
  hooks.badDecodes =
      reinterpret_cast<int64_t (*)()>(dlsym(h, "fake_bad_decodes"));
  hooks.hasDispatcher =
      reinterpret_cast<int (*)()>(dlsym(h, "fake_has_dispatcher"));
  return hooks;
}

std::vector<float> fakeExpectedRow(const std::vector<int64_t> &history,
                                   int64_t row, int64_t vocab, float w0) {
  int64_t pos = static_cast<int64_t>(history.size()) - 1;
  float sum = 0;
  for (int64_t id : history)
    sum += static_cast<float>(id);
  float last3 = 0;
  for (int64_t p = pos; p >= 0 && p > pos - 3; --p)
    last3 += static_cast<float>(history[p]);
  float head[8] = {
      static_cast<float>(history.size()), sum, sum,   static_cast<float>(pos),
      static_cast<float>(history.back()), w0,  last3, static_cast<float>(row)};
  int64_t target = 8 + (7 * static_cast<int64_t>(sum) + pos) % (vocab - 8);
  std::vector<float> out(vocab);
  for (int64_t v = 0; v < vocab; ++v)
    out[v] = v < 8 ? head[v] : v == target ? 1e6f : -static_cast<float>(v);
  return out;
}

} // namespace zamba2::test
