//===- Importer.h - Hugging Face Zamba2 checkpoint -> zamba2 IR -*- C++ -*-===//
//
// Builds the zamba2 module of a checkpoint from its config alone: the weights
// are declared by checkpoint key and type (`zamba2.weight`), never read, so an
// import costs microseconds per layer whatever the model's size.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_FRONTEND_IMPORTER_H
#define ZAMBA2_FRONTEND_IMPORTER_H

#include "runtime/format/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir::zamba2 {

struct ImportOptions {
  /// Element type the package stores weights in; null means f32.
  Type weightElementType;
  bool emitPrefill = true;
  bool emitDecode = true;
};

/// Names of the entry points and of the state a call reads and writes; the
/// lowering and the runtime rely on them.
inline constexpr const char *kPrefillFunction = "prefill";
inline constexpr const char *kDecodeFunction = "decode";
/// Argument/result attribute naming a state tensor ("layers.3.conv", ...).
inline constexpr const char *kStateAttr = "zamba2.state";

/// Builds the module of a Zamba2 model:
///   func @prefill(tokens [B, T] i64, positions [B] i64, state...)
///       -> (logits [B, T, V], new state...)
///   func @decode(tokens [B, 1] i64, positions [B] i64, state...)
///       -> (logits [B, 1, V], new state...)
/// State, in order: per layer i the conv state [B, Cd, K-1] and the SSM state
/// [B, nh, P, N] (f32); per hybrid site s the key and value caches
/// [B, nKV, S, hd]. `positions` is each sequence's length before the call.
/// `hasTensor` answers the own-prefix rule of the shared block (see
/// sharedBlockPrefix); the checkpoint must have been validated against `cfg`.
OwningOpRef<ModuleOp> importModel(MLIRContext &context,
                                  const ::zamba2::ModelConfig &cfg,
                                  const ::zamba2::HasTensorFn &hasTensor,
                                  const ImportOptions &options = {});

} // namespace mlir::zamba2

#endif // ZAMBA2_FRONTEND_IMPORTER_H
