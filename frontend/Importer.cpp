//===- Importer.cpp - Hugging Face Zamba2 checkpoint -> zamba2 IR ---------===//
//
// Follows the forward pass of the model spec op by op. Each checkpoint key is
// declared once per module (the shared block's weights too, however many
// sites read them) and read with one zamba2.param per function.
//
//===----------------------------------------------------------------------===//
#include "frontend/Importer.h"

#include "dialect/Zamba2Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>

using namespace mlir;
using namespace mlir::zamba2;
using ::zamba2::ExpectedTensor;
using ::zamba2::HasTensorFn;
using ::zamba2::LayerKind;
using ::zamba2::ModelConfig;

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;
/// The gated norm of the Mamba2 mixer uses this eps whatever rms_norm_eps is.
constexpr double kGatedNormEps = 1e-5;

Activation toDialect(::zamba2::Activation a) {
  switch (a) {
  case ::zamba2::Activation::Gelu:
    return Activation::gelu;
  case ::zamba2::Activation::GeluTanh:
    return Activation::gelu_tanh;
  case ::zamba2::Activation::Silu:
    return Activation::silu;
  }
  llvm_unreachable("unknown activation");
}

std::string layerPrefix(int64_t layer) {
  return "model.layers." + std::to_string(layer) + ".";
}

class ModelImporter {
public:
  ModelImporter(MLIRContext &context, const ModelConfig &cfg,
                const HasTensorFn &hasTensor, const ImportOptions &options)
      : cfg(cfg), hasTensor(hasTensor), options(options), b(&context),
        loc(b.getUnknownLoc()) {
    weightType =
        options.weightElementType ? options.weightElementType : b.getF32Type();
    for (const ExpectedTensor &t : ::zamba2::expectedShapes(cfg, hasTensor))
      shapes[t.name] = t.shape;
  }

  OwningOpRef<ModuleOp> run() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    (*module)->setAttr("zamba2.model", modelSummary());
    moduleBody = module->getBody();
    if (options.emitPrefill)
      buildFunction(kPrefillFunction, /*decode=*/false);
    if (options.emitDecode)
      buildFunction(kDecodeFunction, /*decode=*/true);
    return module;
  }

private:
  /// Sizes a reader of the IR needs without the config at hand.
  DictionaryAttr modelSummary() {
    return b.getDictionaryAttr({
        b.getNamedAttr("vocab_size", b.getI64IntegerAttr(cfg.vocabSize)),
        b.getNamedAttr("hidden_size", b.getI64IntegerAttr(cfg.hiddenSize)),
        b.getNamedAttr("num_layers", b.getI64IntegerAttr(cfg.numLayers)),
        b.getNamedAttr("hybrid_layers",
                       b.getDenseI64ArrayAttr(cfg.hybridLayers)),
        b.getNamedAttr("num_mem_blocks", b.getI64IntegerAttr(cfg.numMemBlocks)),
    });
  }

  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getF32Type());
  }
  /// Activation [B, T, width] of the function being built.
  RankedTensorType act(int64_t width) { return f32({kDyn, seqLen, width}); }

  /// Reads a checkpoint weight, declaring it in the module on first use.
  Value param(const std::string &key) {
    auto it = params.find(key);
    if (it != params.end())
      return it->second;
    auto shape = shapes.find(key);
    // The key list is the config's own (expectedShapes); a miss here is a bug
    // in this file, not bad input.
    assert(shape != shapes.end() && "importer reads a tensor the spec lacks");
    auto type = RankedTensorType::get(shape->second, weightType);
    if (!declared.count(key)) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(moduleBody,
                          std::prev(moduleBody->end(), functionsBuilt + 1));
      WeightOp::create(b, loc, key, type);
      declared.insert(key);
    }
    Value v = ParamOp::create(b, loc, type, key).getResult();
    params[key] = v;
    return v;
  }

  bool expected(const std::string &key) const { return shapes.count(key); }

  /// x W^T (+ bias when the checkpoint spec has one).
  Value linear(Value x, const std::string &name, int64_t out) {
    Value bias = expected(name + ".bias") ? param(name + ".bias") : Value();
    auto xType = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape(xType.getShape().drop_back());
    shape.push_back(out);
    return LinearOp::create(b, loc, f32(shape), x, param(name + ".weight"),
                            bias, /*base=*/Value())
        .getResult();
  }

  /// base + (x A^T) B^T when the adapter `list.site` exists.
  Value adapter(Value x, Value base, const std::string &list, int64_t site) {
    std::string key = list + "." + std::to_string(site);
    if (!expected(key + ".0.weight"))
      return base;
    return LoRAOp::create(b, loc, base.getType(), x, param(key + ".0.weight"),
                          param(key + ".1.weight"), base);
  }

  Value rmsNorm(Value x, Value residual, const std::string &weight) {
    return RMSNormOp::create(b, loc, x.getType(), x, residual, Value(),
                             param(weight), b.getF64FloatAttr(cfg.rmsNormEps));
  }

  /// The Mamba2 mixer of the spec; updates the layer's conv and SSM state.
  Value mixer(Value x, const std::string &prefix, Value &conv, Value &ssm) {
    int64_t inner = cfg.mambaInner, channels = cfg.convChannels;
    int64_t heads = cfg.numMambaHeads;
    int64_t groupWidth = cfg.numGroups * cfg.stateSize;
    Value zxbcdt = linear(x, prefix + "in_proj", cfg.inProjSize);
    auto split = SplitOp::create(
        b, loc, TypeRange{act(inner), act(channels), act(heads)}, zxbcdt,
        b.getDenseI64ArrayAttr({inner, channels, heads}));
    Value z = split.getResult(0), xbc = split.getResult(1),
          dt = split.getResult(2);

    Value convBias = expected(prefix + "conv1d.bias")
                         ? param(prefix + "conv1d.bias")
                         : Value();
    auto convOp = CausalConv1dOp::create(b, loc, act(channels), conv.getType(),
                                         xbc, param(prefix + "conv1d.weight"),
                                         convBias, conv, b.getUnitAttr());
    conv = convOp.getNewState();

    auto pieces = SplitOp::create(
        b, loc, TypeRange{act(inner), act(groupWidth), act(groupWidth)},
        convOp.getResult(),
        b.getDenseI64ArrayAttr({inner, groupWidth, groupWidth}));
    FloatAttr dtMin, dtMax;
    if (cfg.hasTimeStepLimit) {
      dtMin = b.getF64FloatAttr(cfg.timeStepLimit[0]);
      dtMax = b.getF64FloatAttr(cfg.timeStepLimit[1]);
    }
    Value xs = pieces.getResult(0), bm = pieces.getResult(1),
          cm = pieces.getResult(2);
    Value aLog = param(prefix + "A_log"), d = param(prefix + "D"),
          dtBias = param(prefix + "dt_bias");
    IntegerAttr groups = b.getI64IntegerAttr(cfg.numGroups);
    Value y;
    if (decoding) {
      auto step = SSDStepOp::create(b, loc, act(inner), ssm.getType(), xs, dt,
                                    bm, cm, ssm, aLog, d, dtBias,
                                    /*gate=*/Value(), groups, dtMin, dtMax);
      y = step.getY();
      ssm = step.getNewState();
    } else {
      auto scan = SSDScanOp::create(b, loc, act(inner), ssm.getType(), xs, dt,
                                    bm, cm, ssm, aLog, d, dtBias,
                                    /*gate=*/Value(), groups, dtMin, dtMax,
                                    b.getI64IntegerAttr(cfg.chunkSize));
      y = scan.getY();
      ssm = scan.getNewState();
    }
    Value normed = GatedRMSNormOp::create(b, loc, y.getType(), y, z,
                                          param(prefix + "norm.weight"), groups,
                                          b.getF64FloatAttr(kGatedNormEps));
    return linear(normed, prefix + "out_proj", cfg.hiddenSize);
  }

  /// The shared transformer block at hybrid site `site`; returns its output
  /// (width H, no residual) and updates the site's KV cache.
  Value sharedBlock(int64_t site, Value h, Value emb, Value positions,
                    Value &kCache, Value &vCache) {
    std::string prefix = ::zamba2::sharedBlockPrefix(cfg, site, hasTensor);
    int64_t width2 = 2 * cfg.hiddenSize, hd = cfg.attentionHeadDim;
    int64_t qWidth = cfg.numAttentionHeads * hd;
    int64_t kvWidth = cfg.numKeyValueHeads * hd;

    Value cat = ConcatOp::create(b, loc, act(width2), ValueRange{h, emb});
    Value u = rmsNorm(cat, Value(), prefix + "input_layernorm.weight");

    std::string attn = prefix + "self_attn.";
    auto projection = [&](const char *which, int64_t out) {
      Value base = linear(u, attn + which + "_proj", out);
      return adapter(u, base, attn + "linear_" + which + "_adapter_list", site);
    };
    Value q = projection("q", qWidth);
    Value k = projection("k", kvWidth);
    Value v = projection("v", kvWidth);
    if (cfg.useMemRope) {
      auto rot = RotaryOp::create(b, loc, q.getType(), k.getType(), q, k,
                                  positions, b.getI64IntegerAttr(hd),
                                  b.getF64FloatAttr(cfg.ropeTheta));
      q = rot.getQOut();
      k = rot.getKOut();
    }
    // The block attends over a 2H-wide input: the scale is (hd/2)^-0.5.
    double scale = 1.0 / std::sqrt(static_cast<double>(hd) / 2.0);
    auto attention = AttentionOp::create(
        b, loc, q.getType(), kCache.getType(), vCache.getType(), q, k, v,
        kCache, vCache, positions, b.getI64IntegerAttr(cfg.numAttentionHeads),
        b.getI64IntegerAttr(cfg.numKeyValueHeads), b.getF64FloatAttr(scale),
        FloatAttr());
    kCache = attention.getNewKCache();
    vCache = attention.getNewVCache();
    Value a = linear(attention.getResult(), attn + "o_proj", cfg.hiddenSize);

    std::string ff = prefix + "feed_forward.";
    Value m = rmsNorm(a, Value(), prefix + "pre_ff_layernorm.weight");
    Value gu = linear(m, ff + "gate_up_proj", 2 * cfg.intermediateSize);
    gu = adapter(m, gu, ff + "gate_up_proj_adapter_list", site);
    Value gated = MLPGateOp::create(b, loc, act(cfg.intermediateSize), gu,
                                    toDialect(cfg.hiddenAct));
    return linear(gated, ff + "down_proj", cfg.hiddenSize);
  }

  void buildFunction(StringRef name, bool decode) {
    decoding = decode;
    seqLen = decode ? 1 : kDyn;
    params.clear();

    int64_t L = cfg.numLayers, sites = cfg.numSites();
    RankedTensorType convType =
        f32({kDyn, cfg.convChannels, cfg.convKernel - 1});
    RankedTensorType ssmType =
        f32({kDyn, cfg.numMambaHeads, cfg.mambaHeadDim, cfg.stateSize});
    RankedTensorType cacheType =
        f32({kDyn, cfg.numKeyValueHeads, kDyn, cfg.attentionHeadDim});

    SmallVector<Type> stateTypes;
    SmallVector<std::string> stateNames;
    for (int64_t i = 0; i < L; ++i) {
      stateTypes.append({convType, ssmType});
      stateNames.push_back("layers." + std::to_string(i) + ".conv");
      stateNames.push_back("layers." + std::to_string(i) + ".ssm");
    }
    for (int64_t s = 0; s < sites; ++s) {
      stateTypes.append({cacheType, cacheType});
      stateNames.push_back("sites." + std::to_string(s) + ".k_cache");
      stateNames.push_back("sites." + std::to_string(s) + ".v_cache");
    }

    SmallVector<Type> argTypes = {
        RankedTensorType::get({kDyn, seqLen}, b.getI64Type()),
        RankedTensorType::get({kDyn}, b.getI64Type())};
    argTypes.append(stateTypes);
    SmallVector<Type> resultTypes = {act(cfg.vocabSize)};
    resultTypes.append(stateTypes);

    b.setInsertionPointToEnd(moduleBody);
    auto fn = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType(argTypes, resultTypes));
    fn.setArgAttr(0, kStateAttr, b.getStringAttr("tokens"));
    fn.setArgAttr(1, kStateAttr, b.getStringAttr("positions"));
    fn.setResultAttr(0, kStateAttr, b.getStringAttr("logits"));
    for (auto [i, n] : llvm::enumerate(stateNames)) {
      fn.setArgAttr(2 + i, kStateAttr, b.getStringAttr(n));
      fn.setResultAttr(1 + i, kStateAttr, b.getStringAttr(n));
    }
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToEnd(entry);

    Value tokens = entry->getArgument(0), positions = entry->getArgument(1);
    SmallVector<Value> state(entry->getArguments().drop_front(2));

    Value emb = EmbedOp::create(b, loc, act(cfg.hiddenSize),
                                param("model.embed_tokens.weight"), tokens);
    Value h = emb;
    for (int64_t i = 0; i < L; ++i) {
      Value &conv = state[2 * i], &ssm = state[2 * i + 1];
      std::string prefix = layerPrefix(i);
      Value mixed;
      if (cfg.layerKinds[i] == LayerKind::Mamba) {
        Value x = rmsNorm(h, Value(), prefix + "input_layernorm.weight");
        mixed = mixer(x, prefix + "mamba.", conv, ssm);
      } else {
        int64_t site = cfg.siteOfLayer(i);
        Value &kCache = state[2 * L + 2 * site];
        Value &vCache = state[2 * L + 2 * site + 1];
        Value t = sharedBlock(site, h, emb, positions, kCache, vCache);
        t = linear(t, prefix + "linear", cfg.hiddenSize);
        // The mixer's residual is h, not h + t.
        std::string dec = prefix + "mamba_decoder.";
        Value x = rmsNorm(h, t, dec + "input_layernorm.weight");
        mixed = mixer(x, dec + "mamba.", conv, ssm);
      }
      h = arith::AddFOp::create(b, loc, h, mixed);
    }
    Value final = rmsNorm(h, Value(), "model.final_layernorm.weight");
    std::string head = cfg.tieWordEmbeddings ? "model.embed_tokens" : "lm_head";
    Value logits = LinearOp::create(b, loc, act(cfg.vocabSize), final,
                                    param(head + ".weight"), Value(), Value())
                       .getResult();
    SmallVector<Value> results = {logits};
    results.append(state);
    func::ReturnOp::create(b, loc, results);
    ++functionsBuilt;
  }

  const ModelConfig &cfg;
  const HasTensorFn &hasTensor;
  const ImportOptions &options;
  OpBuilder b;
  Location loc;
  Type weightType;
  Block *moduleBody = nullptr;
  /// Weights go before the functions: insert before the first one.
  int64_t functionsBuilt = 0;
  llvm::StringMap<std::vector<int64_t>> shapes;
  llvm::StringSet<> declared;
  llvm::StringMap<Value> params; // of the function being built
  bool decoding = false;
  int64_t seqLen = kDyn;
};

} // namespace

OwningOpRef<ModuleOp> mlir::zamba2::importModel(MLIRContext &context,
                                                const ModelConfig &cfg,
                                                const HasTensorFn &hasTensor,
                                                const ImportOptions &options) {
  context.loadDialect<Zamba2Dialect, func::FuncDialect, arith::ArithDialect>();
  return ModelImporter(context, cfg, hasTensor, options).run();
}
