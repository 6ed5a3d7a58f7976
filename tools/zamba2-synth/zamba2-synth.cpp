//===- zamba2-synth.cpp - Random-weight Zamba2 checkpoints ----------------===//
//
// Writes a Hugging Face checkpoint directory (config.json,
// generation_config.json, model.safetensors) with random weights for any
// Zamba2 config, so that benchmarks and tests can use full-size shapes
// without downloading a model. Weights are generated and streamed tensor by
// tensor in chunks: a 7B bf16 file needs a few MB of memory, not 15 GB.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/Sampling.h"
#include "runtime/format/ModelConfig.h"
#include "runtime/format/Safetensors.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace zamba2;

namespace {

const char *kHelp =
    "usage: zamba2-synth [options] -o DIR\n"
    "Writes a Hugging Face Zamba2 checkpoint (config.json, "
    "generation_config.json,\nmodel.safetensors) with random weights.\n"
    "\n"
    "  --preset NAME    tiny | 1.2b | 2.7b | 7b (default tiny)\n"
    "                     tiny: 6 layers, H 64 (like test/fixtures/"
    "tiny-lora-rope)\n"
    "                     1.2b: Zamba2-1.2B shape, 1,215,064,704 parameters\n"
    "                     2.7b: Zamba2-2.7B shape as timed by the project, "
    "2,662,214,560\n"
    "                     7b:   APPROXIMATES Zamba2-7B (H 3584, 81 layers, "
    "2 blocks,\n"
    "                           hybrid every 6th layer); not the hub config\n"
    "  --config FILE    take the model config from a config.json instead\n"
    "  --layers N       override num_hidden_layers (hybrid every 6th layer)\n"
    "  --hybrid-every K with --layers: layer i is hybrid when i % K == K-1\n"
    "  --hidden N       override hidden_size\n"
    "  --vocab N        override vocab_size\n"
    "  --ffn N          override intermediate_size\n"
    "  --untied         untie embeddings (writes lm_head.weight)\n"
    "  --dtype T        f32 | bf16 | f16 (default f32)\n"
    "  --seed S         PRNG seed (default 0); output is deterministic\n"
    "  --dry-run        print the config summary and parameter count only\n"
    "  -o DIR           output directory (created; files in it replaced)\n"
    "  --help           this text\n";

int fail(const std::string &msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return 1;
}

bool parseInt(const char *s, int64_t &out) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(s, &end, 10);
  if (errno || !end || *end || end == s)
    return false;
  out = v;
  return true;
}

//===----------------------------------------------------------------------===//
// Random numbers: xoshiro256** seeded per tensor (seed, name) through
// splitmix64, so a tensor's values do not depend on the order of writing.
//===----------------------------------------------------------------------===//

/// The project's xoshiro256** (runtime/core), seeded per tensor.
struct Rng {
  Xoshiro256 gen;
  Rng(uint64_t seed, const std::string &name) : gen(seed ^ fnv1a(name)) {}
  static uint64_t fnv1a(const std::string &name) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char ch : name)
      h = (h ^ ch) * 1099511628211ull;
    return h;
  }
  uint64_t next() { return gen.next(); }
  /// Uniform in [0, 1).
  double uniform() { return gen.uniform(); }
  /// Approximately N(0, 1): Irwin-Hall sum of four 16-bit uniforms from one
  /// draw (variance 4/12), rescaled. Cheap enough for billions of values,
  /// bounded (|x| < 3.47), which keeps random models free of outliers.
  float normal() {
    uint64_t r = next();
    float sum = 0;
    for (int i = 0; i < 4; ++i, r >>= 16)
      sum += static_cast<float>(r & 0xFFFF);
    // mean 2 * 65535, std sqrt(4/12) * 65536
    return (sum - 131070.0f) * (1.0f / 37837.23f);
  }
};

bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

enum class Init { Ones, Zeros, Normal, SmallUniform, ALog, DtBias };

Init initFor(const std::string &name) {
  if (endsWith(name, "layernorm.weight") || endsWith(name, "norm.weight") ||
      endsWith(name, ".D"))
    return Init::Ones;
  if (endsWith(name, ".A_log"))
    return Init::ALog;
  if (endsWith(name, ".dt_bias"))
    return Init::DtBias;
  if (endsWith(name, "conv1d.bias"))
    return Init::SmallUniform;
  if (endsWith(name, ".bias"))
    return Init::Zeros;
  return Init::Normal;
}

void fill(Init init, Rng &rng, const ModelConfig &c, float *dst, size_t n) {
  const float stdv = static_cast<float>(c.initializerRange);
  switch (init) {
  case Init::Ones:
    for (size_t i = 0; i < n; ++i)
      dst[i] = 1.0f;
    return;
  case Init::Zeros:
    for (size_t i = 0; i < n; ++i)
      dst[i] = 0.0f;
    return;
  case Init::Normal:
    for (size_t i = 0; i < n; ++i)
      dst[i] = stdv * rng.normal();
    return;
  case Init::SmallUniform:
    for (size_t i = 0; i < n; ++i)
      dst[i] = static_cast<float>((rng.uniform() * 2 - 1) * 0.01);
    return;
  case Init::ALog: // A = -exp(A_log) with A_log = log(U[1, 16])
    for (size_t i = 0; i < n; ++i)
      dst[i] = static_cast<float>(std::log(1.0 + 15.0 * rng.uniform()));
    return;
  case Init::DtBias: {
    // dt log-uniform in [time_step_min, time_step_max] (floored), stored as
    // its inverse softplus, as transformers initialises it.
    double lo = std::log(c.timeStepMin), hi = std::log(c.timeStepMax);
    for (size_t i = 0; i < n; ++i) {
      double dt = std::exp(lo + rng.uniform() * (hi - lo));
      dt = std::fmax(dt, c.timeStepFloor);
      dst[i] = static_cast<float>(dt + std::log(-std::expm1(-dt)));
    }
    return;
  }
  }
}

bool writeTextFile(const std::string &path, const std::string &text,
                   std::string &err) {
  std::string tmp = path + ".tmp";
  std::FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    err = tmp + ": cannot create: " + std::strerror(errno);
    return false;
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = path + ": write error";
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

std::string human(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f GB", bytes / 1e9);
  return buf;
}

} // namespace

int main(int argc, char **argv) {
  std::string presetName = "tiny", configFile, outDir, dtypeName = "f32";
  int64_t layers = -1, hybridEvery = 6, hidden = -1, vocab = -1, ffn = -1;
  uint64_t seed = 0;
  bool untied = false, dryRun = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *&out) {
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    auto intValue = [&](int64_t &out) {
      const char *v;
      return value(v) && parseInt(v, out);
    };
    const char *v = nullptr;
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--preset") {
      if (!value(v))
        return fail("--preset needs a value");
      presetName = v;
    } else if (a == "--config") {
      if (!value(v))
        return fail("--config needs a file");
      configFile = v;
    } else if (a == "-o" || a == "--output") {
      if (!value(v))
        return fail("-o needs a directory");
      outDir = v;
    } else if (a == "--dtype") {
      if (!value(v))
        return fail("--dtype needs a value");
      dtypeName = v;
    } else if (a == "--seed") {
      int64_t s;
      if (!intValue(s))
        return fail("--seed needs an integer");
      seed = static_cast<uint64_t>(s);
    } else if (a == "--layers") {
      if (!intValue(layers) || layers <= 0)
        return fail("--layers needs a positive integer");
    } else if (a == "--hybrid-every") {
      if (!intValue(hybridEvery) || hybridEvery <= 0)
        return fail("--hybrid-every needs a positive integer");
    } else if (a == "--hidden") {
      if (!intValue(hidden) || hidden <= 0)
        return fail("--hidden needs a positive integer");
    } else if (a == "--vocab") {
      if (!intValue(vocab) || vocab <= 0)
        return fail("--vocab needs a positive integer");
    } else if (a == "--ffn") {
      if (!intValue(ffn) || ffn <= 0)
        return fail("--ffn needs a positive integer");
    } else if (a == "--untied") {
      untied = true;
    } else if (a == "--dry-run") {
      dryRun = true;
    } else {
      return fail("unknown argument '" + a + "' (see --help)");
    }
  }

  DType dtype;
  const char *torchDtype;
  if (dtypeName == "f32") {
    dtype = DType::F32;
    torchDtype = "float32";
  } else if (dtypeName == "bf16") {
    dtype = DType::BF16;
    torchDtype = "bfloat16";
  } else if (dtypeName == "f16") {
    dtype = DType::F16;
    torchDtype = "float16";
  } else {
    return fail("--dtype: expected f32, bf16 or f16, found '" + dtypeName +
                "'");
  }

  std::string err;
  ModelConfig cfg;
  std::string source;
  if (!configFile.empty()) {
    if (!parseModelConfigFile(configFile, cfg, err))
      return fail(err);
    source = configFile;
  } else {
    if (!presetModelConfig(presetName, cfg))
      return fail("--preset: expected tiny, 1.2b, 2.7b or 7b, found '" +
                  presetName + "'");
    source = "preset " + presetName;
  }
  if (layers > 0) {
    cfg.numLayers = layers;
    cfg.layerKinds = hybridEveryKth(layers, hybridEvery);
  }
  if (hidden > 0) {
    cfg.hiddenSize = hidden;
  }
  if (vocab > 0)
    cfg.vocabSize = vocab;
  if (ffn > 0)
    cfg.intermediateSize = ffn;
  if (untied)
    cfg.tieWordEmbeddings = false;
  if (!finalizeModelConfig(cfg, source, err))
    return fail(err);

  std::vector<ExpectedTensor> tensors = expectedShapes(cfg);
  // rngName[i]: the name tensor i's values derive from. transformers saves an
  // untied model with a copy of the shared block (all its adapter lists too)
  // under every hybrid layer; the copies hold the same values.
  std::vector<std::string> rngName;
  for (const ExpectedTensor &t : tensors)
    rngName.push_back(t.name);
  if (!cfg.tieWordEmbeddings) {
    size_t canonicalCount = tensors.size();
    for (int64_t site = 0; site < cfg.numSites(); ++site) {
      std::string canonical = sharedBlockPrefix(cfg, site);
      std::string own = "model.layers." +
                        std::to_string(cfg.hybridLayers[site]) +
                        ".shared_transformer.";
      if (own == canonical)
        continue;
      for (size_t i = 0; i < canonicalCount; ++i) {
        const std::string &name = tensors[i].name;
        if (name.compare(0, canonical.size(), canonical) != 0)
          continue;
        tensors.push_back(
            {own + name.substr(canonical.size()), tensors[i].shape});
        rngName.push_back(name);
      }
    }
  }
  uint64_t params = cfg.parameterCount();
  uint64_t bytes = 0; // of the file: per-layer copies of an untied model too
  for (const ExpectedTensor &t : tensors) {
    uint64_t n = 1;
    for (int64_t d : t.shape)
      n *= static_cast<uint64_t>(d);
    bytes += n * dtypeSize(dtype);
  }
  std::printf("%s: %lld layers, %lld hybrid sites, %lld shared blocks, "
              "%llu parameters, %llu bytes (%s)\n",
              source.c_str(), (long long)cfg.numLayers,
              (long long)cfg.numSites(), (long long)cfg.numMemBlocks,
              (unsigned long long)params, (unsigned long long)bytes,
              dtypeName.c_str());
  if (dryRun)
    return 0;
  if (outDir.empty())
    return fail("no output directory given (-o DIR)");
  // Like mkdir -p: the parents too.
  std::error_code ec;
  std::filesystem::create_directories(outDir, ec);
  if (ec)
    return fail(outDir + ": cannot create directory: " + ec.message());

  SafetensorsWriter w(outDir + "/model.safetensors");
  w.setMetadata("format", "pt"); // transformers refuses files without it
  for (const ExpectedTensor &t : tensors)
    if (!w.addTensor(t.name, dtype, t.shape, err))
      return fail(err);
  if (!w.begin(err))
    return fail(err);

  const size_t kChunk = size_t(1) << 20;
  std::vector<float> f32(kChunk);
  std::vector<uint16_t> half(kChunk);
  const bool progress = bytes > (uint64_t(256) << 20);
  uint64_t done = 0, nextReport = bytes / 20;
  for (size_t ti = 0; ti < tensors.size(); ++ti) {
    const ExpectedTensor &t = tensors[ti];
    uint64_t n = 1;
    for (int64_t d : t.shape)
      n *= static_cast<uint64_t>(d);
    Rng rng(seed, rngName[ti]);
    Init init = initFor(t.name);
    for (uint64_t off = 0; off < n; off += kChunk) {
      size_t m = static_cast<size_t>(std::min<uint64_t>(kChunk, n - off));
      fill(init, rng, cfg, f32.data(), m);
      bool ok;
      if (dtype == DType::F32) {
        ok = w.write(f32.data(), m * 4, err);
      } else {
        for (size_t i = 0; i < m; ++i)
          half[i] = dtype == DType::BF16 ? f32ToBf16(f32[i]) : f32ToF16(f32[i]);
        ok = w.write(half.data(), m * 2, err);
      }
      if (!ok)
        return fail(err);
      done += m * dtypeSize(dtype);
      if (progress && done >= nextReport) {
        std::fprintf(stderr, "zamba2-synth: %3d%% (%s of %s)\n",
                     (int)(100.0 * done / bytes), human(done).c_str(),
                     human(bytes).c_str());
        nextReport += bytes / 20;
      }
    }
  }
  if (!w.finish(err))
    return fail(err);

  // Configs last: a directory with a config.json is a complete checkpoint.
  json::Value config = toHuggingFaceJson(cfg);
  config.set("dtype", json::Value::string(torchDtype));
  json::Value gen = json::Value::object();
  gen.set("_from_model_config", json::Value::boolean(true));
  auto tok = [](int64_t v) {
    return v < 0 ? json::Value::null() : json::Value::integer(v);
  };
  gen.set("bos_token_id", tok(cfg.bosTokenId));
  gen.set("eos_token_id", tok(cfg.eosTokenId));
  gen.set("pad_token_id", tok(cfg.padTokenId));
  gen.set("transformers_version", json::Value::string("5.17.0"));
  gen.set("use_cache", json::Value::boolean(true));
  if (!writeTextFile(outDir + "/config.json", json::write(config, 2) + "\n",
                     err) ||
      !writeTextFile(outDir + "/generation_config.json",
                     json::write(gen, 2) + "\n", err))
    return fail(err);
  std::fprintf(stderr, "zamba2-synth: wrote %s (%zu tensors)\n", outDir.c_str(),
               tensors.size());
  return 0;
}
