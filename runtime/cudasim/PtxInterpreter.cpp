//===- PtxInterpreter.cpp - Runs PTX kernels on the CPU -------------------===//
//
// A launch runs its blocks one after another, in blockIdx order (x fastest).
// Within a block every thread runs on its own until it reaches a point where
// it needs the others: a barrier (all threads of the block), a shuffle (all
// threads of its warp), a warp matrix product (mma.sync: all 32 lanes) or
// its end. When every live thread of a warp waits at the same shuffle, the
// shuffle is done for all of them at once (an mma.sync when all 32 lanes
// wait at it: the integer m16n8k32 product, exact); when every
// live thread of the block waits at a barrier, the barrier opens. Anything
// else that stops all threads is a deadlock and an error. Registers are
// 64-bit slots holding a value's bits; every read takes the bits its type
// names.
//
// Running threads in turn picks one order of many for accesses that no
// barrier orders, so shared memory is checked for races instead
// (checkRace): per byte, who wrote and read it since the last barrier; and
// global memory between the blocks of a launch (GlobalRaces in Ptx.h), where
// atomics and strong loads and stores may meet and release/acquire orders
// plain accesses.
//
// Atomics: atom and red (add, inc, dec, min, max, and, or, xor, exch, cas,
// at any .sem and .gpu, .sys or .cta scope) are one read-modify-write of
// global memory each, nothing runs between its read and its write; ld and
// st .relaxed, .acquire, .release and .volatile read and write as plain ones
// do; fence.sc/acq_rel and membar change no value. All of them go through
// the bounds and alignment checks of other accesses; what they order is
// GlobalRaces' business. A thread that waits for another by polling memory
// must let it run: after kSpinYield strong loads (or atomics that change
// nothing) of one unchanged value it yields to the other threads of its
// block, and a block whose threads that can run all spin so for kSpinLimit
// loads is stuck and an error (no other block runs until it ends).
//
// The numerics are the IEEE operations PTX names: add.rn.f32 is a float add,
// fma.rn a fused multiply-add, rounding modes other than rn are set in the
// floating-point environment around the operation (this file is compiled
// with -frounding-math -ffp-contract=off). The .approx operations (ex2,
// rsqrt, sin, ...) are computed to full precision, which is within their
// documented error of the hardware's.
//
//===----------------------------------------------------------------------===//
#include "runtime/cudasim/Ptx.h"

#include <algorithm>
#include <cfenv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

namespace zamba2 {
namespace ptxsim {
namespace {

inline uint64_t truncBits(uint64_t v, unsigned bits) {
  return bits >= 64 ? v : v & ((uint64_t(1) << bits) - 1);
}
inline int64_t signExtend(uint64_t v, unsigned bits) {
  if (bits >= 64)
    return int64_t(v);
  unsigned s = 64 - bits;
  return int64_t(v << s) >> s;
}
inline float asF32(uint64_t v) {
  uint32_t u = uint32_t(v);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint64_t fromF32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline double asF64(uint64_t v) {
  double d;
  std::memcpy(&d, &v, 8);
  return d;
}
inline uint64_t fromF64(double d) {
  uint64_t v;
  std::memcpy(&v, &d, 8);
  return v;
}

float bf16ToF32(uint16_t h) { return asF32(uint32_t(h) << 16); }
float f16ToF32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0) {
    float f = std::ldexp(float(man), -24);
    return sign ? -f : f;
  }
  if (exp == 31)
    return asF32(sign | 0x7f800000 | (man << 13));
  return asF32(sign | ((exp + 112) << 23) | (man << 13));
}

/// `x` rounded, in the current rounding mode, to a binary format of
/// `precision` significant bits and exponents [emin, emax] (subnormals
/// below emin; overflow to infinity or the largest finite value as the
/// mode says). Exact: x / q is a power-of-two scaling, and nearbyint rounds
/// in the current mode.
double roundToFormat(double x, int precision, int emin, int emax) {
  if (!std::isfinite(x) || x == 0)
    return x;
  int e = std::max(std::ilogb(x), emin);
  double q = std::ldexp(1.0, e - (precision - 1));
  double r = std::nearbyint(x / q) * q;
  double largest = std::ldexp(2.0 - std::ldexp(1.0, 1 - precision), emax);
  if (std::fabs(r) > largest) {
    int mode = std::fegetround();
    bool infinite = mode == FE_TONEAREST || (mode == FE_UPWARD && r > 0) ||
                    (mode == FE_DOWNWARD && r < 0);
    r = std::copysign(infinite ? HUGE_VAL : largest, r);
  }
  return r;
}

uint16_t toBf16(double x) {
  if (std::isnan(x))
    return std::signbit(x) ? 0xffc0 : 0x7fc0;
  // Exactly representable after rounding: its f32's upper half.
  return uint16_t(fromF32(float(roundToFormat(x, 8, -126, 127))) >> 16);
}
uint16_t toF16(double x) {
  if (std::isnan(x))
    return std::signbit(x) ? 0xfe00 : 0x7e00;
  double r = roundToFormat(x, 11, -14, 15);
  uint16_t sign = std::signbit(r) ? 0x8000 : 0;
  double a = std::fabs(r);
  if (std::isinf(a))
    return uint16_t(sign | 0x7c00);
  if (a < std::ldexp(1.0, -14)) // subnormal: a multiple of 2^-24
    return uint16_t(sign | uint16_t(std::ldexp(a, 24)));
  int e = std::ilogb(a);
  uint16_t man = uint16_t(std::ldexp(a, 10 - e) - 1024);
  return uint16_t(sign | ((e + 15) << 10) | man);
}

/// Rounding modes other than round-to-nearest, set for one operation.
class RoundingScope {
public:
  explicit RoundingScope(Rnd r) {
    int mode = r == Rnd::RZ || r == Rnd::RZI   ? FE_TOWARDZERO
               : r == Rnd::RM || r == Rnd::RMI ? FE_DOWNWARD
               : r == Rnd::RP || r == Rnd::RPI ? FE_UPWARD
                                               : FE_TONEAREST;
    if (mode != FE_TONEAREST) {
      saved_ = std::fegetround();
      std::fesetround(mode);
      set_ = true;
    }
  }
  ~RoundingScope() {
    if (set_)
      std::fesetround(saved_);
  }

private:
  int saved_ = 0;
  bool set_ = false;
};

/// Reads a float of type `t` as double (f32 values exactly).
double readFloat(Ty t, uint64_t v) {
  switch (t) {
  case Ty::F64:
    return asF64(v);
  case Ty::F16:
    return f16ToF32(uint16_t(v));
  case Ty::BF16:
    return bf16ToF32(uint16_t(v));
  default:
    return asF32(v);
  }
}
/// Rounds `d` to type `t` in the current rounding mode.
uint64_t writeFloat(Ty t, double d) {
  switch (t) {
  case Ty::F64:
    return fromF64(d);
  case Ty::F16:
    return toF16(d);
  case Ty::BF16:
    return toBf16(d);
  default:
    return fromF32(float(d));
  }
}

struct Frame {
  const Function *fn = nullptr;
  uint32_t pc = 0;
  int32_t callSite = -1; // in the caller, whose results this frame fills
  std::vector<uint64_t> regs;
  std::vector<uint8_t> params;
  std::vector<uint8_t> local;
};

/// How an access orders memory between blocks (GlobalAccess).
struct Ordering {
  bool strong = false, acquire = false, release = false;
};
Ordering orderingOf(const Inst &in) {
  Ordering o;
  if (in.sem == Sem::Weak || (in.flags & kScopeCta))
    return o;
  o.strong = true;
  o.acquire = in.sem == Sem::Acquire || in.sem == Sem::AcqRel;
  o.release = in.sem == Sem::Release || in.sem == Sem::AcqRel;
  return o;
}

struct Thread {
  /// AtShuffle: at a warp instruction (shfl.sync or mma.sync).
  enum State : uint8_t { Running, AtBarrier, AtShuffle, Done };
  unsigned tid[3] = {0, 0, 0};
  unsigned linear = 0;
  State state = Running;
  bool carry = false;
  bool waited = false;   // past griddepcontrol.wait
  bool spinning = false; // its last step ended in a spin (spinCount)
  std::vector<Frame> frames;
  uint32_t shuffleValue = 0; // operand a of the shuffle it waits at
  // Its strong loads (and atomics that changed nothing) of device memory
  // since its last store: how many in a row read `spinValue` at
  // `spinAddress`.
  uint64_t spinAddress = 0, spinValue = 0, spinCount = 0;
  uint32_t spinLine = 0; // the PTX line of the last such load
};

class BlockRunner {
public:
  BlockRunner(const Module &m, const Function &k, const LaunchDims &dims,
              const std::vector<uint8_t> &params, const MemoryMap &memory,
              std::string &error, DependentLaunch *dependent,
              ByteRanges *written, ByteRanges *read, GlobalRaces *races)
      : module_(m), kernel_(k), dims_(dims), params_(params), memory_(memory),
        error_(error), dependent_(dependent), written_(written), read_(read),
        races_(races) {
    threadsPerBlock_ = dims.block[0] * dims.block[1] * dims.block[2];
    sharedBytes_ = m.dynamicSharedOffset + dims.dynamicShared;
  }

  bool run(unsigned bx, unsigned by, unsigned bz) {
    ctaid_[0] = bx;
    ctaid_[1] = by;
    ctaid_[2] = bz;
    // Shared memory starts as NaN bits, so that a read of a value nobody
    // wrote shows in the results.
    shared_.assign(std::max<size_t>(sharedBytes_, 1), 0xff);
    ++blockSerial_;
    barriers_ = 0;
    if (races_)
      races_->beginBlock(bx + dims_.grid[0] * (by + dims_.grid[1] * bz));
    blockStart_ = executed;
    if (words_.size() < shared_.size())
      words_.resize(shared_.size());
    threads_.resize(threadsPerBlock_);
    for (unsigned i = 0; i < threadsPerBlock_; ++i) {
      Thread &t = threads_[i];
      t.linear = i;
      t.tid[0] = i % dims_.block[0];
      t.tid[1] = (i / dims_.block[0]) % dims_.block[1];
      t.tid[2] = i / (dims_.block[0] * dims_.block[1]);
      t.state = Thread::Running;
      t.carry = false;
      t.waited = false;
      t.spinning = false;
      t.spinAddress = t.spinValue = t.spinCount = 0;
      t.frames.resize(1);
      Frame &f = t.frames[0];
      f.fn = &kernel_;
      f.pc = 0;
      f.callSite = -1;
      f.regs.assign(kernel_.numRegs, 0);
      f.params.assign(params_.begin(), params_.end());
      f.params.resize(std::max<size_t>(kernel_.paramBytes, params_.size()));
      f.local.assign(kernel_.localBytes, 0xff);
    }
    unsigned warps = (threadsPerBlock_ + 31) / 32;
    while (true) {
      // A round in which the threads that ran only spun (Thread::spinning)
      // is no progress.
      bool progressed = false;
      for (unsigned w = 0; w < warps; ++w) {
        while (true) {
          for (unsigned i = w * 32; i < std::min(threadsPerBlock_, w * 32 + 32);
               ++i)
            if (threads_[i].state == Thread::Running) {
              if (!step(threads_[i]))
                return false;
              progressed |= !threads_[i].spinning;
            }
          int r = shuffleWarp(w);
          if (r < 0)
            return false;
          if (r == 0)
            break;
          progressed = true;
        }
      }
      unsigned done = 0, atBarrier = 0;
      for (const Thread &t : threads_) {
        done += t.state == Thread::Done;
        atBarrier += t.state == Thread::AtBarrier;
      }
      if (done == threadsPerBlock_)
        return true;
      // Threads that have exited count as arrived, as on the GPU.
      if (atBarrier + done == threadsPerBlock_ && atBarrier > 0) {
        ++barriers_;
        if (races_)
          races_->barrier();
        for (Thread &t : threads_)
          if (t.state == Thread::AtBarrier) {
            t.state = Thread::Running;
            ++t.frames.back().pc;
          }
        continue;
      }
      if (!progressed) {
        // Threads spin and the others wait for them: the block is stuck
        // once every spinner has seen its value unchanged for long.
        const Thread *spinner = nullptr;
        bool stuck = true;
        for (const Thread &t : threads_)
          if (t.state == Thread::Running && t.spinning) {
            spinner = spinner ? spinner : &t;
            stuck &= t.spinCount >= kSpinLimit;
          }
        if (spinner && !stuck)
          continue;
        if (spinner)
          return fault(*spinner, spinMessage(*spinner), spinner->spinLine);
        for (const Thread &t : threads_)
          if (t.state == Thread::AtShuffle)
            return fault(t, "deadlock: a warp instruction (shfl.sync, "
                            "mma.sync) waits for lanes that wait at a "
                            "barrier");
        return fault(threads_[0], "deadlock");
      }
    }
  }

private:
  /// A thread that reads an unchanged value with strong loads yields to
  /// the others every kSpinYield loads; when only spinners can run and each
  /// has seen its value kSpinLimit times, the block is stuck: blocks run
  /// one after another here, so no other block can change the value.
  static constexpr uint64_t kSpinYield = 1024, kSpinLimit = 1u << 18;

  std::string spinMessage(const Thread &t) const {
    return "spin: block (" + std::to_string(ctaid_[0]) + "," +
           std::to_string(ctaid_[1]) + "," + std::to_string(ctaid_[2]) +
           ") waits on 0x" + hex(t.spinAddress) + " (value " +
           std::to_string(t.spinValue) +
           ") that no block that could still run changes (the simulator "
           "runs the blocks of a launch one after another: the blocks "
           "before this one have ended, the ones after it start when it "
           "ends; " +
           std::to_string(t.spinCount) +
           " loads in a row read that value while no other thread of the "
           "block could run)";
  }

  /// Fails the launch; the PTX line is that of the thread's instruction
  /// unless `line` is given.
  bool fault(const Thread &t, const std::string &what, uint32_t line = 0) {
    const Frame &f = t.frames.back();
    if (!line)
      line = f.pc < f.fn->code.size() ? f.fn->code[f.pc].line : 0;
    error_ = "kernel " + kernel_.name + " block (" + std::to_string(ctaid_[0]) +
             "," + std::to_string(ctaid_[1]) + "," + std::to_string(ctaid_[2]) +
             ") thread (" + std::to_string(t.tid[0]) + "," +
             std::to_string(t.tid[1]) + "," + std::to_string(t.tid[2]) +
             "), PTX line " + std::to_string(line) +
             (f.fn != &kernel_ ? " in " + f.fn->name : std::string()) + ": " +
             what;
    return false;
  }

  /// The lanes of warp `w` that wait at a shuffle and whose member mask
  /// (the shuffle's last operand) is all there, live lanes of the mask at
  /// the same instruction: do their shuffle. 1 if one was done, 0 if none
  /// is complete, -1 on error.
  int shuffleWarp(unsigned w) {
    unsigned begin = w * 32, end = std::min(threadsPerBlock_, begin + 32);
    for (unsigned first = begin; first < end; ++first) {
      Thread &lead = threads_[first];
      if (lead.state != Thread::AtShuffle)
        continue;
      const Frame &lf = lead.frames.back();
      const Inst *at = &lf.fn->code[lf.pc];
      if (at->op == Op::Mma)
        return mmaWarp(begin, end, lead, *at);
      unsigned maskOp = (at->flags & kSecondDst) ? 5 : 4;
      uint32_t mask = uint32_t(value(lead, lf, at->ops[maskOp]));
      bool complete = true;
      for (unsigned i = begin; i < end && complete; ++i) {
        Thread &t = threads_[i];
        if (!((mask >> (i - begin)) & 1) || t.state == Thread::Done)
          continue;
        if (t.state != Thread::AtShuffle) {
          complete = false;
          break;
        }
        const Inst *in = &t.frames.back().fn->code[t.frames.back().pc];
        if (in != at) {
          fault(t, "lanes of one member mask wait at different shfl.sync");
          return -1;
        }
      }
      if (complete)
        return shuffle(begin, end, mask, *at) ? 1 : -1;
    }
    return 0;
  }

  /// The warp [begin, end) whose lane `lead` waits at the mma.sync `at`:
  /// its product once all 32 lanes wait there. 1 if it was done, 0 while
  /// some lane has not arrived, -1 on error (a warp of fewer than 32
  /// threads, a lane that exited or waits at another warp instruction).
  int mmaWarp(unsigned begin, unsigned end, const Thread &lead,
              const Inst &at) {
    if (end - begin != 32) {
      fault(lead, "mma.sync in a warp of " + std::to_string(end - begin) +
                      " threads (it takes all 32 lanes)");
      return -1;
    }
    for (unsigned i = begin; i < end; ++i) {
      const Thread &t = threads_[i];
      if (t.state == Thread::Done) {
        fault(lead, "mma.sync while lane " + std::to_string(i - begin) +
                        " has exited (it takes all 32 lanes)");
        return -1;
      }
      if (t.state != Thread::AtShuffle)
        return 0;
      if (&t.frames.back().fn->code[t.frames.back().pc] != &at) {
        fault(t, "lanes of one warp wait at different warp instructions");
        return -1;
      }
    }
    mma(begin, at);
    return 1;
  }

  /// The warp [begin, begin + 32)'s mma.sync m16n8k32 `in`: D = A B + C, A
  /// 16 x 32 and B 32 x 8 of 8-bit integers (in.ty, in.ty2: U8 or S8), C and
  /// D 16 x 8 s32, wrapping (clamped to s32 with .satfinite). Fragments (PTX
  /// ISA), lane 4 g + t: A's register r holds row g + 8 (r % 2), columns
  /// 16 (r / 2) + 4 t .. + 3 (element 0 the lowest byte); B's register r
  /// column g, rows 16 r + 4 t .. + 3; C's and D's register r row
  /// g + 8 (r / 2), column 2 t + r % 2.
  void mma(unsigned begin, const Inst &in) {
    int64_t a[16][32], b[32][8], c[16][8];
    auto element = [](uint32_t word, unsigned i, Ty ty) -> int64_t {
      uint8_t byte = uint8_t(word >> (8 * i));
      return ty == Ty::S8 ? int64_t(int8_t(byte)) : int64_t(byte);
    };
    auto reg = [](const Frame &f, const Operand &o, unsigned e) {
      return uint32_t(f.regs[f.fn->vecRegs[o.reg + e]]);
    };
    for (unsigned lane = 0; lane < 32; ++lane) {
      const Frame &f = threads_[begin + lane].frames.back();
      unsigned g = lane / 4, t = lane % 4;
      for (unsigned r = 0; r < 4; ++r)
        for (unsigned i = 0; i < 4; ++i)
          a[g + 8 * (r % 2)][16 * (r / 2) + 4 * t + i] =
              element(reg(f, in.ops[1], r), i, in.ty);
      for (unsigned r = 0; r < 2; ++r)
        for (unsigned i = 0; i < 4; ++i)
          b[16 * r + 4 * t + i][g] = element(reg(f, in.ops[2], r), i, in.ty2);
      for (unsigned r = 0; r < 4; ++r)
        c[g + 8 * (r / 2)][2 * t + r % 2] = int32_t(reg(f, in.ops[3], r));
    }
    for (unsigned lane = 0; lane < 32; ++lane) {
      Thread &th = threads_[begin + lane];
      Frame &f = th.frames.back();
      unsigned g = lane / 4, t = lane % 4;
      for (unsigned r = 0; r < 4; ++r) {
        unsigned row = g + 8 * (r / 2), col = 2 * t + r % 2;
        int64_t d = c[row][col];
        for (unsigned k = 0; k < 32; ++k)
          d += a[row][k] * b[k][col];
        if (in.flags & kSat)
          d = std::clamp<int64_t>(d, std::numeric_limits<int32_t>::min(),
                                  std::numeric_limits<int32_t>::max());
        f.regs[f.fn->vecRegs[in.ops[0].reg + r]] = uint32_t(d);
      }
      th.state = Thread::Running;
      ++f.pc;
    }
  }

  /// The shuffle `in` of the lanes in `mask` of the warp [begin, end).
  bool shuffle(unsigned begin, unsigned end, uint32_t mask, const Inst &in) {
    bool pred = in.flags & kSecondDst;
    unsigned a = pred ? 2 : 1;
    uint32_t results[32];
    bool valid[32];
    auto member = [&](unsigned i) {
      return ((mask >> (i - begin)) & 1) && threads_[i].state != Thread::Done;
    };
    for (unsigned i = begin; i < end; ++i) {
      if (!member(i))
        continue;
      Thread &t = threads_[i];
      Frame &f = t.frames.back();
      unsigned lane = i - begin;
      uint32_t b = uint32_t(value(t, f, in.ops[a + 1])) & 31;
      uint32_t c = uint32_t(value(t, f, in.ops[a + 2]));
      uint32_t clamp = c & 31, segmask = (c >> 8) & 31;
      uint32_t maxLane = (lane & segmask) | (clamp & ~segmask);
      uint32_t minLane = lane & segmask;
      int32_t j;
      bool ok;
      switch (in.shfl) {
      case ShflMode::Up:
        j = int32_t(lane) - int32_t(b);
        ok = j >= int32_t(maxLane);
        break;
      case ShflMode::Down:
        j = int32_t(lane + b);
        ok = j <= int32_t(maxLane);
        break;
      case ShflMode::Bfly:
        j = int32_t(lane ^ b);
        ok = j <= int32_t(maxLane);
        break;
      default:
        j = int32_t(minLane | (b & ~segmask));
        ok = j <= int32_t(maxLane);
        break;
      }
      if (!ok)
        j = int32_t(lane);
      unsigned src = begin + unsigned(j);
      if (src >= end || !member(src))
        return fault(t, "shfl.sync reads lane " + std::to_string(j) +
                            ", which is not in its member mask or has exited");
      results[lane] = threads_[src].shuffleValue;
      valid[lane] = ok;
    }
    for (unsigned i = begin; i < end; ++i) {
      if (!member(i))
        continue;
      Thread &t = threads_[i];
      Frame &f = t.frames.back();
      setReg(f, in.ops[0], results[i - begin]);
      if (pred)
        setReg(f, in.ops[1], valid[i - begin]);
      t.state = Thread::Running;
      ++f.pc;
    }
    return true;
  }

  uint64_t special(const Thread &t, Special s) {
    switch (s) {
    case Special::TidX:
      return t.tid[0];
    case Special::TidY:
      return t.tid[1];
    case Special::TidZ:
      return t.tid[2];
    case Special::NtidX:
      return dims_.block[0];
    case Special::NtidY:
      return dims_.block[1];
    case Special::NtidZ:
      return dims_.block[2];
    case Special::CtaidX:
      return ctaid_[0];
    case Special::CtaidY:
      return ctaid_[1];
    case Special::CtaidZ:
      return ctaid_[2];
    case Special::NctaidX:
      return dims_.grid[0];
    case Special::NctaidY:
      return dims_.grid[1];
    case Special::NctaidZ:
      return dims_.grid[2];
    case Special::LaneId:
      return t.linear % 32;
    case Special::WarpId:
      return t.linear / 32;
    case Special::NWarpId:
      return (threadsPerBlock_ + 31) / 32;
    case Special::SmId:
      return 0;
    case Special::NSmId:
      return 132;
    case Special::Clock:
    case Special::Clock64:
      return ++clock_;
    case Special::GlobalTimer:
      return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count());
    case Special::DynamicSmemSize:
      return dims_.dynamicShared;
    case Special::TotalSmemSize:
      return sharedBytes_;
    }
    return 0;
  }

  uint64_t value(const Thread &t, const Frame &f, const Operand &o) {
    uint64_t v;
    switch (o.kind) {
    case Operand::Reg:
      v = f.regs[o.reg];
      break;
    case Operand::Special:
      v = special(t, Special(o.reg));
      break;
    default:
      v = o.imm;
      break;
    }
    return o.negated ? (v & 1) ^ 1 : v;
  }

  static void setReg(Frame &f, const Operand &o, uint64_t v) {
    if (o.kind == Operand::Reg)
      f.regs[o.reg] = v;
  }

  /// The host address of `bytes` at `address` in `space`, checked; null
  /// (with the error set) when outside what the thread may touch.
  enum Access { Load, Store, Prefetch, Rmw }; // Rmw: atom, red

  /// Who last wrote and read a byte of shared memory, and in which
  /// interval between barriers (an epoch: the block's serial number and its
  /// barriers so far, so that nothing needs clearing between blocks).
  struct ByteAccess {
    uint64_t writeEpoch = 0, readEpoch = 0;
    uint32_t writer = 0, reader = 0;
    bool manyReaders = false;
  };
  static constexpr uint32_t kNobody = ~0u;

  /// The race check of shared memory: between two barriers, a byte one
  /// thread writes may be touched by no other thread (threads run in turn
  /// here, so such a pair would get one order of many the GPU may pick).
  /// False, with the error set, on a race.
  bool checkRace(Thread &t, uint64_t offset, uint64_t bytes, Access access) {
    if (access == Prefetch)
      return true;
    uint64_t epoch = (blockSerial_ << 24) | barriers_;
    for (uint64_t w = offset; w < offset + bytes; ++w) {
      ByteAccess &a = words_[w];
      bool written = a.writeEpoch == epoch && a.writer != t.linear;
      bool read =
          a.readEpoch == epoch && (a.manyReaders || a.reader != t.linear);
      if (written || (access == Store && read)) {
        uint32_t other = written         ? a.writer
                         : a.manyReaders ? kNobody
                                         : a.reader;
        return fault(
            t, std::string("shared-memory race: ") +
                   (access == Store ? "store to" : "load of") + " byte " +
                   std::to_string(w) + ", which " +
                   (other == kNobody ? std::string("other threads")
                                     : "thread " + std::to_string(other)) +
                   (written ? " wrote" : " read") + " since the last barrier");
      }
      if (access == Store) {
        a.writeEpoch = epoch;
        a.writer = t.linear;
      } else if (a.readEpoch != epoch) {
        a.readEpoch = epoch;
        a.reader = t.linear;
        a.manyReaders = false;
      } else if (a.reader != t.linear) {
        a.manyReaders = true;
      }
    }
    return true;
  }
  /// Whether [address, address + bytes) lies in [start, start + size),
  /// without overflow for any address.
  static bool within(uint64_t address, uint64_t bytes, uint64_t start,
                     uint64_t size) {
    return address >= start && address - start <= size &&
           bytes <= size - (address - start);
  }

  /// An access to device memory: a store or atomic is recorded in
  /// written_, a load in read_; before griddepcontrol.wait in a dependent
  /// launch, a store, a load of what a kernel that may still run wrote, or
  /// an atomic on what such a kernel wrote or read, is an error
  /// (DependentLaunch); so is an access that races with another block's
  /// (GlobalRaces).
  uint8_t *deviceMemory(Thread &t, uint64_t address, uint64_t bytes,
                        Access access, const char *what, Ordering order) {
    if ((access == Store || access == Rmw) && written_)
      written_->add(address, bytes);
    else if (access == Load && read_)
      read_->add(address, bytes);
    if (races_ && access != Prefetch) {
      GlobalAccess a;
      a.address = address;
      a.bytes = bytes;
      a.kind = access == Load    ? GlobalAccess::Load
               : access == Store ? GlobalAccess::Store
                                 : GlobalAccess::Rmw;
      a.strong = order.strong;
      a.acquire = order.acquire;
      a.release = order.release;
      a.thread = t.linear;
      std::string race;
      if (!races_->access(lastStart_, lastEnd_, a, race)) {
        fault(t, race);
        return nullptr;
      }
    }
    if (dependent_ && dependent_->running && !dependent_->running->empty() &&
        !t.waited && access != Prefetch) {
      std::string where = " of " + std::to_string(bytes) + " bytes at 0x" +
                          hex(address) + " before griddepcontrol.wait";
      if (access == Store) {
        fault(t, std::string("global ") + what + where +
                     " in a dependent launch (the kernel before may still "
                     "read it)");
        return nullptr;
      }
      const std::vector<KernelWrites> &running = *dependent_->running;
      for (size_t i = 0; i < running.size(); ++i) {
        bool wrote = running[i].written.overlaps(address, bytes);
        bool read =
            !wrote && access == Rmw && running[i].read.overlaps(address, bytes);
        if (!wrote && !read)
          continue;
        std::string which =
            i == 0 ? "the kernel before this dependent launch"
                   : "a kernel " + std::to_string(i + 1) +
                         " launches before this dependent one (those "
                         "between signalled their dependents before their "
                         "wait)";
        fault(t, std::string("global ") + what + where +
                     (access == Rmw ? " touches what " : " reads what ") +
                     running[i].name + ", " + which +
                     (wrote ? ", wrote" : ", read") +
                     (access == Rmw ? " (an atomic may come before the wait "
                                      "only on memory that no kernel that "
                                      "may still run touches)"
                                    : ""));
        return nullptr;
      }
    }
    return reinterpret_cast<uint8_t *>(address);
  }

  uint8_t *memory(Thread &t, Frame &f, Space space, uint64_t address,
                  uint64_t bytes, Access access, Ordering order = {}) {
    const char *what = access == Store  ? "store"
                       : access == Load ? "load"
                       : access == Rmw  ? "atomic"
                                        : "prefetch";
    switch (space) {
    case Space::Param:
      if (within(address, bytes, 0, f.params.size()))
        return f.params.data() + address;
      break;
    case Space::Shared:
      if (within(address, bytes, 0, shared_.size()))
        return checkRace(t, address, bytes, access) ? shared_.data() + address
                                                    : nullptr;
      break;
    case Space::Local:
      if (within(address, bytes, 0, f.local.size()))
        return f.local.data() + address;
      break;
    default: {
      // The range of the last access first: kernels stream through a few.
      if (within(address, bytes, lastStart_, lastEnd_ - lastStart_) ||
          memory_.contains(address, bytes, lastStart_, lastEnd_))
        return deviceMemory(t, address, bytes, access, what, order);
      for (const auto &[p, n] : module_.globalRanges)
        if (within(address, bytes, reinterpret_cast<uint64_t>(p), n))
          return reinterpret_cast<uint8_t *>(address);
      if (space == Space::Generic) {
        uint64_t s = reinterpret_cast<uint64_t>(shared_.data());
        bool inShared = within(address, bytes, s, shared_.size());
        // Local memory of this thread's frames (a callee may be given a
        // pointer into its caller's).
        bool inLocal = false;
        for (const Frame &frame : t.frames)
          inLocal |= within(address, bytes,
                            reinterpret_cast<uint64_t>(frame.local.data()),
                            frame.local.size());
        if ((inShared || inLocal) && access == Rmw) {
          fault(t, std::string("atomic on ") + (inShared ? "shared" : "local") +
                       " memory at 0x" + hex(address) +
                       " (the simulator runs atomics on "
                       "global memory only)");
          return nullptr;
        }
        if (inShared)
          return checkRace(t, address - s, bytes, access)
                     ? reinterpret_cast<uint8_t *>(address)
                     : nullptr;
        if (inLocal)
          return reinterpret_cast<uint8_t *>(address);
      }
      break;
    }
    }
    static const char *spaces[] = {"generic", "global", "const",
                                   "shared",  "local",  "param"};
    char buf[160];
    std::snprintf(
        buf, sizeof(buf), "%s %s of %llu bytes at 0x%llx is out of bounds",
        spaces[int(space)], what, static_cast<unsigned long long>(bytes),
        static_cast<unsigned long long>(address));
    fault(t, buf);
    return nullptr;
  }

  static std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(v));
    return buf;
  }

  static uint64_t loadBits(const uint8_t *p, unsigned bytes) {
    uint64_t v = 0;
    std::memcpy(&v, p, bytes);
    return v;
  }

  /// Extends a loaded or converted integer of type `t` to the register.
  static uint64_t extend(Ty t, uint64_t v) {
    unsigned bits = bitsOf(t);
    return isSigned(t) ? uint64_t(signExtend(v, bits)) : truncBits(v, bits);
  }

  bool ldst(Thread &t, Frame &f, const Inst &in) {
    unsigned bytes = bitsOf(in.ty) / 8;
    const Operand &addr = in.op == Op::Ld ? in.ops[1] : in.ops[0];
    const Operand &val = in.op == Op::Ld ? in.ops[0] : in.ops[1];
    if (addr.kind != Operand::Addr)
      return fault(t, "expected an address operand");
    uint64_t a = addr.imm + (addr.reg >= 0 ? f.regs[addr.reg] : 0);
    if (a % (bytes * in.vec) != 0)
      return fault(t, "misaligned address 0x" + hex(a) + " for an access of " +
                          std::to_string(bytes * in.vec) + " bytes");
    uint8_t *p = memory(t, f, in.space, a, bytes * in.vec,
                        in.op == Op::St ? Store : Load, orderingOf(in));
    if (!p)
      return false;
    for (unsigned e = 0; e < in.vec; ++e) {
      int32_t reg = val.kind == Operand::Vec   ? f.fn->vecRegs[val.reg + e]
                    : val.kind == Operand::Reg ? val.reg
                                               : -1;
      if (in.op == Op::Ld) {
        if (reg >= 0)
          f.regs[reg] = extend(in.ty, loadBits(p + e * bytes, bytes));
      } else {
        uint64_t v = reg >= 0 ? f.regs[reg] : val.imm;
        std::memcpy(p + e * bytes, &v, bytes);
      }
    }
    if (in.op == Op::St)
      t.spinCount = 0;
    else if (in.sem != Sem::Weak && in.vec == 1 &&
             within(a, bytes, lastStart_, lastEnd_ - lastStart_))
      noteStrongRead(t, in, a, loadBits(p, bytes), false);
    return true;
  }

  /// A strong load of device memory (or an atomic) that read `value` at
  /// `address`: one more in a row of the same value unless the atomic
  /// changed it; every kSpinYield in a row the thread yields (spinYield_).
  void noteStrongRead(Thread &t, const Inst &in, uint64_t address,
                      uint64_t value, bool changed) {
    if (changed) {
      t.spinCount = 0;
      return;
    }
    if (t.spinCount && address == t.spinAddress && value == t.spinValue) {
      ++t.spinCount;
    } else {
      t.spinAddress = address;
      t.spinValue = value;
      t.spinCount = 1;
    }
    t.spinLine = in.line;
    if (t.spinCount % kSpinYield == 0)
      spinYield_ = true;
  }

  /// atom and red on global memory: one read-modify-write of `in.ty`.
  bool atomic(Thread &t, Frame &f, const Inst &in) {
    bool red = in.op == Op::Red;
    const Operand &addr = in.ops[red ? 0 : 1];
    unsigned bits = bitsOf(in.ty), bytes = bits / 8;
    if (addr.kind != Operand::Addr)
      return fault(t, "expected an address operand");
    uint64_t a = addr.imm + (addr.reg >= 0 ? f.regs[addr.reg] : 0);
    if (a % bytes != 0)
      return fault(t, "misaligned address 0x" + hex(a) + " for an access of " +
                          std::to_string(bytes) + " bytes");
    uint64_t b = truncBits(value(t, f, in.ops[red ? 1 : 2]), bits);
    uint64_t c =
        in.atom == AtomOp::Cas ? truncBits(value(t, f, in.ops[3]), bits) : 0;
    uint8_t *p = memory(t, f, in.space, a, bytes, Rmw, orderingOf(in));
    if (!p)
      return false;
    uint64_t old = loadBits(p, bytes), r = old;
    bool s = isSigned(in.ty);
    switch (in.atom) {
    case AtomOp::Add:
      r = in.ty == Ty::F32   ? fromF32(asF32(old) + asF32(b))
          : in.ty == Ty::F64 ? fromF64(asF64(old) + asF64(b))
                             : old + b;
      break;
    case AtomOp::Inc:
      r = old >= b ? 0 : old + 1;
      break;
    case AtomOp::Dec:
      r = old == 0 || old > b ? b : old - 1;
      break;
    case AtomOp::Min:
    case AtomOp::Max: {
      bool less = s ? signExtend(b, bits) < signExtend(old, bits) : b < old;
      r = (in.atom == AtomOp::Min) == less ? b : old;
      break;
    }
    case AtomOp::And:
      r = old & b;
      break;
    case AtomOp::Or:
      r = old | b;
      break;
    case AtomOp::Xor:
      r = old ^ b;
      break;
    case AtomOp::Exch:
      r = b;
      break;
    case AtomOp::Cas:
      r = old == b ? c : old;
      break;
    }
    r = truncBits(r, bits);
    std::memcpy(p, &r, bytes);
    if (!red)
      setReg(f, in.ops[0], extend(in.ty, old));
    if (within(a, bytes, lastStart_, lastEnd_ - lastStart_))
      noteStrongRead(t, in, a, old, r != old);
    return true;
  }

  bool mov(Thread &t, Frame &f, const Inst &in) {
    const Operand &d = in.ops[0], &s = in.ops[1];
    unsigned bits = bitsOf(in.ty);
    if (d.kind == Operand::Vec) { // unpack
      uint64_t v = value(t, f, s);
      unsigned each = bits / d.count;
      for (unsigned e = 0; e < d.count; ++e) {
        int32_t r = f.fn->vecRegs[d.reg + e];
        if (r >= 0)
          f.regs[r] = truncBits(v >> (e * each), each);
      }
      return true;
    }
    if (s.kind == Operand::Vec) { // pack
      unsigned each = bits / s.count;
      uint64_t v = 0;
      for (unsigned e = 0; e < s.count; ++e) {
        int32_t r = f.fn->vecRegs[s.reg + e];
        v |= truncBits(r >= 0 ? f.regs[r] : 0, each) << (e * each);
      }
      setReg(f, d, v);
      return true;
    }
    setReg(f, d, truncBits(value(t, f, s), bits));
    return true;
  }

  bool cvt(Thread &t, Frame &f, const Inst &in) {
    Ty dt = in.ty, st = in.ty2;
    uint64_t v = value(t, f, in.ops[1]);
    uint64_t r;
    RoundingScope rounding(in.rnd);
    if (isFloat(dt) && isFloat(st)) {
      double x = readFloat(st, v);
      if (in.rnd == Rnd::RNI)
        x = std::nearbyint(x);
      else if (in.rnd == Rnd::RZI)
        x = std::trunc(x);
      else if (in.rnd == Rnd::RMI)
        x = std::floor(x);
      else if (in.rnd == Rnd::RPI)
        x = std::ceil(x);
      if (in.flags & kSat)
        x = std::isnan(x) ? 0.0 : std::fmin(std::fmax(x, 0.0), 1.0);
      r = writeFloat(dt, x);
    } else if (isFloat(dt)) { // int -> float
      unsigned sb = bitsOf(st);
      if (isSigned(st)) {
        // One rounding: straight to the type (f16/bf16 from the double,
        // exact below 2^53).
        int64_t i = signExtend(v, sb);
        r = dt == Ty::F64   ? fromF64(double(i))
            : dt == Ty::F32 ? fromF32(float(i))
                            : writeFloat(dt, double(i));
      } else {
        uint64_t u = truncBits(v, sb);
        r = dt == Ty::F64   ? fromF64(double(u))
            : dt == Ty::F32 ? fromF32(float(u))
                            : writeFloat(dt, double(u));
      }
    } else if (isFloat(st)) { // float -> int, saturating
      double x = readFloat(st, v);
      x = in.rnd == Rnd::RZI   ? std::trunc(x)
          : in.rnd == Rnd::RMI ? std::floor(x)
          : in.rnd == Rnd::RPI ? std::ceil(x)
                               : std::nearbyint(x);
      unsigned db = bitsOf(dt);
      if (std::isnan(x)) {
        r = 0;
      } else if (isSigned(dt)) {
        double lo = -std::ldexp(1.0, int(db) - 1), hi = -lo;
        int64_t i = x <= lo   ? int64_t(lo)
                    : x >= hi ? (db == 64 ? INT64_MAX : int64_t(hi) - 1)
                              : int64_t(x);
        r = uint64_t(i);
      } else {
        double hi = std::ldexp(1.0, int(db));
        r = x <= 0    ? 0
            : x >= hi ? (db == 64 ? UINT64_MAX : uint64_t(hi) - 1)
                      : uint64_t(x);
      }
      r = extend(dt, r);
    } else { // int -> int
      uint64_t x = extend(st, v);
      if (in.flags & kSat) {
        unsigned db = bitsOf(dt);
        if (isSigned(dt)) {
          int64_t lo = db >= 64 ? INT64_MIN : -(int64_t(1) << (db - 1));
          int64_t hi = db >= 64 ? INT64_MAX : (int64_t(1) << (db - 1)) - 1;
          int64_t i = isSigned(st) ? int64_t(x)
                                   : int64_t(std::min<uint64_t>(x, INT64_MAX));
          r = uint64_t(std::min(std::max(i, lo), hi));
        } else {
          uint64_t hi = db >= 64 ? UINT64_MAX : (uint64_t(1) << db) - 1;
          r = isSigned(st) && int64_t(x) < 0 ? 0 : std::min(x, hi);
        }
      } else {
        r = extend(dt, x);
      }
    }
    setReg(f, in.ops[0], r);
    return true;
  }

  static bool compare(const Inst &in, uint64_t a, uint64_t b) {
    Ty t = in.ty;
    if (isFloat(t)) {
      double x = readFloat(t, a), y = readFloat(t, b);
      bool unordered = std::isnan(x) || std::isnan(y);
      switch (in.cmp) {
      case Cmp::EQ:
        return !unordered && x == y;
      case Cmp::NE:
        return !unordered && x != y;
      case Cmp::LT:
        return !unordered && x < y;
      case Cmp::LE:
        return !unordered && x <= y;
      case Cmp::GT:
        return !unordered && x > y;
      case Cmp::GE:
        return !unordered && x >= y;
      case Cmp::EQU:
        return unordered || x == y;
      case Cmp::NEU:
        return unordered || x != y;
      case Cmp::LTU:
        return unordered || x < y;
      case Cmp::LEU:
        return unordered || x <= y;
      case Cmp::GTU:
        return unordered || x > y;
      case Cmp::GEU:
        return unordered || x >= y;
      case Cmp::NUM:
        return !unordered;
      case Cmp::NAN_:
        return unordered;
      default:
        return false;
      }
    }
    unsigned bits = bitsOf(t);
    int64_t sa = signExtend(a, bits), sb = signExtend(b, bits);
    uint64_t ua = truncBits(a, bits), ub = truncBits(b, bits);
    bool s = isSigned(t);
    switch (in.cmp) {
    case Cmp::EQ:
      return ua == ub;
    case Cmp::NE:
      return ua != ub;
    case Cmp::LT:
      return s ? sa < sb : ua < ub;
    case Cmp::LE:
      return s ? sa <= sb : ua <= ub;
    case Cmp::GT:
      return s ? sa > sb : ua > ub;
    case Cmp::GE:
      return s ? sa >= sb : ua >= ub;
    case Cmp::LO:
      return ua < ub;
    case Cmp::LS:
      return ua <= ub;
    case Cmp::HI:
      return ua > ub;
    case Cmp::HS:
      return ua >= ub;
    default:
      return false;
    }
  }

  /// PTX's canonical NaN (all exponent and mantissa bits set).
  template <typename F> static F canonicalNaN() {
    F f;
    if constexpr (sizeof(F) == 4) {
      uint32_t u = 0x7fffffffu;
      std::memcpy(&f, &u, 4);
    } else {
      uint64_t u = 0x7fffffffffffffffull;
      std::memcpy(&f, &u, 8);
    }
    return f;
  }

  /// `op` on x, y, z of float type F, in the current rounding mode; false
  /// for an operation PTX does not have on floats.
  template <typename F>
  static bool floatArith(Op op, bool propagateNaN, F x, F y, F z, F &o) {
    switch (op) {
    case Op::Add:
      o = x + y;
      return true;
    case Op::Sub:
      o = x - y;
      return true;
    case Op::Mul:
      o = x * y;
      return true;
    case Op::Fma:
    case Op::Mad:
      o = std::fma(x, y, z);
      return true;
    case Op::Div:
      o = x / y;
      return true;
    case Op::Min:
    case Op::Max:
      // PTX: a NaN operand gives the other one (.NaN: a NaN), two NaNs the
      // canonical NaN; -0 is less than +0.
      if (std::isnan(x) || std::isnan(y))
        o = propagateNaN || (std::isnan(x) && std::isnan(y)) ? canonicalNaN<F>()
            : std::isnan(x)                                  ? y
                                                             : x;
      else if (x == 0 && y == 0)
        o = (op == Op::Min) == bool(std::signbit(x)) ? x : y;
      else
        o = op == Op::Min ? std::fmin(x, y) : std::fmax(x, y);
      return true;
    case Op::Rcp:
      o = F(1) / x;
      return true;
    case Op::Sqrt:
      o = std::sqrt(x);
      return true;
    case Op::Rsqrt: // in double, then rounded once
      o = F(1.0 / std::sqrt(double(x)));
      return true;
    case Op::Ex2:
      o = std::exp2(x);
      return true;
    case Op::Lg2:
      o = std::log2(x);
      return true;
    case Op::Sin:
      o = std::sin(x);
      return true;
    case Op::Cos:
      o = std::cos(x);
      return true;
    case Op::Tanh:
      o = std::tanh(x);
      return true;
    case Op::Copysign: // copysign.f d, a, b: b's magnitude, a's sign
      o = std::copysign(y, x);
      return true;
    default:
      return false;
    }
  }

  /// Float arithmetic on f16 or bf16 values (.f16, .bf16), or on pairs of
  /// them (.f16x2, .bf16x2: the low and the high 16 bits of the register,
  /// each on its own). Each value is computed in double from the exact
  /// operands, then rounded to its type in the instruction's rounding mode.
  /// That is the correctly rounded result: the double is exact for mul, min
  /// and max, for f16 add and sub and for f16 fma (f16's exponents span too
  /// few bits to lose any), and where it is not (bf16 add, sub or fma of far
  /// apart exponents) rounding twice does no harm in add and sub (53 >= 2 * 8
  /// + 2 bits); a bf16 fma can differ when the double falls half-way between
  /// two bf16 values. A NaN result is the canonical 0x7fff. neg and abs on
  /// the sign bit.
  bool halfOp(Thread &t, Frame &f, const Inst &in, uint64_t a, uint64_t b,
              uint64_t c) {
    bool pair = in.ty == Ty::F16x2 || in.ty == Ty::BF16x2;
    Ty one = in.ty == Ty::F16 || in.ty == Ty::F16x2 ? Ty::F16 : Ty::BF16;
    uint64_t r = 0;
    for (unsigned shift = 0; shift < (pair ? 32u : 16u); shift += 16) {
      uint64_t x = (a >> shift) & 0xffff, o;
      if (in.op == Op::Neg) {
        o = x ^ 0x8000;
      } else if (in.op == Op::Abs) {
        o = x & 0x7fff;
      } else {
        RoundingScope rounding(in.rnd);
        double v = 0;
        if (!floatArith<double>(in.op, in.flags & kNaN, readFloat(one, x),
                                readFloat(one, (b >> shift) & 0xffff),
                                readFloat(one, (c >> shift) & 0xffff), v))
          return fault(t, "unsupported float operation");
        if (in.flags & kSat)
          v = std::isnan(v) ? 0.0 : std::fmin(std::fmax(v, 0.0), 1.0);
        o = std::isnan(v) ? 0x7fff : writeFloat(one, v) & 0xffff;
      }
      r |= o << shift;
    }
    setReg(f, in.ops[0], r);
    return true;
  }

  /// Float arithmetic of one or more operands in the instruction's type
  /// (f32 or f64); neg and abs on the sign bit, as PTX defines them.
  bool floatOp(Thread &t, Frame &f, const Inst &in) {
    unsigned n = in.numOps;
    uint64_t a = value(t, f, in.ops[1]);
    uint64_t b = n > 2 ? value(t, f, in.ops[2]) : 0;
    uint64_t c = n > 3 ? value(t, f, in.ops[3]) : 0;
    if (in.ty == Ty::F16 || in.ty == Ty::F16x2 || in.ty == Ty::BF16 ||
        in.ty == Ty::BF16x2)
      return halfOp(t, f, in, a, b, c);
    bool f32 = in.ty == Ty::F32;
    if (!f32 && in.ty != Ty::F64)
      return fault(t, "unsupported float type for this operation");
    uint64_t sign = f32 ? 0x80000000ull : 0x8000000000000000ull;
    uint64_t r;
    if (in.op == Op::Neg) {
      r = a ^ sign;
    } else if (in.op == Op::Abs) {
      r = a & ~sign & (f32 ? 0xffffffffull : ~0ull);
    } else {
      RoundingScope rounding(in.rnd);
      bool nan = in.flags & kNaN;
      bool ok;
      if (f32) {
        float o = 0;
        ok = floatArith<float>(in.op, nan, asF32(a), asF32(b), asF32(c), o);
        if (in.flags & kSat)
          o = std::isnan(o) ? 0.0f : std::fmin(std::fmax(o, 0.0f), 1.0f);
        r = fromF32(o);
      } else {
        double o = 0;
        ok = floatArith<double>(in.op, nan, asF64(a), asF64(b), asF64(c), o);
        r = fromF64(o);
      }
      if (!ok)
        return fault(t, "unsupported float operation");
    }
    setReg(f, in.ops[0], r);
    return true;
  }

  static uint64_t mulHigh(uint64_t a, uint64_t b, unsigned bits, bool s) {
    if (bits == 64) {
      if (s)
        return uint64_t((__int128(int64_t(a)) * __int128(int64_t(b))) >> 64);
      return uint64_t((unsigned __int128)a * b >> 64);
    }
    if (s)
      return uint64_t((signExtend(a, bits) * signExtend(b, bits)) >> bits);
    return (truncBits(a, bits) * truncBits(b, bits)) >> bits;
  }

  bool intOp(Thread &t, Frame &f, const Inst &in) {
    Ty ty = in.ty;
    unsigned bits = bitsOf(ty);
    bool s = isSigned(ty);
    unsigned n = in.numOps;
    uint64_t a = value(t, f, in.ops[1]);
    uint64_t b = n > 2 ? value(t, f, in.ops[2]) : 0;
    uint64_t c = n > 3 ? value(t, f, in.ops[3]) : 0;
    uint64_t r = 0;
    unsigned carryIn = (in.flags & kCarryIn) && t.carry ? 1 : 0;
    switch (in.op) {
    case Op::Add:
    case Op::Sub: {
      uint64_t x = truncBits(a, bits), y = truncBits(b, bits);
      if (in.flags & kSat) { // .s32 only
        int64_t v = in.op == Op::Add ? signExtend(x, 32) + signExtend(y, 32)
                                     : signExtend(x, 32) - signExtend(y, 32);
        r = uint64_t(
            std::min<int64_t>(std::max<int64_t>(v, INT32_MIN), INT32_MAX));
        break;
      }
      unsigned __int128 wide = in.op == Op::Add
                                   ? (unsigned __int128)x + y + carryIn
                                   : (unsigned __int128)x - y - carryIn;
      r = truncBits(uint64_t(wide), bits);
      if (in.flags & kCarryOut) {
        // carry: the sum overflowed; borrow: the difference went below 0.
        t.carry = in.op == Op::Add ? (wide >> bits) != 0
                                   : (unsigned __int128)y + carryIn > x;
      }
      break;
    }
    case Op::Mul:
    case Op::Mad: {
      unsigned __int128 product;
      if (in.flags & kModeWide) {
        uint64_t p = s ? uint64_t(signExtend(a, bits) * signExtend(b, bits))
                       : truncBits(a, bits) * truncBits(b, bits);
        r = truncBits(p + (in.op == Op::Mad ? c : 0), 2 * bits);
        break;
      }
      uint64_t p =
          in.flags & kModeHi ? mulHigh(a, b, bits, s) : truncBits(a * b, bits);
      if (in.op == Op::Mul) {
        r = p;
        break;
      }
      if (in.flags & kSat) { // mad.hi.sat.s32
        int64_t v = signExtend(p, 32) + signExtend(c, 32);
        r = uint64_t(
            std::min<int64_t>(std::max<int64_t>(v, INT32_MIN), INT32_MAX));
        break;
      }
      product = (unsigned __int128)p + truncBits(c, bits) + carryIn;
      r = truncBits(uint64_t(product), bits);
      if (in.flags & kCarryOut)
        t.carry = (product >> bits) != 0;
      break;
    }
    case Op::Div:
    case Op::Rem: {
      if (truncBits(b, bits) == 0) {
        r = truncBits(~uint64_t(0), bits);
        break;
      }
      if (s) {
        int64_t x = signExtend(a, bits), y = signExtend(b, bits);
        if (y == -1)
          r = in.op == Op::Div ? uint64_t(-uint64_t(x)) : 0;
        else
          r = uint64_t(in.op == Op::Div ? x / y : x % y);
      } else {
        uint64_t x = truncBits(a, bits), y = truncBits(b, bits);
        r = in.op == Op::Div ? x / y : x % y;
      }
      r = truncBits(r, bits);
      break;
    }
    case Op::Min:
    case Op::Max: {
      bool less = s ? signExtend(a, bits) < signExtend(b, bits)
                    : truncBits(a, bits) < truncBits(b, bits);
      r = (in.op == Op::Min) == less ? a : b;
      r = truncBits(r, bits);
      break;
    }
    case Op::Neg:
      r = truncBits(uint64_t(0) - a, bits);
      break;
    case Op::Abs: {
      int64_t x = signExtend(a, bits);
      r = truncBits(uint64_t(x < 0 ? -x : x), bits);
      break;
    }
    case Op::And:
      r = a & b;
      break;
    case Op::Or:
      r = a | b;
      break;
    case Op::Xor:
      r = a ^ b;
      break;
    case Op::Not:
      r = ty == Ty::Pred ? (a & 1) ^ 1 : ~a;
      break;
    case Op::Cnot:
      r = truncBits(a, bits) == 0 ? 1 : 0;
      break;
    case Op::Shl: {
      uint64_t k = truncBits(b, 32);
      r = k >= bits ? 0 : truncBits(a << k, bits);
      break;
    }
    case Op::Shr: {
      uint64_t k = truncBits(b, 32);
      if (s)
        r = uint64_t(signExtend(a, bits) >> std::min<uint64_t>(k, bits - 1));
      else
        r = k >= bits ? 0 : truncBits(a, bits) >> k;
      r = truncBits(r, bits);
      break;
    }
    case Op::Bfe: {
      // PTX: bits [pos, pos + len) of a; above them the field's sign bit
      // (.s) or zeros (.u); positions past the type's width read as sign.
      unsigned msb = bits - 1, pos = unsigned(b & 0xff),
               len = unsigned(c & 0xff);
      uint64_t x = truncBits(a, bits);
      unsigned avail = pos <= msb ? msb + 1 - pos : 0;
      unsigned take = std::min(len, avail);
      uint64_t field = take ? truncBits(x >> pos, take) : 0;
      bool sign = s && len != 0 && ((x >> std::min(pos + len - 1, msb)) & 1);
      if (sign && take < 64)
        field |= ~uint64_t(0) << take;
      r = field;
      break;
    }
    case Op::Bfi: {
      uint64_t d4 = value(t, f, in.ops[4]);
      unsigned pos = unsigned(c & 0xff), len = unsigned(d4 & 0xff);
      r = truncBits(b, bits);
      for (unsigned i = 0; i < len && pos + i < bits; ++i) {
        uint64_t bit = (a >> i) & 1;
        r = (r & ~(uint64_t(1) << (pos + i))) | (bit << (pos + i));
      }
      break;
    }
    case Op::Prmt: {
      uint64_t bytes = truncBits(a, 32) | (truncBits(b, 32) << 32);
      uint32_t sel = uint32_t(c), out = 0;
      for (unsigned k = 0; k < 4; ++k) {
        unsigned nib = (sel >> (4 * k)) & 0xf;
        uint32_t byte = uint32_t(bytes >> (8 * (nib & 7))) & 0xff;
        if (nib & 8)
          byte = (byte & 0x80) ? 0xff : 0;
        out |= byte << (8 * k);
      }
      r = out;
      break;
    }
    case Op::Shf: {
      uint64_t lo = truncBits(a, 32), hi = truncBits(b, 32);
      uint64_t k = truncBits(c, 32);
      k = in.flags & kShfClamp ? std::min<uint64_t>(k, 32) : k & 31;
      uint64_t both = (hi << 32) | lo;
      r = in.flags & kShfRight ? truncBits(both >> k, 32)
                               : truncBits((both << k) >> 32, 32);
      break;
    }
    case Op::Clz: {
      uint64_t x = truncBits(a, bits);
      unsigned z = 0;
      for (int i = int(bits) - 1; i >= 0 && !((x >> i) & 1); --i)
        ++z;
      r = z;
      break;
    }
    case Op::Popc:
      r = uint64_t(__builtin_popcountll(truncBits(a, bits)));
      break;
    case Op::Brev: {
      uint64_t x = truncBits(a, bits);
      r = 0;
      for (unsigned i = 0; i < bits; ++i)
        r |= ((x >> i) & 1) << (bits - 1 - i);
      break;
    }
    default:
      return fault(t, "unsupported integer operation");
    }
    if (!(in.flags & kModeWide))
      r = truncBits(r, bits);
    setReg(f, in.ops[0], r);
    return true;
  }

  bool call(Thread &t, const Inst &in) {
    Frame &caller = t.frames.back();
    const CallSite &site = caller.fn->calls[in.call];
    const Function &callee = module_.functions[site.callee];
    if (!callee.defined)
      return fault(t, "call of '" + callee.name + "', which has no body");
    if (t.frames.size() > 64)
      return fault(t, "call depth over 64");
    Frame f;
    f.fn = &callee;
    f.callSite = in.call;
    f.regs.assign(callee.numRegs, 0);
    f.params.assign(std::max<uint32_t>(callee.paramBytes, 1), 0);
    f.local.assign(callee.localBytes, 0xff);
    for (size_t i = 0; i < site.argOffsets.size(); ++i)
      std::memcpy(f.params.data() + callee.params[i].offset,
                  caller.params.data() + site.argOffsets[i], site.argSizes[i]);
    ++caller.pc;
    t.frames.push_back(std::move(f));
    return true;
  }

  void ret(Thread &t) {
    if (t.frames.size() == 1) {
      t.state = Thread::Done;
      return;
    }
    Frame done = std::move(t.frames.back());
    t.frames.pop_back();
    Frame &caller = t.frames.back();
    const CallSite &site = caller.fn->calls[done.callSite];
    for (size_t i = 0; i < site.resultOffsets.size(); ++i)
      std::memcpy(caller.params.data() + site.resultOffsets[i],
                  done.params.data() + done.fn->results[i].offset,
                  site.resultSizes[i]);
  }

  /// Runs `t` until it waits or ends. False on error.
  bool step(Thread &t) {
    // A thread that waits for another by polling memory must let it run:
    // after this many instructions the thread yields (PTX guarantees
    // forward progress to the threads of a block).
    constexpr uint64_t kSlice = uint64_t(1) << 20;
    // More than this in one block is taken for a hang.
    constexpr uint64_t kBlockLimit = uint64_t(1) << 34;
    uint64_t until = executed + kSlice;
    t.spinning = false;
    while (t.state == Thread::Running) {
      if (executed >= until) {
        if (executed - blockStart_ > kBlockLimit)
          return fault(t, "no end after " + std::to_string(kBlockLimit) +
                              " instructions in this block");
        return true;
      }
      Frame &f = t.frames.back();
      const Inst &in = f.fn->code[f.pc];
      ++executed;
      if (in.guard >= 0 && ((f.regs[in.guard] & 1) != 0) == in.guardNegated) {
        ++f.pc;
        continue;
      }
      switch (in.op) {
      case Op::Nop:
        break;
      case Op::Fence:
        if (races_)
          races_->fence(t.linear);
        break;
      case Op::Atom:
      case Op::Red:
        if (!atomic(t, f, in))
          return false;
        if (yieldToSpin(t))
          return true;
        break;
      case Op::GridDepWait:
        t.waited = true;
        break;
      case Op::GridDepTrigger:
        if (dependent_ && !t.waited)
          dependent_->triggeredEarly = true;
        break;
      case Op::Mov:
        mov(t, f, in);
        break;
      case Op::Ld:
      case Op::St:
        if (!ldst(t, f, in))
          return false;
        if (yieldToSpin(t))
          return true;
        break;
      case Op::Cvta:
      case Op::CvtaTo: {
        uint64_t v = value(t, f, in.ops[1]);
        uint64_t base = in.space == Space::Shared
                            ? reinterpret_cast<uint64_t>(shared_.data())
                        : in.space == Space::Local
                            ? reinterpret_cast<uint64_t>(f.local.data())
                            : 0;
        setReg(f, in.ops[0], in.op == Op::Cvta ? v + base : v - base);
        break;
      }
      case Op::Cvt:
        cvt(t, f, in);
        break;
      case Op::Prefetch: {
        const Operand &addr = in.ops[0];
        uint64_t a = addr.imm + (addr.reg >= 0 ? f.regs[addr.reg] : 0);
        uint64_t n = in.numOps > 1 ? truncBits(value(t, f, in.ops[1]), 32) : 1;
        if (addr.kind != Operand::Addr)
          return fault(t, "expected an address operand");
        if (in.numOps > 1 && (n == 0 || n % 16 != 0 || a % 16 != 0))
          return fault(t, "cp.async.bulk.prefetch of " + std::to_string(n) +
                              " bytes: address and size must be multiples "
                              "of 16, size not 0");
        if (!memory(t, f, in.space, a, n, Prefetch))
          return false;
        break;
      }
      case Op::Setp: {
        bool p =
            compare(in, value(t, f, in.ops[(in.flags & kSecondDst) ? 2 : 1]),
                    value(t, f, in.ops[(in.flags & kSecondDst) ? 3 : 2]));
        bool q = !p;
        unsigned cIndex = (in.flags & kSecondDst) ? 4 : 3;
        if (in.boolOp != BoolOp::None) {
          bool c = value(t, f, in.ops[cIndex]) & 1;
          auto combine = [&](bool x) {
            return in.boolOp == BoolOp::And  ? x && c
                   : in.boolOp == BoolOp::Or ? x || c
                                             : x != c;
          };
          p = combine(p);
          q = combine(q);
        }
        setReg(f, in.ops[0], p);
        if (in.flags & kSecondDst)
          setReg(f, in.ops[1], q);
        break;
      }
      case Op::Selp:
        setReg(f, in.ops[0],
               truncBits((value(t, f, in.ops[3]) & 1) ? value(t, f, in.ops[1])
                                                      : value(t, f, in.ops[2]),
                         bitsOf(in.ty)));
        break;
      case Op::Bra:
        f.pc = uint32_t(in.ops[0].imm);
        continue;
      case Op::Ret:
        ret(t);
        continue;
      case Op::Exit:
        t.state = Thread::Done;
        continue;
      case Op::Bar:
        if (t.frames.size() > 1)
          return fault(t, "bar.sync inside a called function");
        t.state = Thread::AtBarrier;
        return true;
      case Op::Shfl:
        t.shuffleValue =
            uint32_t(value(t, f, in.ops[(in.flags & kSecondDst) ? 2 : 1]));
        t.state = Thread::AtShuffle;
        return true;
      case Op::Mma: // runs when the warp's 32 lanes are there (mmaWarp)
        t.state = Thread::AtShuffle;
        return true;
      case Op::Call:
        if (!call(t, in))
          return false;
        continue;
      default:
        if (isFloat(in.ty)) {
          if (!floatOp(t, f, in))
            return false;
        } else if (!intOp(t, f, in)) {
          return false;
        }
        break;
      }
      ++t.frames.back().pc;
    }
    return true;
  }

  /// After a strong load: true when the thread is to yield (see
  /// kSpinYield), its pc past the load.
  bool yieldToSpin(Thread &t) {
    if (!spinYield_)
      return false;
    spinYield_ = false;
    t.spinning = true;
    ++t.frames.back().pc;
    return true;
  }

  const Module &module_;
  const Function &kernel_;
  const LaunchDims &dims_;
  const std::vector<uint8_t> &params_;
  const MemoryMap &memory_;
  std::string &error_;
  DependentLaunch *dependent_;
  ByteRanges *written_, *read_;
  GlobalRaces *races_;
  bool spinYield_ = false; // the thread's last load asks it to yield
  unsigned threadsPerBlock_ = 0;
  size_t sharedBytes_ = 0;
  unsigned ctaid_[3] = {0, 0, 0};
  std::vector<uint8_t> shared_;
  std::vector<Thread> threads_;
  uint64_t clock_ = 0;
  uint64_t lastStart_ = 0, lastEnd_ = 0; // a range of memory_
  uint64_t blockSerial_ = 0, barriers_ = 0, blockStart_ = 0;
  std::vector<ByteAccess> words_; // per byte of shared_

public:
  uint64_t executed = 0;
};

} // namespace

bool launch(const Module &module, const Function &kernel,
            const LaunchDims &dims, void **params, const MemoryMap &memory,
            std::string &error, uint64_t *executed, DependentLaunch *dependent,
            ByteRanges *written, GlobalRaces *races, ByteRanges *read) {
  unsigned threads = dims.block[0] * dims.block[1] * dims.block[2];
  if (threads == 0 || threads > 1024 ||
      dims.grid[0] * dims.grid[1] * dims.grid[2] == 0) {
    error = "kernel " + kernel.name + ": invalid launch dimensions";
    return false;
  }
  if (kernel.maxThreads && threads > kernel.maxThreads) {
    error = "kernel " + kernel.name + ": " + std::to_string(threads) +
            " threads per block, over its .maxntid " +
            std::to_string(kernel.maxThreads);
    return false;
  }
  std::vector<uint8_t> bytes(kernel.incomingBytes, 0);
  for (size_t i = 0; i < kernel.params.size(); ++i) {
    if (!params || !params[i]) {
      error = "kernel " + kernel.name + ": parameter " + std::to_string(i) +
              " not given";
      return false;
    }
    std::memcpy(bytes.data() + kernel.params[i].offset, params[i],
                kernel.params[i].size);
  }
  if (races)
    races->beginLaunch(dims.grid);
  BlockRunner runner(module, kernel, dims, bytes, memory, error, dependent,
                     written, read, races);
  for (unsigned z = 0; z < dims.grid[2]; ++z)
    for (unsigned y = 0; y < dims.grid[1]; ++y)
      for (unsigned x = 0; x < dims.grid[0]; ++x)
        if (!runner.run(x, y, z))
          return false;
  if (executed)
    *executed += runner.executed;
  return true;
}

void advanceRunning(std::vector<KernelWrites> &running, KernelWrites done,
                    bool overlapsBefore) {
  if (!overlapsBefore)
    running.clear();
  running.insert(running.begin(), std::move(done));
}

} // namespace ptxsim
} // namespace zamba2
