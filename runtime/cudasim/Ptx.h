//===- Ptx.h - PTX modules as the CUDA simulator runs them ------*- C++ -*-===//
//
// The CUDA simulator (libzamba2_cudasim.so, see CudaSim.cpp) stands in for
// the CUDA driver on machines without a GPU: it loads a package's kernels as
// PTX text and runs them on the CPU, thread by thread, so that CUDA packages
// are tested against the CPU and the fixtures' reference wherever the
// compiler builds.
//
// This header holds a parsed PTX module: functions as flat instruction
// lists whose operands are resolved (registers to slots, symbols to
// addresses or offsets, labels to instruction indices), ready for the
// interpreter (PtxInterpreter.cpp). The parser (PtxParser.cpp) covers the
// PTX that LLVM's NVPTX backend emits for zamba2c's kernels, libdevice
// included, and the atomics, ordered loads and stores and fences of kernels
// whose blocks talk through global memory; anything else is an error naming
// the line, never a guess.
//
// Plain C++17, no LLVM/MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_CUDASIM_PTX_H
#define ZAMBA2_RUNTIME_CUDASIM_PTX_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace zamba2 {
namespace ptxsim {

/// State spaces. Addresses in Global, Const and Generic are host pointers;
/// Shared and Local addresses are offsets into the block's shared window and
/// the thread's local frame; Param addresses are offsets into the frame's
/// parameter bytes.
enum class Space : uint8_t { Generic, Global, Const, Shared, Local, Param };

enum class Ty : uint8_t {
  None,
  Pred,
  B8,
  B16,
  B32,
  B64,
  B128,
  U8,
  U16,
  U32,
  U64,
  S8,
  S16,
  S32,
  S64,
  F16,
  F16x2,
  BF16,
  BF16x2,
  F32,
  F64,
};
/// Width in bits (1 for .pred).
inline unsigned bitsOf(Ty t) {
  static constexpr uint8_t bits[] = {0, 1,  8,  16, 32, 64, 128, 8,  16, 32, 64,
                                     8, 16, 32, 64, 16, 32, 16,  32, 32, 64};
  return bits[unsigned(t)];
}
inline bool isSigned(Ty t) { return t >= Ty::S8 && t <= Ty::S64; }
inline bool isFloat(Ty t) { return t >= Ty::F16; }

enum class Op : uint8_t {
  Nop,            // hints, fences of no effect between blocks (.cta, proxy)
  Fence,          // fence.{sc,acq_rel}.{gpu,sys}, membar.{gl,sys}
  GridDepWait,    // griddepcontrol.wait: ends the thread's pre-wait section
  GridDepTrigger, // griddepcontrol.launch_dependents: noted when early
  Mov,
  Ld,
  St,
  Cvta,   // cvta.SPACE: space address -> generic
  CvtaTo, // cvta.to.SPACE: generic -> space address
  Cvt,
  Add,
  Sub,
  Mul, // mode: lo (default), hi, wide
  Mad, // mode: lo, hi, wide
  Fma,
  Div,
  Rem,
  Min,
  Max,
  Neg,
  Abs,
  And,
  Or,
  Xor,
  Not,
  Cnot,
  Shl,
  Shr,
  Setp,
  Selp,
  Bra,
  Ret,
  Exit,
  Bar,
  Shfl,
  Call,
  Rcp,
  Sqrt,
  Rsqrt,
  Ex2,
  Lg2,
  Sin,
  Cos,
  Tanh,
  Copysign,
  Bfe,
  Bfi,
  Prmt,
  Shf,
  Clz,
  Popc,
  Brev,
  Prefetch, // prefetch [a] (one byte's line) or cp.async.bulk.prefetch [a], n
  Atom,     // atom d, [a], b (cas: d, [a], b, c): d = the old value
  Red,      // red [a], b: atom without a result
  Mma,      // mma.sync.aligned.m16n8k32.row.col.s32.{u8,s8}.{u8,s8}.s32
            // {d0..d3}, {a0..a3}, {b0,b1}, {c0..c3}: ty A's type, ty2 B's
};

/// The operation of atom and red.
enum class AtomOp : uint8_t {
  Add,
  Inc,
  Dec,
  Min,
  Max,
  And,
  Or,
  Xor,
  Exch,
  Cas
};

/// The memory-consistency qualifier of ld, st, atom and red (PTX's memory
/// model): Weak is a plain access; the others are strong, atomic towards
/// each other when both have a scope of .gpu or .sys (flag kScopeCta
/// otherwise). atom and red without one are Relaxed, .volatile is relaxed
/// at .sys scope.
enum class Sem : uint8_t { Weak, Volatile, Relaxed, Acquire, Release, AcqRel };

/// Rounding of float operations and float<->int conversions.
enum class Rnd : uint8_t { None, RN, RZ, RM, RP, RNI, RZI, RMI, RPI };

/// setp comparisons (eq..ge signed or float ordered; lo..hs unsigned;
/// equ..geu float unordered; num, nan).
enum class Cmp : uint8_t {
  EQ,
  NE,
  LT,
  LE,
  GT,
  GE,
  LO,
  LS,
  HI,
  HS,
  EQU,
  NEU,
  LTU,
  LEU,
  GTU,
  GEU,
  NUM,
  NAN_,
};

enum class Special : uint8_t {
  TidX,
  TidY,
  TidZ,
  NtidX,
  NtidY,
  NtidZ,
  CtaidX,
  CtaidY,
  CtaidZ,
  NctaidX,
  NctaidY,
  NctaidZ,
  LaneId,
  WarpId,
  NWarpId,
  SmId,
  NSmId,
  Clock,
  Clock64,
  GlobalTimer,
  DynamicSmemSize,
  TotalSmemSize,
};

struct Operand {
  enum Kind : uint8_t { None, Reg, Imm, Addr, Vec, Special, Label, Sink };
  Kind kind = None;
  bool negated = false; // !%p
  int32_t reg = -1;     // Reg; Addr: base register (-1: none); Vec: first
                        // index into Function::vecRegs; Special: which
  uint32_t count = 0;   // Vec: elements
  uint64_t imm = 0;     // Imm: bits; Addr: offset (symbol included); Label:
                        // instruction index
};

// Instruction flags.
enum : uint16_t {
  kFtz = 1 << 0,
  kSat = 1 << 1,
  kApprox = 1 << 2,
  kNaN = 1 << 3,     // min/max.NaN
  kCarryIn = 1 << 4, // addc, subc, madc
  kCarryOut = 1 << 5,
  kModeHi = 1 << 6,   // mul/mad .hi
  kModeWide = 1 << 7, // mul/mad .wide
  kShfRight = 1 << 8,
  kShfClamp = 1 << 9,
  kSecondDst = 1 << 10, // setp p|q, shfl d|p
  kScopeCta = 1 << 11,  // ld/st/atom/red .cta: not atomic between blocks
};

enum class BoolOp : uint8_t { None, And, Or, Xor };
enum class ShflMode : uint8_t { Up, Down, Bfly, Idx };

struct Inst {
  Op op = Op::Nop;
  Ty ty = Ty::None;  // the instruction type (cvt: the destination)
  Ty ty2 = Ty::None; // cvt: the source
  Space space = Space::Generic;
  uint8_t vec = 1; // ld/st .v2/.v4
  Rnd rnd = Rnd::None;
  Cmp cmp = Cmp::EQ;
  BoolOp boolOp = BoolOp::None;
  ShflMode shfl = ShflMode::Idx;
  AtomOp atom = AtomOp::Add;
  Sem sem = Sem::Weak;
  uint16_t flags = 0;
  int32_t guard = -1; // predicate register, -1: none
  bool guardNegated = false;
  uint8_t numOps = 0;
  Operand ops[6];    // shfl.sync d|p, a, b, c, mask has six
  int32_t call = -1; // Call: index into Function::calls
  uint32_t line = 0;
};

/// A call site: the callee and where its arguments and results are in the
/// caller's parameter bytes.
struct CallSite {
  int32_t callee = -1;
  std::vector<uint32_t> argOffsets, argSizes;
  std::vector<uint32_t> resultOffsets, resultSizes;
};

struct ParamDecl {
  std::string name;
  uint32_t offset = 0, size = 0;
};

struct Function {
  std::string name;
  bool isKernel = false;
  bool defined = false;
  std::vector<ParamDecl> params;  // kernel: the launch parameters
  std::vector<ParamDecl> results; // .func results
  uint32_t incomingBytes = 0;     // params and results at the frame's start
  uint32_t paramBytes = 0;        // incoming plus the call sequences' params
  uint32_t localBytes = 0;
  uint32_t numRegs = 0;
  std::vector<Inst> code;
  std::vector<int32_t> vecRegs; // registers of vector operands (-1: sink)
  std::vector<CallSite> calls;
  uint32_t maxThreads = 0; // .maxntid product, 0 if not given
};

struct Module {
  std::vector<Function> functions;
  std::map<std::string, int> byName;
  /// .global/.const variables (host memory; their addresses are in code).
  std::vector<std::unique_ptr<uint8_t[]>> globals;
  std::vector<std::pair<const uint8_t *, size_t>> globalRanges;
  uint32_t staticShared = 0;        // bytes of the module's .shared variables
  uint32_t dynamicSharedOffset = 0; // where .extern .shared arrays start
  const Function *kernel(const std::string &name) const;
};

/// Parses PTX text. On failure returns null and sets `error` to one line
/// ("line N: ...").
std::unique_ptr<Module> parsePtx(const std::string &text, std::string &error);

/// Memory the kernels may touch through global or generic addresses: the
/// driver's allocations, registered host ranges and module variables. A
/// launch checks each such access against it and fails on any other.
class MemoryMap {
public:
  void add(const void *p, size_t bytes);
  /// Forgets the range starting at `p`; false if none does.
  bool remove(const void *p);
  /// Whether [p, p + bytes) lies within one range; if so, that range is
  /// [start, end).
  bool contains(uint64_t p, size_t bytes, uint64_t &start, uint64_t &end) const;

private:
  std::map<uint64_t, uint64_t> ranges_; // start -> end
};

/// A set of byte ranges [start, end) of host addresses, kept disjoint.
class ByteRanges {
public:
  void add(uint64_t start, uint64_t bytes);
  /// Whether any byte of [start, start + bytes) is in the set.
  bool overlaps(uint64_t start, uint64_t bytes) const;
  void clear() {
    ranges_.clear();
    hintStart_ = hintEnd_ = 0;
  }

private:
  std::map<uint64_t, uint64_t> ranges_; // start -> end
  /// The range the last add went to (a kernel's accesses mostly fall in it
  /// or just after it): [hintStart_, hintEnd_) is in the set.
  uint64_t hintStart_ = 0, hintEnd_ = 0;
};

/// A launch that ran: its kernel's name and the global bytes it wrote (its
/// stores and atomics) and loaded.
struct KernelWrites {
  std::string name;
  ByteRanges written;
  ByteRanges read;
};

/// Programmatic dependent launch (cuLaunchKernelEx with
/// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION): on a GPU the
/// launch's blocks may start once every block of the kernel before it has
/// signalled its dependents (griddepcontrol.launch_dependents) or ended, and
/// only griddepcontrol.wait waits for that kernel and its writes. A thread
/// that, before its wait, reads bytes a kernel that may still run wrote,
/// stores to global memory at all, or makes an atomic (atom, red) on bytes a
/// kernel that may still run wrote or read, fails the launch: here those
/// kernels have ended when the blocks run, so the access would see the
/// right values and go unnoticed. (So an atomic before the wait is fine on
/// memory that only work ordered before the kernels that may still run
/// touched, a memset or an earlier kernel: the ticket counter a memset
/// zeroes at the start of a step.) The kernels that may still run: the one
/// just before, and when that one signalled before its own wait, the ones
/// it may overlap itself, and so on. Not checked: module .global variables
/// (the kernels only read their constant tables). Accesses between the
/// blocks of one launch are GlobalRaces' check.
struct DependentLaunch {
  /// The launches that may still run, the one just before this first; null
  /// or empty: this launch does not depend on one programmatically (nothing
  /// to check).
  const std::vector<KernelWrites> *running = nullptr;
  /// Set by the launch when a thread of it signals its dependents before
  /// its own wait (the launch after it may then overlap `running` too).
  bool triggeredEarly = false;
};

/// A global access as GlobalRaces checks it.
struct GlobalAccess {
  enum Kind : uint8_t { Load, Store, Rmw }; // Rmw: atom, red
  uint64_t address = 0, bytes = 0;
  Kind kind = Load;
  /// Atomic between blocks (Sem other than Weak, at .gpu or .sys scope);
  /// acquire, release: its semantics (acq_rel: both).
  bool strong = false, acquire = false, release = false;
  uint32_t thread = 0; // the thread's linear index in its block
};

/// The race check of global memory between the blocks of one launch (here
/// the blocks run one after another, on a GPU in any order and at once).
/// Two accesses of different blocks of the same launch to a byte, one of
/// them writing, race unless both are strong (atomics, relaxed, acquire,
/// release or volatile loads and stores, at .gpu or .sys scope: atomic
/// towards each other) or release/acquire orders them: a block's release
/// (st.release, red/atom .release or .acq_rel, or a strong write after a
/// fence.acq_rel/sc) to a location L heads a release sequence that the
/// atomics on L after it continue and a plain or relaxed store to L ends;
/// an acquire of L (ld.acquire, atom .acquire or .acq_rel, or a strong load
/// of L followed by a fence) that reads a write of the sequence orders
/// every access the releasing block made before its release (and what that
/// block had acquired itself) before what the acquiring thread does after
/// it, and, from its next barrier on, before what the whole block does.
/// Accesses of the releasing block after its release stay unordered. A
/// release covers every access its block made before it in the simulator's
/// order: let a bar.sync order the other threads' accesses before it, as
/// on the GPU, since threads that no barrier orders before the release may
/// run before it here.
///
/// Per byte of an allocation, the block that last stored to it and that
/// loaded it, each with a stamp (a counter that grows with each launch,
/// release and fence, so that a byte's stamp says its launch and which
/// releases of its block came after the access) and whether the access was
/// strong; per location released to in this launch (L is the address a
/// release writes, and an acquire must read that address), the clock of its
/// release sequences.
/// A byte loaded by several blocks keeps no list: a plain store by another
/// block to it is a race even when release/acquire orders the loads before
/// it. An allocation is tracked from a memset or device-to-device copy into
/// it (track) or the first store a kernel makes to it, and its shadow (16
/// bytes per byte) is made when a kernel first touches a tracked
/// allocation: memory only copied from the host and read (the weights), and
/// memory no kernel touches (a bandwidth test's buffers), cost nothing. In
/// the one launch that first stores to an untracked allocation, the loads
/// of it before that store go unchecked.
class GlobalRaces {
public:
  /// A new launch over `grid` blocks: what earlier launches did no longer
  /// conflicts.
  void beginLaunch(const unsigned grid[3]);
  /// The block whose accesses follow (its linear index in the grid); it
  /// has acquired nothing yet.
  void beginBlock(uint32_t block);
  /// A barrier of the current block opened: what its threads acquired is
  /// the whole block's.
  void barrier();
  /// fence.acq_rel or fence.sc (.gpu, .sys) by `thread` of the current
  /// block: its strong loads before it acquire, its strong writes after it
  /// release what came before it.
  void fence(uint32_t thread);
  /// Tracks the allocation at `start` from now on.
  void track(uint64_t start) {
    tracked_.insert(start);
    cacheValid_ = false;
  }
  /// Records an access within the allocation [start, end). False, with
  /// `error` set, when it races with an access of another block of this
  /// launch.
  bool access(uint64_t start, uint64_t end, const GlobalAccess &a,
              std::string &error);
  /// Forgets the allocation at `start` (freed).
  void forget(uint64_t start) {
    shadow_.erase(start);
    tracked_.erase(start);
    cacheValid_ = false;
  }

private:
  /// Another block's accesses with stamps below `stamp` happen before: its
  /// release to `location` (the last such release known) says so.
  struct Sync {
    uint32_t stamp = 0;
    uint64_t location = 0;
  };
  using Clock = std::map<uint32_t, Sync>; // by block
  static void join(Clock &into, const Clock &from);
  /// A location's release sequences: the join of their heads.
  struct Released {
    uint64_t bytes = 0;
    Clock clock;
  };
  struct Byte {
    uint32_t writeStamp = 0, writer = 0, readStamp = 0, reader = 0;
  };
  // writer, reader: a block's linear index, or kManyReaders, with kStrong
  // when the access (for reader: every load) was strong.
  static constexpr uint32_t kStrong = 1u << 31;
  static constexpr uint32_t kManyReaders = kStrong - 1;
  /// Block `linear` as "(x,y,z)".
  std::string blockName(uint32_t linear) const;
  /// What `thread` of the current block knows of block `other` (null:
  /// nothing).
  const Sync *known(uint32_t thread, uint32_t other) const;
  /// Ends the release sequences of the locations [address, address + bytes)
  /// overlaps.
  void endSequences(uint64_t address, uint64_t bytes);
  std::map<uint64_t, std::vector<Byte>> shadow_; // allocation start -> bytes
  std::set<uint64_t> tracked_; // allocation starts tracked without a shadow
  /// The allocation of the last access and its shadow (null: untracked).
  bool cacheValid_ = false;
  uint64_t cacheStart_ = 0;
  std::vector<Byte> *cacheShadow_ = nullptr;
  uint32_t stamp_ = 0, launchStamp_ = 0, block_ = 0;
  unsigned grid_[3] = {1, 1, 1};
  // This launch: the locations released to; the current block's clock, its
  // threads' since the last barrier, their strong loads' clocks (a fence
  // acquires them) and the stamps of their last fences.
  std::map<uint64_t, Released> released_;
  Clock blockClock_;
  std::map<uint32_t, Clock> threadClock_, observed_;
  std::map<uint32_t, uint32_t> fenced_;
};

struct LaunchDims {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned dynamicShared = 0;
};

/// Runs `kernel` of `module` over the grid, block after block, with the
/// launch parameters `params` (cuLaunchKernel's kernelParams). False with
/// one line in `error` when the kernel goes wrong: an access outside the
/// memory map or the shared window, a barrier or shuffle that not all
/// threads reach, a spin on memory that nothing that can still run changes,
/// an unsupported instruction form.
/// `executed`, when given, is increased by the instructions the launch ran.
/// `dependent` checks a programmatic dependent launch (DependentLaunch);
/// `written` and `read`, when given, get the global bytes the launch stores
/// to (atomics included) and loads;
/// `races`, when given, checks the blocks' global accesses against each
/// other (GlobalRaces).
bool launch(const Module &module, const Function &kernel,
            const LaunchDims &dims, void **params, const MemoryMap &memory,
            std::string &error, uint64_t *executed = nullptr,
            DependentLaunch *dependent = nullptr, ByteRanges *written = nullptr,
            GlobalRaces *races = nullptr, ByteRanges *read = nullptr);

/// Makes `running` what a dependent launch after `done` may overlap
/// (DependentLaunch::running): `done` first, then, when `done` ran as a
/// dependent launch after `running` and signalled its dependents before its
/// wait (`overlapsBefore`), what `running` held; else nothing more.
void advanceRunning(std::vector<KernelWrites> &running, KernelWrites done,
                    bool overlapsBefore);

} // namespace ptxsim
} // namespace zamba2

#endif // ZAMBA2_RUNTIME_CUDASIM_PTX_H
