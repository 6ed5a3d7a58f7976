//===- Zamba2Ops.td - Zamba2 operations --------------------*- tablegen -*-===//
//
// Shape conventions (see spec/zamba2-model.md): B batch, T sequence, H hidden,
// I Mamba inner width, nh Mamba heads, P = I/nh, G groups, N state size,
// K conv width, Cd conv channels, nA/nKV attention/KV heads, hd head dim.
// Every verifier checks the shape relations the spec states and says what it
// expected and what it found.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_OPS_TD
#define ZAMBA2_OPS_TD

include "dialect/Zamba2Dialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"

def Zamba2_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Zamba2_IdTensor : RankedTensorOf<[AnySignlessInteger]>;
def Zamba2_IntTensor : RankedTensorOf<[AnySignlessInteger]>;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def Zamba2_WeightOp : Zamba2_Op<"weight", [Symbol]> {
  let summary = "declares one weight of the checkpoint";
  let description = [{
    The symbol name is the checkpoint key; the type is the tensor as the
    package stores it (static shape). A weight used by several sites (the
    shared transformer block) is declared once.

    ```mlir
    zamba2.weight @"model.final_layernorm.weight" : tensor<64xf32>
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<AnyRankedTensor>:$type);
  let assemblyFormat = "$sym_name attr-dict `:` $type";
  let hasVerifier = 1;
}

def Zamba2_ParamOp : Zamba2_Op<"param",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "reads a declared weight";
  let description = [{
    ```mlir
    %w = zamba2.param @"model.final_layernorm.weight" : tensor<64xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

def Zamba2_EmbedOp : Zamba2_Op<"embed", [Pure]> {
  let summary = "token embedding lookup: table[ids]";
  let description = [{
    `table` is [V, H], `ids` is [B, T]; the result is [B, T, H]. Ids outside
    [0, V) are the caller's error (the runtime checks them).
  }];
  let arguments = (ins Zamba2_FloatTensor:$table, Zamba2_IdTensor:$ids);
  let results = (outs Zamba2_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict `:` type($table) `,` type($ids) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Zamba2_RMSNormOp : Zamba2_Op<"rms_norm", [Pure, AttrSizedOperandSegments,
    InferTypeOpAdaptor,
    OptionalTypesMatchWith<"residual has the input's type", "input",
                           "residual", "$_self">]> {
  let summary = "RMS norm over the last dim, with an optional fused residual add "
                "or a second piece of the row";
  let description = [{
    result = weight * v / sqrt(mean(v^2) + eps) with v = input (+ residual),
    or v = the concatenation of input and tail along the last dim (`concat`:
    the result is as wide as both; zamba2-fuse-norm folds a concat read only
    by the norm so, and the CUDA kernel reads the row from the two pieces).
    ```mlir
    %y = zamba2.rms_norm %h plus %t, %w {eps = 1.0e-05 : f64}
        : tensor<?x?x64xf32>, tensor<64xf32>
    %z = zamba2.rms_norm %h concat %e, %w2 {eps = 1.0e-05 : f64}
        : tensor<?x?x64xf32> concat tensor<?x?x64xf32>, tensor<128xf32>
    ```
  }];
  let arguments = (ins Zamba2_FloatTensor:$input,
                       Optional<Zamba2_FloatTensor>:$residual,
                       Optional<Zamba2_FloatTensor>:$tail,
                       Zamba2_FloatTensor:$weight, F64Attr:$eps);
  let results = (outs Zamba2_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`plus` $residual^)? (`concat` $tail^)? `,` $weight attr-dict `:`
    type($input) (`concat` type($tail)^)? `,` type($weight)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def Zamba2_GatedRMSNormOp : Zamba2_Op<"gated_rms_norm", [Pure,
    AllTypesMatch<["input", "gate", "result"]>]> {
  let summary = "Mamba2 gated group RMS norm: norm_g(input * silu(gate)) * weight";
  let description = [{
    The last dim (I) is split into `groups` equal groups; each is normalised
    by its own RMS (eps is its own attribute: the model uses 1e-5 whatever
    rms_norm_eps says).
  }];
  let arguments = (ins Zamba2_FloatTensor:$input, Zamba2_FloatTensor:$gate,
                       Zamba2_FloatTensor:$weight,
                       ConfinedAttr<I64Attr, [IntPositive]>:$groups,
                       F64Attr:$eps);
  let results = (outs Zamba2_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gate `,` $weight attr-dict `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The normalisation prologue of the linear ops (zamba2-fuse-norm)
//===----------------------------------------------------------------------===//

// With `normed %w`, a linear op multiplies RMS(v) instead of its input, where
// v = input, input + residual (`plus`) or input * silu(gate) (`gated`) and
// RMS(v) = w * v / sqrt(mean(v^2) + norm_eps) over each of `norm_groups`
// (default 1) equal groups of the last dim: exactly the rms_norm or
// gated_rms_norm it replaces. The kernel that computes the product then
// normalises its row itself instead of reading a normalised copy.
defvar Zamba2_NormPrologue = (ins Optional<Zamba2_FloatTensor>:$norm_weight,
                                  Optional<Zamba2_FloatTensor>:$norm_residual,
                                  Optional<Zamba2_FloatTensor>:$norm_gate,
                                  OptionalAttr<F64Attr>:$norm_eps,
                                  OptionalAttr<I64Attr>:$norm_groups);
// Its syntax, after the input.
defvar Zamba2_NormPrologueFormat =
    "(`normed` $norm_weight^)? (`plus` $norm_residual^)? (`gated` $norm_gate^)?";

//===----------------------------------------------------------------------===//
// The convolution epilogue of the linear ops (zamba2-fuse-conv)
//===----------------------------------------------------------------------===//

// With `conv(%w [bias %b] state %s)` and `conv_offset = o`, a linear op over
// one token per row (input [B, 1, In]) passes its output channels
// [o, o + C) through the causal depthwise convolution `zamba2.causal_conv1d`
// would apply to them (weight [C, 1, K], bias [C], state [B, C, K-1]; SiLU
// after it with `conv_silu`), and returns the convolution's new state as
// its second result `new_conv_state`: the Mamba2 in_proj and its conv1d
// of a decode step as one op. The channels outside [o, o + C) are the
// product's own. One token per row is what makes it local: channel c of
// row b needs only this token's product and b's state for c.
defvar Zamba2_ConvEpilogue = (ins Optional<Zamba2_FloatTensor>:$conv_weight,
                                  Optional<Zamba2_FloatTensor>:$conv_bias,
                                  Optional<Zamba2_FloatTensor>:$conv_state,
                                  OptionalAttr<I64Attr>:$conv_offset,
                                  UnitAttr:$conv_silu);
// Its syntax, before the attribute dictionary.
defvar Zamba2_ConvEpilogueFormat =
    "(`conv` `(` $conv_weight^ (`bias` $conv_bias^)? `state` $conv_state `)`)?";

def Zamba2_LinearOp : Zamba2_Op<"linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "(base +) x W^T (+ bias) over the last dim";
  let description = [{
    `weight` is [Out, In] (the checkpoint layout); `input` is [..., In] and
    the result [..., Out]. With `into base` (same type as the result, e.g.
    the residual stream: zamba2-fuse-residual), the result is
    base + (x W^T (+ bias)), the sum added last, so that it equals the
    separate addition to the last bit. With a convolution epilogue
    (`conv(...)`, zamba2-fuse-conv) the channels it names are then
    convolved, and the convolution's new state is a second result.
  }];
  let arguments = !con((ins Zamba2_FloatTensor:$input,
                            Zamba2_FloatTensor:$weight,
                            Optional<Zamba2_FloatTensor>:$bias,
                            Optional<Zamba2_FloatTensor>:$base),
                       Zamba2_NormPrologue, Zamba2_ConvEpilogue);
  let results = (outs Zamba2_FloatTensor:$result,
                      Optional<Zamba2_FloatTensor>:$new_conv_state);
  let assemblyFormat = !strconcat("$input ", Zamba2_NormPrologueFormat, [{
    `,` $weight (`bias` $bias^)? (`into` $base^)? }], Zamba2_ConvEpilogueFormat,
    [{ attr-dict `:` functional-type(operands, results)
  }]);
  let builders = [
    OpBuilder<(ins "Type":$result, "Value":$input, "Value":$weight,
                   "Value":$bias, "Value":$base), [{
      build($_builder, $_state, result, /*new_conv_state=*/Type(), input,
            weight, bias, base, Value(), Value(), Value(), FloatAttr(),
            IntegerAttr(), Value(), Value(), Value(), IntegerAttr(),
            UnitAttr());
    }]>
  ];
  let hasVerifier = 1;
}

def Zamba2_LoRAOp : Zamba2_Op<"lora", [Pure,
    AllTypesMatch<["base", "result"]>]> {
  let summary = "adds a low-rank adapter term: base + (x A^T) B^T";
  let description = [{
    `a` is [r, In], `b` is [Out, r]; `input` [..., In]; `base` and the result
    [..., Out]. The adapter accumulates into `base` (usually the output of the
    linear it specialises), so an adapter of rank 0, or with an all-zero A or
    B, folds away to `base`.
  }];
  let arguments = (ins Zamba2_FloatTensor:$input, Zamba2_FloatTensor:$a,
                       Zamba2_FloatTensor:$b, Zamba2_FloatTensor:$base);
  let results = (outs Zamba2_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $a `,` $b `into` $base attr-dict `:` type($input) `,` type($a) `,` type($b) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Zamba2_CausalConv1dOp : Zamba2_Op<"causal_conv1d", [Pure,
    AllTypesMatch<["state", "new_state"]>]> {
  let summary = "causal depthwise conv over the sequence, then SiLU when `silu`";
  let description = [{
    input [B, T, C], weight [C, 1, K] (the checkpoint layout), bias [C],
    state [B, C, K-1] holds the K-1 input rows before t = 0 (oldest first);
    `new_state` holds the last K-1 input rows after this call.
  }];
  let arguments = (ins Zamba2_FloatTensor:$input, Zamba2_FloatTensor:$weight,
                       Optional<Zamba2_FloatTensor>:$bias,
                       Zamba2_FloatTensor:$state, UnitAttr:$silu);
  let results = (outs Zamba2_FloatTensor:$result,
                      Zamba2_FloatTensor:$new_state);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? `state` $state attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

class Zamba2_SSDOpBase<string mnemonic, string what, dag extraArgs = (ins)>
    : Zamba2_Op<mnemonic, [Pure, AllTypesMatch<["state", "new_state"]>,
                           AllTypesMatch<["b", "c"]>]> {
  let summary = "Mamba2 selective state-space " # what;
  let arguments = !con((ins Zamba2_FloatTensor:$x, Zamba2_FloatTensor:$dt,
                       Zamba2_FloatTensor:$b, Zamba2_FloatTensor:$c,
                       Zamba2_FloatTensor:$state,
                       Zamba2_FloatTensor:$a_log, Zamba2_FloatTensor:$d,
                       Zamba2_FloatTensor:$dt_bias,
                       Optional<Zamba2_FloatTensor>:$gate,
                       ConfinedAttr<I64Attr, [IntPositive]>:$groups,
                       OptionalAttr<F64Attr>:$dt_min,
                       OptionalAttr<F64Attr>:$dt_max), extraArgs);
  let results = (outs Zamba2_FloatTensor:$y, Zamba2_FloatTensor:$new_state);
  let assemblyFormat = [{
    $x `,` $dt `,` $b `,` $c `,` $state `params` `(` $a_log `,` $d `,` $dt_bias `)`
    (`gated` $gate^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Zamba2_SSDScanOp : Zamba2_SSDOpBase<"ssd_scan", "scan over a sequence",
    (ins OptionalAttr<I64Attr>:$chunk_size)> {
  let description = [{
    x [B, T, I] (nh heads of P = I/nh), dt [B, T, nh] (before softplus),
    b and c [B, T, G*N], state [B, nh, P, N] (f32), a_log, d, dt_bias [nh].
    Per head h of group g = h / (nh/G):
      dt' = clamp(softplus(dt + dt_bias), dt_min, dt_max)
      S <- exp(dt' * -exp(a_log)) * S + dt' * outer(x_h, b_g)
      y_h = S c_g + d_h * x_h
    With `gated %z` (z like x), y is multiplied by silu(z) element by element:
    the gating of Mamba2's gated norm, which zamba2-fuse-norm moves here
    when it folds that norm into the out_proj (computed once per element,
    not by every block of the out_proj's kernel).
    `chunk_size`, when given, only chooses the algorithm (chunked SSD form);
    the result must not depend on it.
  }];
}

def Zamba2_SSDStepOp : Zamba2_SSDOpBase<"ssd_step", "recurrence for one token"> {
  let description = [{
    The decode form of `ssd_scan`: the sequence dim of x, dt, b, c is 1.
  }];
}

def Zamba2_RotaryOp : Zamba2_Op<"rotary", [Pure,
    AllTypesMatch<["q", "q_out"]>, AllTypesMatch<["k", "k_out"]>]> {
  let summary = "rotary position embedding of q and k (rotate-half convention)";
  let description = [{
    q [B, T, nA*hd], k [B, T, nKV*hd], positions [B] (the absolute position of
    each sequence's first token). inv_freq[i] = theta^(-2i/hd), i < hd/2;
    element i pairs with element i + hd/2 of each head.
  }];
  let arguments = (ins Zamba2_FloatTensor:$q, Zamba2_FloatTensor:$k,
                       Zamba2_IdTensor:$positions,
                       ConfinedAttr<I64Attr, [IntPositive]>:$head_dim,
                       F64Attr:$theta);
  let results = (outs Zamba2_FloatTensor:$q_out, Zamba2_FloatTensor:$k_out);
  let assemblyFormat = [{
    $q `,` $k `at` $positions attr-dict `:` type($q) `,` type($k) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Zamba2_AttentionOp : Zamba2_Op<"attention", [Pure,
    AllTypesMatch<["q", "result"]>, AllTypesMatch<["k", "v"]>,
    AllTypesMatch<["k_cache", "v_cache", "new_k_cache", "new_v_cache"]>]> {
  let summary = "causal GQA attention that appends k and v to the KV cache";
  let description = [{
    q [B, T, nA*hd], k and v [B, T, nKV*hd], caches [B, nKV, S, hd] where S is
    the session's maximum length, positions [B]: the cache length (= absolute
    position of the first new token) of each sequence. Query head j reads KV
    head j / (nA/nKV); scores are scaled by `scale`. With `rope_theta`, the
    rotary embedding of q and k is folded in (keys are cached after rotary).
  }];
  let arguments = (ins Zamba2_FloatTensor:$q, Zamba2_FloatTensor:$k,
                       Zamba2_FloatTensor:$v, Zamba2_FloatTensor:$k_cache,
                       Zamba2_FloatTensor:$v_cache, Zamba2_IdTensor:$positions,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_kv_heads,
                       F64Attr:$scale, OptionalAttr<F64Attr>:$rope_theta);
  let results = (outs Zamba2_FloatTensor:$result,
                      Zamba2_FloatTensor:$new_k_cache,
                      Zamba2_FloatTensor:$new_v_cache);
  let assemblyFormat = [{
    $q `,` $k `,` $v `cache` `(` $k_cache `,` $v_cache `)` `at` $positions attr-dict
    `:` type($q) `,` type($k) `,` type($k_cache) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Zamba2_MLPGateOp : Zamba2_Op<"mlp_gate", [Pure]> {
  let summary = "act(g) * up where g, up are the two halves of the last dim";
  let arguments = (ins Zamba2_FloatTensor:$input, Zamba2_Activation:$act);
  let results = (outs Zamba2_FloatTensor:$result);
  let assemblyFormat = [{
    $input $act attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Zamba2_ConcatOp : Zamba2_Op<"concat", [Pure]> {
  let summary = "concatenation along the last dim";
  let arguments = (ins Variadic<Zamba2_FloatTensor>:$inputs);
  let results = (outs Zamba2_FloatTensor:$result);
  let assemblyFormat = [{
    $inputs attr-dict `:` type($inputs) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Zamba2_SplitOp : Zamba2_Op<"split", [Pure]> {
  let summary = "splits the last dim into consecutive pieces of static sizes";
  let arguments = (ins Zamba2_FloatTensor:$input, DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<Zamba2_FloatTensor>:$results);
  let assemblyFormat = [{
    $input $sizes attr-dict `:` type($input) `->` type($results)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Fused forms created by passes
//===----------------------------------------------------------------------===//

def Zamba2_LoRALinearOp : Zamba2_Op<"lora_linear",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "x W^T (+ bias) + (x A^T) B^T in one op (zamba2-fuse-lora)";
  let description = [{
    Reads x once; never materialises W + B A (that would store the shared
    weight once per site). weight [Out, In], a [r, In], b [Out, r].
  }];
  let arguments = !con((ins Zamba2_FloatTensor:$input,
                            Zamba2_FloatTensor:$weight,
                            Zamba2_FloatTensor:$a, Zamba2_FloatTensor:$b,
                            Optional<Zamba2_FloatTensor>:$bias),
                       Zamba2_NormPrologue);
  let results = (outs Zamba2_FloatTensor:$result);
  let assemblyFormat = !strconcat("$input ", Zamba2_NormPrologueFormat, [{
    `,` $weight `adapter` `(` $a `,` $b `)` (`bias` $bias^)? attr-dict
    `:` functional-type(operands, results)
  }]);
  let builders = [
    OpBuilder<(ins "Type":$result, "Value":$input, "Value":$weight,
                   "Value":$a, "Value":$b, "Value":$bias), [{
      build($_builder, $_state, result, input, weight, a, b, bias, Value(),
            Value(), Value(), FloatAttr(), IntegerAttr());
    }]>
  ];
  let hasVerifier = 1;
}

def Zamba2_QuantLinearOp : Zamba2_Op<"quant_linear",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "x W^T with W stored as packed integers and group scales";
  let description = [{
    `packed` is i8 [Out, In * bits / 8]: with 8 bits byte j of row o is
    q[o, j]; with 4 bits q[o, 2j] is the low nibble of byte j and
    q[o, 2j+1] the high nibble. `scales` is [Out, In / group_size] (f16 or
    f32); s and z of element i are those of group i / group_size.
    - symmetric: w = s * q with q two's complement (8 bits: [-128, 127];
      4 bits: [-8, 7]);
    - asymmetric: w = s * (q - z) with q unsigned (8 bits: [0, 255]; 4 bits:
      [0, 15]) and `zeros` [Out, In / group_size] read as unsigned (z = 128
      stored in an i8 means 128).
    The lowering dequantizes inside the multiply loop. `into base` adds
    the product to `base` as `zamba2.linear` does.

    `adapter(mid, packed' scales s' (zeros z')?)` adds a second product,
    mid B^T, with B [Out, r] stored the same way (same bits, group size and
    scheme): the quantized form of `zamba2.lora_linear`, mid being x A^T
    (zamba2-quantize makes it from a lora_linear whose W and B it
    quantizes). The result is (x W^T (+ bias) + mid B^T) (+ base); one GPU
    kernel computes both products. A convolution epilogue (`conv(...)`,
    zamba2-fuse-conv) works as on `zamba2.linear`.
  }];
  let arguments = !con((ins Zamba2_FloatTensor:$input,
                            Zamba2_IntTensor:$packed,
                            Zamba2_FloatTensor:$scales,
                            Optional<Zamba2_IntTensor>:$zeros,
                            Optional<Zamba2_FloatTensor>:$bias,
                            Optional<Zamba2_FloatTensor>:$base,
                            Optional<Zamba2_FloatTensor>:$adapter_input,
                            Optional<Zamba2_IntTensor>:$adapter_packed,
                            Optional<Zamba2_FloatTensor>:$adapter_scales,
                            Optional<Zamba2_IntTensor>:$adapter_zeros,
                            ConfinedAttr<I64Attr, [IntPositive]>:$bits,
                            ConfinedAttr<I64Attr, [IntPositive]>:$group_size,
                            Zamba2_QuantScheme:$scheme),
                       Zamba2_NormPrologue, Zamba2_ConvEpilogue);
  let results = (outs Zamba2_FloatTensor:$result,
                      Optional<Zamba2_FloatTensor>:$new_conv_state);
  let assemblyFormat = !strconcat("$input ", Zamba2_NormPrologueFormat, [{
    `,` $packed `scales` $scales (`zeros` $zeros^)? (`bias` $bias^)?
    (`adapter` `(` $adapter_input^ `,` $adapter_packed `scales` $adapter_scales (`zeros` $adapter_zeros^)? `)`)?
    (`into` $base^)? $scheme }], Zamba2_ConvEpilogueFormat, [{ attr-dict
    `:` functional-type(operands, results)
  }]);
  let builders = [
    OpBuilder<(ins "Type":$result, "Value":$input, "Value":$packed,
                   "Value":$scales, "Value":$zeros, "Value":$bias,
                   "Value":$base, "IntegerAttr":$bits,
                   "IntegerAttr":$group_size, "QuantSchemeAttr":$scheme), [{
      build($_builder, $_state, result, /*new_conv_state=*/Type(), input,
            packed, scales, zeros, bias, base, Value(), Value(), Value(),
            Value(), bits, group_size, scheme, Value(), Value(), Value(),
            FloatAttr(), IntegerAttr(), Value(), Value(), Value(),
            IntegerAttr(), UnitAttr());
    }]>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The Mamba2 in_proj and scan of a decode step in one kernel (zamba2-fuse-scan)
//===----------------------------------------------------------------------===//

def Zamba2_InProjScanOp : Zamba2_Op<"in_proj_scan", [Pure, IsolatedFromAbove]> {
  let summary = "a Mamba2 in_proj and the ssd_step of its pieces, as one kernel";
  let description = [{
    Groups a Mamba2 layer's in_proj (a `linear` or `quant_linear` without an
    adapter, with the convolution epilogue of zamba2-fuse-conv), the splits
    of its result, and the `ssd_step` whose x, dt, b, c (and gate) are pieces
    of that result, so that a lowering can compute them together: the body
    is those ops on the block's arguments (the values they use from outside,
    which are the op's operands), ended by `zamba2.yield` of the values used
    outside. The body's ops are the ops the pass moved: inlining the body
    gives the computation before the fold, and that is what the CPU lowering
    does. The CUDA lowering runs it at one token row (decode at batch 1) as
    one kernel: the blocks of the in_proj that compute b, c and dt signal
    when they are done, and each block that computes the x and z channels of
    some rows of a head then runs those rows' scan itself; with several rows,
    the in_proj's kernel, then the scan's.
    The verifier checks that structure: one product with a convolution
    epilogue and no adapter, one `ssd_step`, otherwise only side-effect-free
    ops (the splits, or what zamba2-lower-to-linalg makes of them), and that
    x, dt, b, c and the gate lie in the product's channels as
    `scanFoldLayout` requires.
  }];
  let arguments = (ins Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$outputs);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs) $body
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The body's product (linear or quant_linear) and ssd_step.
    Operation *getProduct();
    SSDStepOp getScan();
  }];
}

def Zamba2_YieldOp : Zamba2_Op<"yield",
    [Pure, Terminator, HasParent<"InProjScanOp">]> {
  let summary = "the values an in_proj_scan's body gives to its results";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // ZAMBA2_OPS_TD
