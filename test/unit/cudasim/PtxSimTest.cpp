//===- PtxSimTest.cpp - The PTX interpreter on hand-written kernels -------===//
//
// Each kernel's expected output is derived by hand from the PTX ISA's
// definition of its instructions (shuffle lanes, barrier order, bit-field
// and carry arithmetic, rounding modes), not taken from the interpreter.
// The failure tests check that a wrong kernel is reported, with its name,
// block, thread and line, instead of running on.
//
//===----------------------------------------------------------------------===//
#include "runtime/cudasim/Ptx.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace zamba2::ptxsim;

namespace {

const char *kHeader = ".version 8.0\n.target sm_90\n.address_size 64\n";

std::unique_ptr<Module> parse(const std::string &body) {
  std::string error;
  auto m = parsePtx(kHeader + body, error);
  EXPECT_TRUE(m) << error;
  return m;
}

/// Launches `name` with one pointer parameter per buffer (each registered
/// as device memory, and tracked by `races` where given, which then checks
/// the blocks for races); returns the error text ("" on success).
template <typename T>
std::string run(const Module &m, const char *name, unsigned threads,
                std::vector<std::vector<T> *> buffers, unsigned blocks = 1,
                GlobalRaces *races = nullptr) {
  MemoryMap memory;
  std::vector<T *> pointers;
  std::vector<void *> params;
  for (auto *b : buffers) {
    memory.add(b->data(), b->size() * sizeof(T));
    if (races)
      races->track(reinterpret_cast<uint64_t>(b->data()));
    pointers.push_back(b->data());
  }
  for (auto &p : pointers)
    params.push_back(&p);
  LaunchDims dims;
  dims.grid[0] = blocks;
  dims.block[0] = threads;
  const Function *k = m.kernel(name);
  if (!k)
    return "no kernel";
  std::string error;
  launch(m, *k, dims, params.data(), memory, error, nullptr, nullptr, nullptr,
         races);
  return error;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(PtxSim, ButterflyShuffleSumsEachWarp) {
  // out[tid] = sum over tid's warp of the thread ids (bfly 16..1).
  auto m = parse(R"(
.visible .entry warp_sum(.param .u64 out)
{
  .reg .b32 %r<8>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, %tid.x;
  shfl.sync.bfly.b32 %r2, %r1, 16, 31, -1;
  add.s32 %r1, %r1, %r2;
  shfl.sync.bfly.b32 %r2, %r1, 8, 31, -1;
  add.s32 %r1, %r1, %r2;
  shfl.sync.bfly.b32 %r2, %r1, 4, 31, -1;
  add.s32 %r1, %r1, %r2;
  shfl.sync.bfly.b32 %r2, %r1, 2, 31, -1;
  add.s32 %r1, %r1, %r2;
  shfl.sync.bfly.b32 %r2, %r1, 1, 31, -1;
  add.s32 %r1, %r1, %r2;
  mov.u32 %r3, %tid.x;
  mul.wide.u32 %rd2, %r3, 4;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3], %r1;
  ret;
}
)");
  std::vector<uint32_t> out(64, 0);
  ASSERT_EQ(run<uint32_t>(*m, "warp_sum", 64, {&out}), "");
  for (unsigned i = 0; i < 32; ++i)
    EXPECT_EQ(out[i], 496u) << i; // 0 + 1 + ... + 31
  for (unsigned i = 32; i < 64; ++i)
    EXPECT_EQ(out[i], 1520u) << i; // 32 + ... + 63
}

TEST(PtxSim, ShuffleDownClampsAtTheSegmentEnd) {
  // shfl.down by 1 in segments of 8 lanes (c = (32 - 8) << 8 | 7): the
  // last lane of each segment keeps its own value and gets p = false.
  auto m = parse(R"(
.visible .entry down(.param .u64 out, .param .u64 valid)
{
  .reg .b32 %r<8>;
  .reg .b64 %rd<8>;
  .reg .pred %p<2>;
  ld.param.u64 %rd1, [out];
  ld.param.u64 %rd4, [valid];
  mov.u32 %r1, %tid.x;
  mul.lo.u32 %r1, %r1, 10;
  shfl.sync.down.b32 %r2|%p1, %r1, 1, 6151, -1;
  selp.u32 %r4, 1, 0, %p1;
  mov.u32 %r3, %tid.x;
  mul.wide.u32 %rd2, %r3, 4;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3], %r2;
  add.s64 %rd5, %rd4, %rd2;
  st.global.u32 [%rd5], %r4;
  ret;
}
)");
  std::vector<uint32_t> out(32, 0), valid(32, 9);
  ASSERT_EQ(run<uint32_t>(*m, "down", 32, {&out, &valid}), "");
  for (unsigned i = 0; i < 32; ++i) {
    bool last = i % 8 == 7;
    EXPECT_EQ(out[i], last ? 10 * i : 10 * (i + 1)) << i;
    EXPECT_EQ(valid[i], last ? 0u : 1u) << i;
  }
}

TEST(PtxSim, BarrierOrdersSharedMemory) {
  // Two blocks of 128 threads reverse their slice through shared memory.
  auto m = parse(R"(
.shared .align 4 .b8 tile[512];
.visible .entry reverse(.param .u64 in, .param .u64 out)
{
  .reg .b32 %r<8>;
  .reg .b64 %rd<12>;
  ld.param.u64 %rd1, [in];
  ld.param.u64 %rd2, [out];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %ctaid.x;
  mad.lo.s32 %r3, %r2, 128, %r1;
  mul.wide.u32 %rd3, %r3, 4;
  add.s64 %rd4, %rd1, %rd3;
  ld.global.f32 %r4, [%rd4];
  mul.wide.u32 %rd5, %r1, 4;
  mov.u64 %rd6, tile;
  add.s64 %rd7, %rd6, %rd5;
  st.shared.f32 [%rd7], %r4;
  bar.sync 0;
  sub.s32 %r5, 127, %r1;
  mul.wide.u32 %rd8, %r5, 4;
  add.s64 %rd9, %rd6, %rd8;
  ld.shared.f32 %r6, [%rd9];
  add.s64 %rd10, %rd2, %rd3;
  st.global.f32 [%rd10], %r6;
  ret;
}
)");
  std::vector<float> in(256), out(256, 0);
  for (unsigned i = 0; i < 256; ++i)
    in[i] = float(i);
  ASSERT_EQ(run<float>(*m, "reverse", 128, {&in, &out}, 2), "");
  for (unsigned i = 0; i < 256; ++i)
    EXPECT_EQ(out[i], float(i / 128 * 128 + 127 - i % 128)) << i;
}

TEST(PtxSim, SharedMemoryRacesAreErrors) {
  // Each thread stores its word, then (without a barrier) reads its
  // neighbour's, or (WRITE_ALL) every thread stores to word 0. On a GPU the
  // order of such accesses is not defined; here thread 1's store comes after
  // thread 0 touched the word, which is reported either way.
  auto kernel = [](bool barrier, bool writeAll) {
    return std::string(R"(
.shared .align 4 .b8 tile[256];
.visible .entry race(.param .u64 out)
{
  .reg .b32 %r<8>;
  .reg .b64 %rd<12>;
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, %tid.x;
  mov.u64 %rd6, tile;
  mul.wide.u32 %rd5, %r1, )") +
           (writeAll ? "0" : "4") + R"(;
  add.s64 %rd7, %rd6, %rd5;
  st.shared.u32 [%rd7], %r1;
  )" + (barrier ? "bar.sync 0;" : "") +
           R"(
  add.s32 %r2, %r1, 1;
  and.b32 %r2, %r2, 63;
  mul.wide.u32 %rd8, %r2, 4;
  add.s64 %rd9, %rd6, %rd8;
  ld.shared.u32 %r3, [%rd9];
  mul.wide.u32 %rd10, %r1, 4;
  add.s64 %rd11, %rd1, %rd10;
  st.global.u32 [%rd11], %r3;
  ret;
}
)";
  };
  std::vector<uint32_t> out(64, 0);
  auto m = parse(kernel(/*barrier=*/true, /*writeAll=*/false));
  ASSERT_EQ(run<uint32_t>(*m, "race", 64, {&out}), "");
  for (uint32_t i = 0; i < 64; ++i)
    EXPECT_EQ(out[i], (i + 1) % 64);
  m = parse(kernel(/*barrier=*/false, /*writeAll=*/false));
  EXPECT_NE(run<uint32_t>(*m, "race", 64, {&out})
                .find("thread (1,0,0), PTX line 15: shared-memory race: "
                      "store to byte 4, which thread 0 read since the last "
                      "barrier"),
            std::string::npos);
  m = parse(kernel(/*barrier=*/true, /*writeAll=*/true));
  EXPECT_NE(run<uint32_t>(*m, "race", 64, {&out})
                .find("thread (1,0,0), PTX line 15: shared-memory race: "
                      "store to byte 0, which thread 0 wrote since the last "
                      "barrier"),
            std::string::npos);
}

TEST(PtxSim, IntegerBitOperations) {
  auto m = parse(R"(
.visible .entry ints(.param .u64 out)
{
  .reg .b32 %r<40>;
  .reg .b64 %rd<20>;
  ld.param.u64 %rd1, [out];
  bfe.s32 %r1, 240, 4, 4;
  st.global.u32 [%rd1], %r1;
  bfe.u32 %r2, 240, 4, 4;
  st.global.u32 [%rd1+4], %r2;
  prmt.b32 %r3, 50462976, 117835012, 20800;
  st.global.u32 [%rd1+8], %r3;
  shf.l.wrap.b32 %r4, -2147483648, 1, 1;
  st.global.u32 [%rd1+12], %r4;
  add.cc.u32 %r5, -1, 1;
  addc.u32 %r6, 1, 2;
  st.global.u32 [%rd1+16], %r5;
  st.global.u32 [%rd1+20], %r6;
  mul.hi.u32 %r7, -2147483648, 4;
  st.global.u32 [%rd1+24], %r7;
  div.s32 %r8, -7, 2;
  st.global.u32 [%rd1+28], %r8;
  rem.s32 %r9, -7, 2;
  st.global.u32 [%rd1+32], %r9;
  shr.s32 %r10, -8, 1;
  st.global.u32 [%rd1+36], %r10;
  sub.cc.u32 %r11, 0, 1;
  subc.u32 %r12, 5, 1;
  st.global.u32 [%rd1+40], %r11;
  st.global.u32 [%rd1+44], %r12;
  mov.b64 %rd2, 1;
  clz.b64 %r13, %rd2;
  st.global.u32 [%rd1+48], %r13;
  mul.wide.s32 %rd3, -2, 3;
  cvt.u32.u64 %r14, %rd3;
  st.global.u32 [%rd1+52], %r14;
  shr.u64 %rd4, %rd3, 32;
  cvt.u32.u64 %r15, %rd4;
  st.global.u32 [%rd1+56], %r15;
  mov.b64 %rd5, 81985529216486895;
  mov.b64 {%r16, %r17}, %rd5;
  st.global.u32 [%rd1+60], %r16;
  st.global.u32 [%rd1+64], %r17;
  bfe.s32 %r18, 64, 6, 8;
  st.global.u32 [%rd1+68], %r18;
  ret;
}
)");
  std::vector<uint32_t> out(18, 0xdeadbeef);
  ASSERT_EQ(run<uint32_t>(*m, "ints", 1, {&out}), "");
  EXPECT_EQ(int32_t(out[0]), -1); // bits 4..7 of 0xf0, sign-extended
  EXPECT_EQ(out[1], 15u);
  // prmt selectors 0, 4, 1, 5 of bytes {07 06 05 04 | 03 02 01 00}
  EXPECT_EQ(out[2], 0x05010400u);
  // {b=1 : a=0x80000000} << 1, upper half: 0b11
  EXPECT_EQ(out[3], 3u);
  EXPECT_EQ(out[4], 0u);          // 0xffffffff + 1 carries
  EXPECT_EQ(out[5], 4u);          // 1 + 2 + carry
  EXPECT_EQ(out[6], 2u);          // 2^31 * 4 = 2^33: high word 2
  EXPECT_EQ(int32_t(out[7]), -3); // truncating division
  EXPECT_EQ(int32_t(out[8]), -1);
  EXPECT_EQ(int32_t(out[9]), -4);
  EXPECT_EQ(out[10], 0xffffffffu); // 0 - 1 borrows
  EXPECT_EQ(out[11], 3u);          // 5 - 1 - borrow
  EXPECT_EQ(out[12], 63u);
  EXPECT_EQ(out[13], 0xfffffffau); // -6, low word
  EXPECT_EQ(out[14], 0xffffffffu); // -6, high word
  EXPECT_EQ(out[15], 0x89abcdefu); // 0x0123456789abcdef unpacked
  EXPECT_EQ(out[16], 0x01234567u);
  EXPECT_EQ(out[17], 1u); // bits 6..13 of 64: 1, its sign bit (13) clear
}

TEST(PtxSim, FloatRoundingAndComparisons) {
  auto m = parse(R"(
.visible .entry floats(.param .u64 out)
{
  .reg .b32 %r<40>;
  .reg .f32 %f<20>;
  .reg .b16 %rs<4>;
  .reg .pred %p<4>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [out];
  cvt.rn.bf16.f32 %rs1, 0f3F808000;
  cvt.u32.u16 %r1, %rs1;
  st.global.u32 [%rd1], %r1;
  cvt.rn.bf16.f32 %rs2, 0f3F818000;
  cvt.u32.u16 %r2, %rs2;
  st.global.u32 [%rd1+4], %r2;
  cvt.rni.s32.f32 %r3, 0f40200000;
  st.global.u32 [%rd1+8], %r3;
  cvt.rni.s32.f32 %r4, 0f40600000;
  st.global.u32 [%rd1+12], %r4;
  cvt.rzi.s32.f32 %r5, 0fC02CCCCD;
  st.global.u32 [%rd1+16], %r5;
  cvt.rmi.s32.f32 %r6, 0fC02CCCCD;
  st.global.u32 [%rd1+20], %r6;
  cvt.rzi.s32.f32 %r7, 0f501502F9;
  st.global.u32 [%rd1+24], %r7;
  cvt.rzi.s32.f32 %r8, 0f7FC00000;
  st.global.u32 [%rd1+28], %r8;
  add.rn.f32 %f1, 0fBF800000, 0fB0800000;
  st.global.f32 [%rd1+32], %f1;
  add.rm.f32 %f2, 0fBF800000, 0fB0800000;
  st.global.f32 [%rd1+36], %f2;
  add.rp.f32 %f3, 0f3F800000, 0f30800000;
  st.global.f32 [%rd1+40], %f3;
  setp.ltu.f32 %p1, 0f7FC00000, 0f3F800000;
  selp.u32 %r9, 1, 0, %p1;
  st.global.u32 [%rd1+44], %r9;
  setp.lt.f32 %p2, 0f7FC00000, 0f3F800000;
  selp.u32 %r10, 1, 0, %p2;
  st.global.u32 [%rd1+48], %r10;
  max.NaN.f32 %f4, 0f7FC00000, 0f3F800000;
  st.global.f32 [%rd1+52], %f4;
  max.f32 %f5, 0f7FC00000, 0f3F800000;
  st.global.f32 [%rd1+56], %f5;
  fma.rn.f32 %f6, 0f3F800001, 0f3F800001, 0fBF800002;
  st.global.f32 [%rd1+60], %f6;
  mul.rn.f32 %f7, 0f3F800001, 0f3F800001;
  sub.rn.f32 %f8, %f7, 0f3F800002;
  st.global.f32 [%rd1+64], %f8;
  cvt.f32.bf16 %f9, %rs2;
  st.global.f32 [%rd1+68], %f9;
  ret;
}
)");
  std::vector<float> out(18, -7.0f);
  ASSERT_EQ(run<float>(*m, "floats", 1, {&out}), "");
  auto u = [&](int i) { return bits(out[i]); };
  // 1 + 2^-8 lies halfway between bf16 1.0 and 1 + 2^-7: even is 1.0.
  EXPECT_EQ(u(0), 0x3F80u);
  // 1 + 3 * 2^-8: halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(u(1), 0x3F82u);
  EXPECT_EQ(int32_t(u(2)), 2);         // 2.5 to nearest even
  EXPECT_EQ(int32_t(u(3)), 4);         // 3.5
  EXPECT_EQ(int32_t(u(4)), -2);        // -2.7 toward zero
  EXPECT_EQ(int32_t(u(5)), -3);        // -2.7 toward -inf
  EXPECT_EQ(int32_t(u(6)), INT32_MAX); // 1e10 saturates
  EXPECT_EQ(u(7), 0u);                 // NaN converts to 0
  EXPECT_EQ(out[8], -1.0f);            // -1 - 2^-30 to nearest
  EXPECT_EQ(u(9), 0xBF800001u);        // toward -inf: the next float below -1
  EXPECT_EQ(u(10), 0x3F800001u);       // toward +inf: the next float above 1
  EXPECT_EQ(u(11), 1u);                // NaN <u 1
  EXPECT_EQ(u(12), 0u);                // NaN < 1 is false
  EXPECT_TRUE(std::isnan(out[13]));
  EXPECT_EQ(out[14], 1.0f);
  // (1 + 2^-23)^2 - (1 + 2^-22) = 2^-46: exact with one rounding (fma),
  // lost when the product is rounded first.
  EXPECT_EQ(out[15], std::ldexp(1.0f, -46));
  EXPECT_EQ(out[16], 0.0f);
  EXPECT_EQ(out[17], 1.015625f);
}

TEST(PtxSim, CallPassesParametersAndResults) {
  auto m = parse(R"(
.func (.param .b64 ret0) twice_plus(.param .b64 a, .param .b64 b)
{
  .reg .b64 %rd<4>;
  ld.param.b64 %rd1, [a];
  ld.param.b64 %rd2, [b];
  shl.b64 %rd3, %rd1, 1;
  add.s64 %rd3, %rd3, %rd2;
  st.param.b64 [ret0], %rd3;
  ret;
}
.visible .entry caller(.param .u64 out)
{
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [out];
  mov.u64 %rd2, 20;
  {
  .param .b64 param0;
  .param .b64 param1;
  .param .b64 retval0;
  st.param.b64 [param0], %rd2;
  st.param.b64 [param1], 2;
  call.uni (retval0), twice_plus, (param0, param1);
  ld.param.b64 %rd3, [retval0];
  }
  st.global.u64 [%rd1], %rd3;
  ret;
}
)");
  std::vector<uint64_t> out(1, 0);
  ASSERT_EQ(run<uint64_t>(*m, "caller", 1, {&out}), "");
  EXPECT_EQ(out[0], 42u);
}

/// A kernel `name` of one parameter, out, whose threads run `body` with
/// %r1 = tid.x and %rd3 = &out[tid] (u32 elements); %r2 is free.
std::string outTidKernel(const std::string &name, const std::string &body) {
  return "\n.visible .entry " + name + R"((.param .u64 out)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd2, %r1, 4;
  add.s64 %rd3, %rd1, %rd2;
)" + body +
         "  ret;\n}\n";
}

TEST(PtxSim, OutOfBoundsLoadIsAnError) {
  auto m = parse(outTidKernel("oob", R"(  ld.global.u32 %r2, [%rd3];
  st.global.u32 [%rd3], %r2;
)"));
  std::vector<uint32_t> out(16, 0); // 32 threads read 32 elements
  std::string error = run<uint32_t>(*m, "oob", 32, {&out});
  EXPECT_NE(error.find("kernel oob block (0,0,0) thread (16,0,0), PTX line 13"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("global load of 4 bytes"), std::string::npos) << error;
}

TEST(PtxSim, PrefetchAddressesAreChecked) {
  // Prefetches change nothing, but a range outside the buffer or a bulk
  // prefetch off its 16-byte granule is an address bug.
  auto kernel = [](const char *offset, const char *bytes) {
    return std::string(R"(
.visible .entry pf(.param .u64 buf)
{
  .reg .b32 %r<2>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [buf];
  add.s64 %rd2, %rd1, )") +
           offset + R"(;
  mov.u32 %r1, )" +
           bytes + R"(;
  cp.async.bulk.prefetch.L2.global [%rd2], %r1;
  prefetch.global.L2 [%rd1+60];
  ret;
}
)";
  };
  std::vector<uint32_t> buf(16); // 64 bytes
  auto m = parse(kernel("16", "48"));
  EXPECT_EQ(run<uint32_t>(*m, "pf", 1, {&buf}), "");
  m = parse(kernel("16", "64"));
  EXPECT_NE(
      run<uint32_t>(*m, "pf", 1, {&buf}).find("global prefetch of 64 bytes at"),
      std::string::npos);
  m = parse(kernel("8", "16"));
  EXPECT_NE(run<uint32_t>(*m, "pf", 1, {&buf})
                .find("cp.async.bulk.prefetch of 16 bytes: address and size "
                      "must be multiples of 16"),
            std::string::npos);
}

TEST(PtxSim, ByteRangesMergeAndOverlap) {
  ByteRanges r;
  r.add(100, 4);
  r.add(108, 4);
  EXPECT_FALSE(r.overlaps(104, 4)); // the gap
  EXPECT_TRUE(r.overlaps(103, 2));
  EXPECT_TRUE(r.overlaps(96, 5));
  EXPECT_FALSE(r.overlaps(96, 4));
  EXPECT_FALSE(r.overlaps(112, 8));
  r.add(104, 4); // fills the gap: one range [100, 112)
  EXPECT_TRUE(r.overlaps(104, 1));
  EXPECT_TRUE(r.overlaps(111, 1));
  EXPECT_FALSE(r.overlaps(112, 1));
  r.clear();
  EXPECT_FALSE(r.overlaps(100, 12));
}

TEST(PtxSim, ByteRangesGrowFromTheLastRange) {
  // Adds within or right after the range the last add went to take a
  // shorter way; the set is the same.
  ByteRanges r;
  r.add(100, 4);
  r.add(104, 4); // grows [100, 104)
  r.add(102, 2); // within
  EXPECT_TRUE(r.overlaps(107, 1));
  EXPECT_FALSE(r.overlaps(108, 1));
  r.add(120, 4);
  EXPECT_FALSE(r.overlaps(108, 12));
  r.add(108, 4); // joins [100, 108)
  EXPECT_TRUE(r.overlaps(111, 1));
  EXPECT_FALSE(r.overlaps(112, 8));
  r.add(112, 8); // right after [100, 112), touching [120, 124): one range
  EXPECT_TRUE(r.overlaps(119, 1));
  EXPECT_TRUE(r.overlaps(123, 1));
  EXPECT_FALSE(r.overlaps(124, 1));
  EXPECT_FALSE(r.overlaps(96, 4));
  r.clear();
  r.add(50, 2);
  r.add(52, 2);
  EXPECT_FALSE(r.overlaps(100, 24));
  EXPECT_TRUE(r.overlaps(53, 1));
  EXPECT_FALSE(r.overlaps(54, 1));
}

/// A kernel that writes out[tid] = tid (what a dependent launch after it
/// must not read before its wait).
const std::string kProducer =
    outTidKernel("producer", "  st.global.u32 [%rd3], %r1;\n");

TEST(PtxSim, DependentLaunchWaitsBeforeReadingTheKernelBefore) {
  // `producer` writes out[tid]; `consumer` (a dependent launch after it)
  // reads the weight w[tid] and the activation out[tid] and writes y[tid],
  // with its griddepcontrol.wait at the place given: before the wait only
  // the weight may be read, and nothing written.
  // The consumer kernel `name`: `wait` goes after the instruction of that
  // index (0: after the weight's load; 1: after the activation's; -1: a
  // store of y before anything else).
  auto consumer = [](const std::string &name, int wait) {
    std::string early = wait < 0 ? "  st.global.u32 [%rd7], %r1;\n"
                                   "  griddepcontrol.wait;\n"
                                 : "";
    const char *w0 = wait == 0 ? "  griddepcontrol.wait;\n"
                                 "  griddepcontrol.launch_dependents;\n"
                               : "";
    const char *w1 = wait == 1 ? "  griddepcontrol.wait;\n" : "";
    return ".visible .entry " + name +
           R"((.param .u64 w, .param .u64 out, .param .u64 y)
{
  .reg .b32 %r<5>;
  .reg .b64 %rd<10>;
  ld.param.u64 %rd1, [w];
  ld.param.u64 %rd2, [out];
  ld.param.u64 %rd3, [y];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd4, %r1, 4;
  add.s64 %rd7, %rd3, %rd4;
)" + early +
           R"(  add.s64 %rd5, %rd1, %rd4;
  ld.global.u32 %r2, [%rd5];
)" + w0 + R"(  add.s64 %rd6, %rd2, %rd4;
  ld.global.u32 %r3, [%rd6];
)" + w1 + R"(  add.s32 %r4, %r2, %r3;
  st.global.u32 [%rd7], %r4;
  ret;
}
)";
  };
  auto m = parse(kProducer + consumer("good", 0) + consumer("early_read", 1) +
                 consumer("early_write", -1));
  std::vector<uint32_t> w(4, 10), out(4, 0), y(4, 0);
  MemoryMap memory;
  for (auto *b : {&w, &out, &y})
    memory.add(b->data(), b->size() * 4);
  uint32_t *pw = w.data(), *pout = out.data(), *py = y.data();
  void *params[] = {&pw, &pout, &py};
  LaunchDims dims;
  dims.block[0] = 4;
  std::string error;
  std::vector<KernelWrites> running(1);
  running[0].name = "producer";
  void *producerParams[] = {&pout};
  ASSERT_TRUE(launch(*m, *m->kernel("producer"), dims, producerParams, memory,
                     error, nullptr, nullptr, &running[0].written))
      << error;
  DependentLaunch dependent{&running};
  EXPECT_TRUE(launch(*m, *m->kernel("good"), dims, params, memory, error,
                     nullptr, &dependent))
      << error;
  EXPECT_EQ(y, (std::vector<uint32_t>{10, 11, 12, 13}));
  EXPECT_FALSE(launch(*m, *m->kernel("early_read"), dims, params, memory, error,
                      nullptr, &dependent));
  EXPECT_NE(error.find("kernel early_read block (0,0,0) thread (0,0,0)"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("global load of 4 bytes at 0x" +
                       [&] {
                         char buf[24];
                         std::snprintf(buf, sizeof(buf), "%llx",
                                       static_cast<unsigned long long>(
                                           reinterpret_cast<uintptr_t>(pout)));
                         return std::string(buf);
                       }() +
                       " before griddepcontrol.wait reads what producer, the "
                       "kernel before this dependent launch, wrote"),
            std::string::npos)
      << error;
  error.clear();
  EXPECT_FALSE(launch(*m, *m->kernel("early_write"), dims, params, memory,
                      error, nullptr, &dependent));
  EXPECT_NE(error.find("global store of 4 bytes at"), std::string::npos)
      << error;
  EXPECT_NE(error.find("before griddepcontrol.wait in a dependent launch"),
            std::string::npos)
      << error;
  // Not a dependent launch (no kernel before it to overlap): the same
  // kernels run.
  error.clear();
  EXPECT_TRUE(launch(*m, *m->kernel("early_read"), dims, params, memory, error))
      << error;
  EXPECT_TRUE(
      launch(*m, *m->kernel("early_write"), dims, params, memory, error))
      << error;
}

TEST(PtxSim, EarlyTriggerLetsTheNextLaunchOverlapTheKernelsBefore) {
  // producer writes out[tid]; relay (a dependent launch after it) signals
  // its dependents before or after its wait; reader (a dependent launch
  // after relay) loads out before its wait. Only when relay signalled
  // early may reader run while producer still does.
  auto relay = [](const std::string &name, bool early) {
    std::string wait = "  griddepcontrol.wait;\n";
    std::string trigger = "  griddepcontrol.launch_dependents;\n";
    return ".visible .entry " + name + "()\n{\n" +
           (early ? trigger + wait : wait + trigger) + "  ret;\n}\n";
  };
  auto m = parse(kProducer +
                 outTidKernel("reader", "  ld.global.u32 %r2, [%rd3];\n"
                                        "  griddepcontrol.wait;\n") +
                 relay("relay_early", true) + relay("relay_late", false));
  std::vector<uint32_t> out(4, 0);
  MemoryMap memory;
  memory.add(out.data(), out.size() * 4);
  uint32_t *pout = out.data();
  void *params[] = {&pout};
  LaunchDims dims;
  dims.block[0] = 4;
  for (bool early : {true, false}) {
    std::string error;
    KernelWrites produced{"producer", {}, {}};
    ASSERT_TRUE(launch(*m, *m->kernel("producer"), dims, params, memory, error,
                       nullptr, nullptr, &produced.written))
        << error;
    std::vector<KernelWrites> running;
    advanceRunning(running, produced, /*overlapsBefore=*/false);
    DependentLaunch relayed{&running};
    std::string relayName = early ? "relay_early" : "relay_late";
    KernelWrites relayDone{relayName, {}, {}};
    ASSERT_TRUE(launch(*m, *m->kernel(relayName), dims, nullptr, memory, error,
                       nullptr, &relayed, &relayDone.written))
        << error;
    EXPECT_EQ(relayed.triggeredEarly, early);
    advanceRunning(running, relayDone, relayed.triggeredEarly);
    ASSERT_EQ(running.size(), early ? 2u : 1u);
    DependentLaunch read{&running};
    bool ok = launch(*m, *m->kernel("reader"), dims, params, memory, error,
                     nullptr, &read);
    EXPECT_EQ(ok, !early) << error;
    if (early)
      EXPECT_NE(error.find("reads what producer, a kernel 2 launches before "
                           "this dependent one (those between signalled "
                           "their dependents before their wait), wrote"),
                std::string::npos)
          << error;
  }
}

TEST(PtxSim, BlocksOfALaunchTouchingAStoredByteRace) {
  // One thread per block, i = ctaid.x + ctaid.y. `own` stores a[i];
  // `next` loads a[i + 1]; `neighbour` stores a[i] and loads a[i + 1],
  // which the next block stores; `shared_write` stores a[0] from every
  // block; `all_read` loads a[0] in every block; `many_read` loads a[3] in
  // blocks 0-2, which block 3 stores; `read_then_written` loads a[1] in
  // block 0, which block 1 stores.
  auto kernel = [](const std::string &name, const std::string &body) {
    return ".visible .entry " + name +
           R"((.param .u64 a)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<8>;
  .reg .pred %p<2>;
  ld.param.u64 %rd1, [a];
  mov.u32 %r1, %ctaid.x;
  mov.u32 %r3, %ctaid.y;
  add.u32 %r1, %r1, %r3;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd4, %rd1, %rd3;
)" + body + R"(  ret;
}
)";
  };
  auto m = parse(
      kernel("own", "  st.global.u32 [%rd4], %r1;\n") +
      kernel("next", "  ld.global.u32 %r2, [%rd4+4];\n") +
      kernel("neighbour", "  st.global.u32 [%rd4], %r1;\n"
                          "  ld.global.u32 %r2, [%rd4+4];\n") +
      kernel("shared_write", "  st.global.u32 [%rd1], %r1;\n") +
      kernel("all_read", "  ld.global.u32 %r2, [%rd1];\n") +
      kernel("many_read", "  setp.eq.u32 %p1, %r1, 3;\n"
                          "  @%p1 st.global.u32 [%rd1+12], %r1;\n"
                          "  @!%p1 ld.global.u32 %r2, [%rd1+12];\n") +
      kernel("read_then_written", "  setp.eq.u32 %p1, %r1, 0;\n"
                                  "  @%p1 ld.global.u32 %r2, [%rd1+4];\n"
                                  "  @!%p1 st.global.u32 [%rd4], %r1;\n"));
  ASSERT_TRUE(m);
  std::vector<uint32_t> a(8, 0), fresh(8, 0);
  MemoryMap memory;
  memory.add(a.data(), a.size() * 4);
  memory.add(fresh.data(), fresh.size() * 4);
  uint32_t *pa = a.data();
  void *params[] = {&pa};
  LaunchDims dims;
  dims.grid[0] = 4;
  GlobalRaces races;
  std::string error;
  auto run = [&](const char *name) {
    error.clear();
    return launch(*m, *m->kernel(name), dims, params, memory, error, nullptr,
                  nullptr, nullptr, &races);
  };
  auto says = [&](const std::string &what) {
    return error.find(what) != std::string::npos;
  };
  EXPECT_TRUE(run("own")) << error;
  EXPECT_EQ(a, (std::vector<uint32_t>{0, 1, 2, 3, 0, 0, 0, 0}));
  // What the launch before stored (block i + 1's a[i + 1]) no longer
  // conflicts, and loads of one byte by several blocks do not either.
  EXPECT_TRUE(run("next")) << error;
  EXPECT_TRUE(run("all_read")) << error;
  EXPECT_FALSE(run("neighbour"));
  EXPECT_TRUE(says("kernel neighbour block (1,0,0) thread (0,0,0)")) << error;
  EXPECT_TRUE(says("global race: store to byte 0x")) << error;
  EXPECT_TRUE(says("which block (0,0,0) of this launch loaded")) << error;
  EXPECT_FALSE(run("shared_write"));
  EXPECT_TRUE(says("block (1,0,0)")) << error;
  EXPECT_TRUE(says("which block (0,0,0) of this launch stored to")) << error;
  EXPECT_FALSE(run("many_read"));
  EXPECT_TRUE(says("block (3,0,0)")) << error;
  EXPECT_TRUE(says("which other blocks of this launch loaded")) << error;
  EXPECT_FALSE(run("read_then_written"));
  EXPECT_TRUE(says("global race: store to byte")) << error;
  // A 2D grid: block (0,1,0) is linear block 1.
  dims.grid[0] = 1;
  dims.grid[1] = 2;
  EXPECT_FALSE(run("shared_write"));
  EXPECT_TRUE(says("block (0,1,0)")) << error;
  EXPECT_TRUE(says("which block (0,0,0) of this launch stored to")) << error;
  // One block: nothing to race with.
  dims.grid[1] = 1;
  EXPECT_TRUE(run("shared_write")) << error;
  // An allocation no kernel stored to and nothing readied: block 0's load
  // before block 1's first store goes unseen; once tracked (a memset does
  // it in the driver) it is caught.
  dims.grid[0] = 4;
  pa = fresh.data();
  EXPECT_TRUE(run("read_then_written")) << error;
  std::vector<uint32_t> other(8, 0);
  memory.add(other.data(), other.size() * 4);
  pa = other.data();
  races.track(reinterpret_cast<uint64_t>(other.data()));
  EXPECT_FALSE(run("read_then_written"));
  // Without the check the racing kernels run.
  error.clear();
  EXPECT_TRUE(launch(*m, *m->kernel("neighbour"), dims, params, memory, error))
      << error;
}

TEST(PtxSim, ShuffleAgainstBarrierIsADeadlock) {
  // Lanes 0-15 wait at a shuffle that needs lanes 16-31, which wait at a
  // barrier that needs lanes 0-15.
  auto m = parse(R"(
.visible .entry split(.param .u64 out)
{
  .reg .b32 %r<4>;
  .reg .pred %p<2>;
  mov.u32 %r1, %tid.x;
  setp.lt.u32 %p1, %r1, 16;
  @%p1 bra $L_shuffle;
  bar.sync 0;
  ret;
$L_shuffle:
  shfl.sync.bfly.b32 %r2, %r1, 1, 31, -1;
  ret;
}
)");
  std::vector<uint32_t> out(1);
  std::string error = run<uint32_t>(*m, "split", 32, {&out});
  EXPECT_NE(error.find("deadlock"), std::string::npos) << error;
}

TEST(PtxSim, ExitedThreadsCountAsArrivedAtABarrier) {
  auto m = parse(R"(
.visible .entry early(.param .u64 out)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<4>;
  .reg .pred %p<2>;
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, %tid.x;
  setp.ge.u32 %p1, %r1, 8;
  @%p1 ret;
  bar.sync 0;
  mul.wide.u32 %rd2, %r1, 4;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3], 7;
  ret;
}
)");
  std::vector<uint32_t> out(8, 0);
  ASSERT_EQ(run<uint32_t>(*m, "early", 64, {&out}), "");
  for (uint32_t v : out)
    EXPECT_EQ(v, 7u);
}

TEST(PtxSim, ParseErrorsNameTheLine) {
  struct Case {
    const char *body, *message;
  } cases[] = {
      {".visible .entry k()\n{\n  tex.1d.v4.f32.s32 %r1, [t, %r2];\n}\n",
       "line 6: unsupported instruction 'tex.1d.v4.f32.s32'"},
      {".visible .entry k()\n{\n  .reg .b32 %r<2>;\n  mov.b32 %q1, 0;\n}\n",
       "line 7: unknown register or symbol '%q1'"},
      {".visible .entry k()\n{\n  bra.uni $L_nowhere;\n}\n",
       "line 6: unknown label '$L_nowhere'"},
      {".visible .entry k()\n{\n  add.wrap.s32 %r1, 1, 2;\n}\n",
       "line 6: unsupported modifier '.wrap' in 'add.wrap.s32'"},
  };
  for (const Case &c : cases) {
    std::string error;
    EXPECT_FALSE(parsePtx(std::string(kHeader) + c.body, error)) << c.body;
    EXPECT_EQ(error, c.message) << c.body;
  }
}

TEST(PtxSim, LaunchChecksItsDimensions) {
  auto m = parse(R"(
.visible .entry small(.param .u64 out) .maxntid 64, 1, 1
{
  ret;
}
)");
  std::vector<uint32_t> out(1);
  EXPECT_EQ(run<uint32_t>(*m, "small", 128, {&out}),
            "kernel small: 128 threads per block, over its .maxntid 64");
}

} // namespace

namespace {

/// Runs a one-thread kernel whose body stores u32 results at out[0..n).
std::vector<uint32_t> oneThread(const std::string &body, unsigned n,
                                unsigned threads = 1) {
  auto m = parse(R"(
.shared .align 4 .b8 tile[64];
.visible .entry k(.param .u64 out)
{
  .reg .b32 %r<40>;
  .reg .b16 %rs<8>;
  .reg .f32 %f<8>;
  .reg .pred %p<8>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [out];
)" + body + "\n  ret;\n}\n");
  std::vector<uint32_t> out(n, 0xdeadbeef);
  if (m) {
    std::string error = run<uint32_t>(*m, "k", threads, {&out});
    EXPECT_EQ(error, "");
  }
  return out;
}

TEST(PtxSim, SetpUnsignedComparisonsHiLo) {
  // hi/lo/hs/ls are comparisons in setp, not mul's .hi/.lo.
  auto out = oneThread(R"(
  setp.hi.u32 %p1, 5, 3;
  selp.u32 %r1, 1, 0, %p1;
  st.global.u32 [%rd1], %r1;
  setp.hi.u32 %p2, 5, 5;
  selp.u32 %r2, 1, 0, %p2;
  st.global.u32 [%rd1+4], %r2;
  setp.lo.u32 %p3, -1, 3;
  selp.u32 %r3, 1, 0, %p3;
  st.global.u32 [%rd1+8], %r3;
  setp.lt.s32 %p4, -1, 3;
  selp.u32 %r4, 1, 0, %p4;
  st.global.u32 [%rd1+12], %r4;)",
                       4);
  EXPECT_EQ(out, (std::vector<uint32_t>{1, 0, 0, 1}));
}

TEST(PtxSim, HalfAndBf16ConversionsRoundOnceInTheirMode) {
  auto out = oneThread(R"(
  cvt.rz.f16.f32 %rs1, 0f3F801C00;
  cvt.u32.u16 %r1, %rs1;
  st.global.u32 [%rd1], %r1;
  cvt.rn.f16.f32 %rs2, 0f3F801C00;
  cvt.u32.u16 %r2, %rs2;
  st.global.u32 [%rd1+4], %r2;
  cvt.rz.bf16.f32 %rs3, 0f3F80C000;
  cvt.u32.u16 %r3, %rs3;
  st.global.u32 [%rd1+8], %r3;
  cvt.rn.bf16.s32 %rs4, 16842753;
  cvt.u32.u16 %r4, %rs4;
  st.global.u32 [%rd1+12], %r4;
  cvt.rn.f16.f32 %rs5, 0f477FF000;
  cvt.u32.u16 %r5, %rs5;
  st.global.u32 [%rd1+16], %r5;
  cvt.rn.f16.f32 %rs6, 0f33800000;
  cvt.u32.u16 %r6, %rs6;
  st.global.u32 [%rd1+20], %r6;)",
                       6);
  // 1 + 0.875 * 2^-10 (f32 0x3F801C00): toward zero 1.0 (0x3c00), to
  // nearest 1 + 2^-10 (0x3c01).
  EXPECT_EQ(out[0], 0x3c00u);
  EXPECT_EQ(out[1], 0x3c01u);
  // 1 + 2^-8 + 2^-9 (0x3F80C000) toward zero in bf16: 1.0.
  EXPECT_EQ(out[2], 0x3f80u);
  // 2^24 + 2^16 + 1: just above the tie between bf16 2^24 + 2^16 (odd)
  // and 2^24 + 2^17: up, 0x4b81 (rounding through f32 first gives 0x4b80).
  EXPECT_EQ(out[3], 0x4b81u);
  // 65520 is halfway between f16's largest (65504) and 2^16: to infinity.
  EXPECT_EQ(out[4], 0x7c00u);
  // 2^-24: f16's smallest subnormal.
  EXPECT_EQ(out[5], 0x0001u);
}

TEST(PtxSim, HalfPairArithmeticRoundsEachHalfOnce) {
  auto out = oneThread(R"(
  mov.b32 %r1, 0x64076403;
  mov.b32 %r2, 0x64086408;
  sub.rn.f16x2 %r3, %r1, %r2;
  st.global.u32 [%rd1], %r3;
  mov.b32 %r4, 0x64F06430;
  mov.b32 %r5, 0x2C002C00;
  mov.b32 %r6, 0xD480D480;
  fma.rn.f16x2 %r7, %r4, %r5, %r6;
  st.global.u32 [%rd1+4], %r7;
  mov.b16 %rs1, 0x6800;
  mov.b16 %rs2, 0x3C00;
  add.rn.f16 %rs3, %rs1, %rs2;
  cvt.u32.u16 %r8, %rs3;
  st.global.u32 [%rd1+8], %r8;
  mov.b16 %rs4, 0x4200;
  add.rn.f16 %rs6, %rs1, %rs4;
  cvt.u32.u16 %r10, %rs6;
  st.global.u32 [%rd1+12], %r10;
  mov.b32 %r9, 0x7C00FC00;
  mov.b32 %r17, 0xFC003C00;
  add.rn.f16x2 %r16, %r9, %r17;
  st.global.u32 [%rd1+16], %r16;
  mov.b32 %r11, 0x43803F80;
  mov.b32 %r12, 0x40403C40;
  add.rn.bf16x2 %r13, %r11, %r12;
  st.global.u32 [%rd1+20], %r13;
  mov.b32 %r14, 0xBC003C00;
  neg.f16x2 %r15, %r14;
  st.global.u32 [%rd1+24], %r15;)",
                       7);
  // Halves low, high: {1027, 1031} - {1032, 1032} = {-5 (0xc500), -1
  // (0xbc00)}.
  EXPECT_EQ(out[0], 0xbc00c500u);
  // {1024 + 16 * 3, 1024 + 16 * 15} / 16 - 72 = {-5, 7 (0x4700)}.
  EXPECT_EQ(out[1], 0x4700c500u);
  // 2048 + 1: a tie (f16's step is 2 there), to the even 2048 (0x6800).
  EXPECT_EQ(out[2], 0x6800u);
  // 2048 + 3: a tie between 2050 (0x6801) and 2052, to the even 2052
  // (0x6802).
  EXPECT_EQ(out[3], 0x6802u);
  // {-inf, +inf} + {1, -inf}: -inf, and the canonical NaN (0x7fff).
  EXPECT_EQ(out[4], 0x7ffffc00u);
  // bf16 {1, 256} + {3 * 2^-8, 3}: both ties (steps 2^-7 and 2), to the
  // even 1 + 2^-6 (0x3f82) and 260 (0x4382).
  EXPECT_EQ(out[5], 0x43823f82u);
  // neg flips each half's sign.
  EXPECT_EQ(out[6], 0x3c00bc00u);
}

TEST(PtxSim, MinMaxOrderSignedZerosAndCanonicalNaN) {
  auto out = oneThread(R"(
  min.f32 %f1, 0f00000000, 0f80000000;
  st.global.f32 [%rd1], %f1;
  min.f32 %f2, 0f80000000, 0f00000000;
  st.global.f32 [%rd1+4], %f2;
  max.f32 %f3, 0f80000000, 0f00000000;
  st.global.f32 [%rd1+8], %f3;
  max.NaN.f32 %f4, 0f7FC00001, 0f3F800000;
  st.global.f32 [%rd1+12], %f4;
  min.f32 %f5, 0f7FC00001, 0f7FC00002;
  st.global.f32 [%rd1+16], %f5;)",
                       5);
  EXPECT_EQ(out[0], 0x80000000u); // -0 < +0 in either order
  EXPECT_EQ(out[1], 0x80000000u);
  EXPECT_EQ(out[2], 0x00000000u);
  EXPECT_EQ(out[3], 0x7fffffffu); // the canonical NaN
  EXPECT_EQ(out[4], 0x7fffffffu);
}

TEST(PtxSim, WrappingAndMisalignedAddressesAreErrors) {
  auto m = parse(R"(
.shared .align 4 .b8 tile[64];
.visible .entry below(.param .u64 out)
{
  .reg .b64 %rd<4>;
  mov.u64 %rd2, 4;
  st.shared.u32 [%rd2+-8], 1;
  ret;
}
.visible .entry null(.param .u64 out)
{
  .reg .b32 %r<2>;
  .reg .b64 %rd<4>;
  mov.u64 %rd2, 0;
  ld.global.u32 %r1, [%rd2+-4];
  ret;
}
.visible .entry misaligned(.param .u64 out)
{
  .reg .b32 %r<6>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [out];
  ld.global.v4.u32 {%r1, %r2, %r3, %r4}, [%rd1+4];
  ret;
}
)");
  std::vector<uint32_t> out(16);
  EXPECT_NE(
      run<uint32_t>(*m, "below", 1, {&out})
          .find(
              "shared store of 4 bytes at 0xfffffffffffffffc is out of bounds"),
      std::string::npos);
  EXPECT_NE(
      run<uint32_t>(*m, "null", 1, {&out})
          .find(
              "global load of 4 bytes at 0xfffffffffffffffc is out of bounds"),
      std::string::npos);
  EXPECT_NE(
      run<uint32_t>(*m, "misaligned", 1, {&out}).find("misaligned address 0x"),
      std::string::npos);
}

TEST(PtxSim, SubWordStoresOfTwoThreadsAreNoRace) {
  // Threads 0 and 1 store the two halves of one word, then a barrier, then
  // thread 0 reads the word: no race, and both halves are there.
  auto out = oneThread(R"(
  mov.u32 %r1, %tid.x;
  mov.u64 %rd2, tile;
  mul.wide.u32 %rd3, %r1, 2;
  add.s64 %rd4, %rd2, %rd3;
  add.s32 %r2, %r1, 7;
  cvt.u16.u32 %rs1, %r2;
  st.shared.u16 [%rd4], %rs1;
  bar.sync 0;
  setp.ne.u32 %p1, %r1, 0;
  @%p1 bra $L_done;
  ld.shared.u32 %r3, [%rd2];
  st.global.u32 [%rd1], %r3;
$L_done:)",
                       1, 2);
  EXPECT_EQ(out[0], 0x00080007u);
}

TEST(PtxSim, ShuffleWithAHalfWarpMask) {
  // Lanes 0-15 shuffle among themselves (mask 0xffff) while lanes 16-31
  // wait at a barrier.
  auto out = oneThread(R"(
  mov.u32 %r1, %tid.x;
  setp.ge.u32 %p1, %r1, 16;
  @%p1 bra $L_wait;
  shfl.sync.bfly.b32 %r2, %r1, 1, 31, 65535;
  mul.wide.u32 %rd2, %r1, 4;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3], %r2;
$L_wait:
  bar.sync 0;)",
                       16, 32);
  for (uint32_t i = 0; i < 16; ++i)
    EXPECT_EQ(out[i], i ^ 1) << i;
}

TEST(PtxSim, ParserScopesAndLiterals) {
  // An inner scope's %r<N> is its own; decimal float initialisers (signed,
  // with exponents) become f32 bits.
  auto m = parse(R"(
.global .align 4 .f32 consts[3] = {1.5, -2.0, 2.5e-1};
.visible .entry k(.param .u64 out)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, 5;
  {
  .reg .b32 %r<4>;
  mov.u32 %r1, 9;
  st.global.u32 [%rd1+4], %r1;
  }
  st.global.u32 [%rd1], %r1;
  mov.u64 %rd2, consts;
  ld.global.u32 %r2, [%rd2];
  st.global.u32 [%rd1+8], %r2;
  ld.global.u32 %r2, [%rd2+4];
  st.global.u32 [%rd1+12], %r2;
  ld.global.u32 %r2, [%rd2+8];
  st.global.u32 [%rd1+16], %r2;
  ret;
}
)");
  std::vector<uint32_t> out(5, 0);
  ASSERT_EQ(run<uint32_t>(*m, "k", 1, {&out}), "");
  EXPECT_EQ(out[0], 5u);
  EXPECT_EQ(out[1], 9u);
  EXPECT_EQ(out[2], bits(1.5f));
  EXPECT_EQ(out[3], bits(-2.0f));
  EXPECT_EQ(out[4], bits(0.25f));
}

} // namespace

// Atomics, release/acquire between the blocks of a launch, and spins.
namespace {

/// Launches `name` over `blocks` blocks of `threads` threads as run() does,
/// with the race check between blocks; every buffer is tracked as a memset
/// before the launch would track it. The error text ("" on success).
std::string runBlocks(const Module &m, const char *name, unsigned blocks,
                      unsigned threads,
                      std::vector<std::vector<uint32_t> *> buffers) {
  GlobalRaces races;
  return run(m, name, threads, std::move(buffers), blocks, &races);
}

/// The PTX text of `.visible .entry name` with one .u64 parameter per name
/// in `params`: it declares 16 registers of each type in `types`, a line
/// each (.b16 as %rs, .b32 as %r, .b64 as %rd, .f32 as %f, .pred as %p),
/// loads the parameters into %rd1, %rd2, ... in order, a line each, and
/// goes on with `body`, which begins with its own line break (as a raw
/// string does whose `R"(` ends a line). The PTX lines the tests name are
/// counted in this layout.
std::string entry(const std::string &name,
                  const std::vector<std::string> &params,
                  const std::vector<std::string> &types,
                  const std::string &body) {
  std::string text = ".visible .entry " + name + "(";
  for (size_t i = 0; i < params.size(); ++i)
    text += (i ? ", .param .u64 " : ".param .u64 ") + params[i];
  text += ")\n{";
  for (const std::string &type : types) {
    const char *prefix = type == ".b16"   ? "%rs"
                         : type == ".b32" ? "%r"
                         : type == ".b64" ? "%rd"
                         : type == ".f32" ? "%f"
                                          : "%p";
    text += "\n  .reg " + type + " " + prefix + "<16>;";
  }
  for (size_t i = 0; i < params.size(); ++i)
    text += "\n  ld.param.u64 %rd" + std::to_string(i + 1) + ", [" + params[i] +
            "];";
  return text + body + "}\n";
}

/// Parses `kernels` one after another, after the header (3 lines) and a
/// blank line, as the raw strings given to parse() have it: the first
/// kernel's first line is PTX line 5.
std::unique_ptr<Module> parseKernels(const std::vector<std::string> &kernels) {
  std::string body = "\n";
  for (const std::string &k : kernels)
    body += k;
  return parse(body);
}

/// Passes where `error` contains `fragment`; shows both where it does not.
::testing::AssertionResult contains(const std::string &error,
                                    const std::string &fragment) {
  if (error.find(fragment) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << fragment << "\" is not in the error \"" << error << "\"";
}

std::string hexOf(const void *p, size_t offset = 0) {
  char buf[24];
  std::snprintf(
      buf, sizeof(buf), "0x%llx",
      static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(p) + offset));
  return buf;
}

/// The error's words for a load of `address` that races with a store of
/// block `block` of the same launch.
std::string loadRace(const std::string &address, const char *block) {
  return "global race: load of byte " + address + ", which block " + block +
         " of this launch stored to";
}

TEST(PtxSim, AtomicAddHandsOutEachTicketOnce) {
  // 64 blocks take a ticket each from a zeroed counter and mark
  // seen[ticket] with their block index + 1: the counter ends at 64 and
  // every ticket is marked once (a ticket taken twice would be two blocks
  // storing one word: a race). The spellings of the same add, and its
  // [%rd+imm] form, all do it.
  const char *spellings[] = {
      "atom.global.add.u32 %r1, [%rd1+4], 1;",
      "atom.relaxed.gpu.global.add.u32 %r1, [%rd1+4], 1;",
      "atom.acq_rel.gpu.global.add.u32 %r1, [%rd1+4], 1;",
      "atom.acquire.sys.global.add.s32 %r1, [%rd1+4], 1;",
      "atom.add.u32 %r1, [%rd1+4], 1;", // generic
  };
  for (const char *atom : spellings) {
    auto m =
        parseKernels({entry("tickets", {"counter", "seen"}, {".b32", ".b64"},
                            "\n  " + std::string(atom) + R"(
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd4, %rd2, %rd3;
  mov.u32 %r2, %ctaid.x;
  add.u32 %r2, %r2, 1;
  st.global.u32 [%rd4], %r2;
  ret;
)")});
    ASSERT_TRUE(m) << atom;
    std::vector<uint32_t> counter{7, 0}, seen(64, 0);
    EXPECT_EQ(runBlocks(*m, "tickets", 64, 1, {&counter, &seen}), "") << atom;
    EXPECT_EQ(counter, (std::vector<uint32_t>{7, 64})) << atom;
    std::vector<uint32_t> blocks = seen;
    std::sort(blocks.begin(), blocks.end());
    for (uint32_t i = 0; i < 64; ++i)
      EXPECT_EQ(blocks[i], i + 1) << atom;
    // Blocks run in blockIdx order: block i draws ticket i.
    for (uint32_t i = 0; i < 64; ++i)
      EXPECT_EQ(seen[i], i + 1) << atom;
  }
}

TEST(PtxSim, AtomicOperationsReturnTheOldValue) {
  // One thread: each atomic on mem[i] (set by plain stores first) puts the
  // old value in old[i]; mem then holds the new one.
  auto m =
      parseKernels({entry("ops", {"mem", "old"}, {".b32", ".f32", ".b64"}, R"(
  st.global.u32 [%rd1], 5;
  st.global.u32 [%rd1+4], 3;
  st.global.u32 [%rd1+8], -5;
  st.global.u32 [%rd1+12], -1;
  st.global.u32 [%rd1+16], 4;
  st.global.u32 [%rd1+20], 4;
  st.global.u32 [%rd1+24], 3;
  st.global.u32 [%rd1+28], 0;
  st.global.f32 [%rd1+32], 0f40000000;
  st.global.u32 [%rd1+36], 12;
  st.global.u32 [%rd1+40], 12;
  st.global.u32 [%rd1+44], 12;
  st.global.u64 [%rd1+48], 4294967295;
  st.global.u32 [%rd1+56], 100;
  st.global.u32 [%rd1+60], 2;
  atom.global.exch.b32 %r1, [%rd1], 9;
  atom.global.max.u32 %r2, [%rd1+4], 7;
  atom.global.max.s32 %r3, [%rd1+8], -1;
  atom.global.min.u32 %r4, [%rd1+12], 2;
  atom.global.cas.b32 %r5, [%rd1+16], 4, 8;
  atom.global.cas.b32 %r6, [%rd1+20], 1, 8;
  atom.global.inc.u32 %r7, [%rd1+24], 3;
  atom.global.dec.u32 %r8, [%rd1+28], 3;
  atom.global.add.f32 %f1, [%rd1+32], 0f3FC00000;
  atom.global.and.b32 %r9, [%rd1+36], 10;
  atom.global.or.b32 %r10, [%rd1+40], 3;
  atom.global.xor.b32 %r11, [%rd1+44], 6;
  atom.global.add.u64 %rd3, [%rd1+48], 1;
  red.global.add.u32 [%rd1+56], -1;
  red.release.gpu.global.max.s32 [%rd1+60], -3;
  st.global.u32 [%rd2], %r1;
  st.global.u32 [%rd2+4], %r2;
  st.global.u32 [%rd2+8], %r3;
  st.global.u32 [%rd2+12], %r4;
  st.global.u32 [%rd2+16], %r5;
  st.global.u32 [%rd2+20], %r6;
  st.global.u32 [%rd2+24], %r7;
  st.global.u32 [%rd2+28], %r8;
  st.global.f32 [%rd2+32], %f1;
  st.global.u32 [%rd2+36], %r9;
  st.global.u32 [%rd2+40], %r10;
  st.global.u32 [%rd2+44], %r11;
  st.global.u64 [%rd2+48], %rd3;
  ret;
)")});
  std::vector<uint32_t> mem(16, 0), old(14, 0);
  ASSERT_EQ(runBlocks(*m, "ops", 1, 1, {&mem, &old}), "");
  EXPECT_EQ(old,
            (std::vector<uint32_t>{5, 3, uint32_t(-5), 0xffffffffu, 4, 4, 3, 0,
                                   bits(2.0f), 12, 12, 12, 0xffffffffu, 0}));
  EXPECT_EQ(mem, (std::vector<uint32_t>{9, 7, uint32_t(-1), 2, 8, 4, 0, 3,
                                        bits(3.5f), 8, 15, 10, 0, 1, 99, 2}));
}

/// Three producer and five consumer blocks of 32 threads hand data over
/// within one launch, as the in_proj kernel with the scan folded in does:
/// thread 0 takes a ticket from counters[0]; tickets 0-2 store data[ticket
/// * 32 + tid] = ticket * 100 + tid, meet at a barrier and signal with
/// `signal` (thread 0, on counters[1]) and then run `after`; the others'
/// thread 0 polls counters[1] with `poll` until it is 3, runs `polled`,
/// meets its block at a barrier, and every thread sums its three data
/// elements into out[(ticket - 3) * 32 + tid].
std::string handoff(const std::string &signal, const std::string &poll,
                    const std::string &polled = "",
                    const std::string &after = "") {
  return ".shared .align 4 .u32 role;\n" +
         entry("handoff", {"counters", "data", "out"},
               {".b32", ".f32", ".b64", ".pred"}, R"(
  mov.u32 %r1, %tid.x;
  setp.ne.u32 %p1, %r1, 0;
  @%p1 bra $L_ticket;
  atom.global.add.u32 %r2, [%rd1], 1;
  st.shared.u32 [role], %r2;
$L_ticket:
  bar.sync 0;
  ld.shared.u32 %r3, [role];
  setp.ge.u32 %p2, %r3, 3;
  @%p2 bra $L_consumer;
  mad.lo.s32 %r4, %r3, 32, %r1;
  mul.wide.u32 %rd4, %r4, 4;
  add.s64 %rd5, %rd2, %rd4;
  mad.lo.s32 %r5, %r3, 100, %r1;
  cvt.rn.f32.u32 %f1, %r5;
  st.global.f32 [%rd5], %f1;
  bar.sync 0;
  @%p1 bra $L_end;
  )" + signal + "\n  " + after + R"(
  bra.uni $L_end;
$L_consumer:
  @%p1 bra $L_waited;
$L_poll:
  )" + poll + R"(
  setp.lt.u32 %p3, %r6, 3;
  @%p3 bra $L_poll;
  )" + polled + R"(
$L_waited:
  bar.sync 0;
  mul.wide.u32 %rd6, %r1, 4;
  add.s64 %rd7, %rd2, %rd6;
  ld.global.f32 %f2, [%rd7];
  ld.global.f32 %f3, [%rd7+128];
  ld.global.f32 %f4, [%rd7+256];
  add.f32 %f5, %f2, %f3;
  add.f32 %f5, %f5, %f4;
  sub.s32 %r7, %r3, 3;
  mad.lo.s32 %r8, %r7, 32, %r1;
  mul.wide.u32 %rd8, %r8, 4;
  add.s64 %rd9, %rd3, %rd8;
  st.global.f32 [%rd9], %f5;
$L_end:
  ret;
)");
}

struct Handoff {
  std::vector<uint32_t> counters = std::vector<uint32_t>(2, 0);
  std::vector<uint32_t> data = std::vector<uint32_t>(96, 0xffffffffu);
  std::vector<uint32_t> out = std::vector<uint32_t>(160, 0xffffffffu);
  std::string run(const std::string &kernel) {
    auto m = parse(kernel);
    if (!m)
      return "no module";
    return runBlocks(*m, "handoff", 8, 32, {&counters, &data, &out});
  }
};

TEST(PtxSim, ReleaseAcquireHandsDataToOtherBlocks) {
  struct Case {
    const char *signal, *poll, *polled;
  } cases[] = {
      {"red.release.gpu.global.add.u32 [%rd1+4], 1;",
       "ld.acquire.gpu.global.u32 %r6, [%rd1+4];", ""},
      {"atom.acq_rel.gpu.global.add.u32 %r9, [%rd1+4], 1;",
       "ld.acquire.gpu.global.b32 %r6, [%rd1+4];", ""},
      {"red.release.sys.global.add.s32 [%rd1+4], 1;",
       "atom.acquire.gpu.global.add.u32 %r6, [%rd1+4], 0;", ""},
      // The fences' release and acquire patterns.
      {"fence.acq_rel.gpu;\n  red.relaxed.gpu.global.add.u32 [%rd1+4], 1;",
       "ld.relaxed.gpu.global.s32 %r6, [%rd1+4];", "fence.acq_rel.gpu;"},
      {"membar.gl;\n  atom.global.add.u32 %r9, [%rd1+4], 1;",
       "ld.volatile.global.u32 %r6, [%rd1+4];", "fence.sc.gpu;"},
  };
  for (const Case &c : cases) {
    Handoff h;
    EXPECT_EQ(h.run(handoff(c.signal, c.poll, c.polled)), "") << c.signal;
    EXPECT_EQ(h.counters, (std::vector<uint32_t>{8, 3})) << c.signal;
    for (unsigned i = 0; i < 160; ++i)
      EXPECT_EQ(h.out[i], bits(300.0f + 3.0f * float(i % 32)))
          << c.signal << " " << i;
  }
}

TEST(PtxSim, HandoffWithoutReleaseAcquireRaces) {
  // Plain stores and loads of the flag: the second producer's load of it
  // races with the first one's store.
  {
    Handoff h;
    std::string error =
        h.run(handoff("ld.global.u32 %r9, [%rd1+4];\n  add.u32 %r9, %r9, 1;\n"
                      "  st.global.u32 [%rd1+4], %r9;",
                      "ld.global.u32 %r6, [%rd1+4];"));
    EXPECT_TRUE(contains(error, "kernel handoff block (1,0,0) thread (0,0,0)"));
    EXPECT_TRUE(
        contains(error, loadRace(hexOf(h.counters.data(), 4), "(0,0,0)")));
  }
  // Relaxed atomics on the flag do not race, but order nothing: the first
  // consumer's load of data[0] races with block 0's store. So does one
  // without the acquire (ld.relaxed, no fence) or without the release.
  const char *relaxed[][2] = {
      {"red.relaxed.gpu.global.add.u32 [%rd1+4], 1;",
       "ld.relaxed.gpu.global.u32 %r6, [%rd1+4];"},
      {"red.release.gpu.global.add.u32 [%rd1+4], 1;",
       "ld.relaxed.gpu.global.u32 %r6, [%rd1+4];"},
      {"red.global.add.u32 [%rd1+4], 1;",
       "ld.acquire.gpu.global.u32 %r6, [%rd1+4];"},
  };
  for (auto &c : relaxed) {
    Handoff h;
    std::string error = h.run(handoff(c[0], c[1]));
    EXPECT_TRUE(contains(error, "kernel handoff block (3,0,0) thread (0,0,0)"));
    EXPECT_TRUE(contains(error, loadRace(hexOf(h.data.data()), "(0,0,0)")));
  }
  // A plain load of the flag the producers add to atomically races too.
  Handoff h;
  std::string error =
      h.run(handoff("red.release.gpu.global.add.u32 [%rd1+4], 1;",
                    "ld.global.u32 %r6, [%rd1+4];"));
  EXPECT_TRUE(contains(error, loadRace(hexOf(h.counters.data(), 4), "(2,0,0)") +
                                  " atomically"));
}

TEST(PtxSim, StoreAfterTheReleaseRaces) {
  // Each producer's thread 0 stores its first element again after its
  // release: not ordered before the consumers' loads of it.
  Handoff h;
  std::string error =
      h.run(handoff("red.release.gpu.global.add.u32 [%rd1+4], 1;",
                    "ld.acquire.gpu.global.u32 %r6, [%rd1+4];", "",
                    "st.global.f32 [%rd5], 0fBF800000;"));
  EXPECT_TRUE(contains(error, "kernel handoff block (3,0,0) thread (0,0,0)"));
  EXPECT_TRUE(contains(error, loadRace(hexOf(h.data.data()), "(0,0,0)") +
                                  " after its release to " +
                                  hexOf(h.counters.data(), 4) +
                                  " that this block acquired"));
}

TEST(PtxSim, AnAcquireIsTheBlocksFromItsNextBarrier) {
  // Block 0 stores data[0] and releases a flag; in block 1, thread 0
  // acquires it and every thread loads data[0], before (`early`) or after
  // (`late`) a barrier: thread 0's own load is ordered either way, thread
  // 1's only after the barrier.
  auto kernel = [](const std::string &name, bool late) {
    std::string barrier = "  bar.sync 0;\n";
    return entry(name, {"flag", "data"}, {".b32", ".b64", ".pred"},
                 R"(
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %ctaid.x;
  setp.ne.u32 %p1, %r1, 0;
  setp.ne.u32 %p2, %r2, 0;
  @%p2 bra $L_consumer;
  @%p1 bra $L_done;
  st.global.u32 [%rd2], 42;
  red.release.gpu.global.add.u32 [%rd1], 1;
  bra.uni $L_done;
$L_consumer:
  @%p1 bra $L_load;
$L_poll:
  ld.acquire.gpu.global.u32 %r3, [%rd1];
  setp.eq.u32 %p3, %r3, 0;
  @%p3 bra $L_poll;
$L_load:
)" + (late ? barrier : "") +
                     "  ld.global.u32 %r4, [%rd2];\n" + (late ? "" : barrier) +
                     R"($L_done:
  ret;
)");
  };
  auto m = parseKernels({kernel("early", false), kernel("late", true)});
  std::vector<uint32_t> flag(1, 0), data(1, 0);
  EXPECT_EQ(runBlocks(*m, "late", 2, 2, {&flag, &data}), "");
  flag[0] = 0;
  std::string error = runBlocks(*m, "early", 2, 2, {&flag, &data});
  EXPECT_TRUE(contains(error, "kernel early block (1,0,0) thread (1,0,0)"));
  EXPECT_TRUE(contains(error, loadRace(hexOf(data.data()), "(0,0,0)")));
}

TEST(PtxSim, ASpinNothingEndsIsAnError) {
  // Thread 0 of each block waits for counters[1] to reach 1, which no
  // block adds to (`nobody`), or which block 1 adds to after block 0
  // waited (`later`: blocks run one after another here).
  auto m =
      parseKernels({entry("nobody", {"counters"}, {".b32", ".b64", ".pred"}, R"(
$L_poll:
  ld.acquire.gpu.global.u32 %r1, [%rd1+4];
  setp.lt.u32 %p1, %r1, 1;
  @%p1 bra $L_poll;
  ret;
)"),
                    entry("later", {"counters"}, {".b32", ".b64", ".pred"}, R"(
  mov.u32 %r2, %ctaid.x;
  setp.eq.u32 %p2, %r2, 1;
  @%p2 red.release.gpu.global.add.u32 [%rd1+4], 1;
  @%p2 bra $L_done;
$L_poll:
  ld.acquire.gpu.global.u32 %r1, [%rd1+4];
  setp.lt.u32 %p1, %r1, 1;
  @%p1 bra $L_poll;
  bar.sync 0;
$L_done:
  ret;
)")});
  std::vector<uint32_t> counters(2, 0);
  EXPECT_TRUE(contains(runBlocks(*m, "nobody", 2, 64, {&counters}),
                       "kernel nobody block (0,0,0) thread (0,0,0), PTX line "
                       "12: spin: block (0,0,0) waits on " +
                           hexOf(counters.data(), 4) +
                           " (value 0) that no block that could still run "
                           "changes (the simulator runs the blocks of a launch "
                           "one after another"));
  EXPECT_TRUE(contains(runBlocks(*m, "later", 2, 32, {&counters}),
                       "kernel later block (0,0,0) thread (0,0,0), PTX line "
                       "28: spin: block (0,0,0) waits on " +
                           hexOf(counters.data(), 4) + " (value 0)"));
}

TEST(PtxSim, ASpinLetsTheOtherThreadsOfItsBlockRun) {
  // Thread 0 polls a flag that thread 32 (the next warp) sets after it
  // counted to 5000: thread 0 yields while it spins, and ends.
  auto m = parseKernels(
      {entry("wait_warp", {"flag", "out"}, {".b32", ".b64", ".pred"}, R"(
  mov.u32 %r1, %tid.x;
  setp.eq.u32 %p1, %r1, 0;
  @%p1 bra $L_poll;
  setp.ne.u32 %p2, %r1, 32;
  @%p2 bra $L_done;
  mov.u32 %r2, 0;
$L_count:
  add.u32 %r2, %r2, 1;
  setp.lt.u32 %p3, %r2, 5000;
  @%p3 bra $L_count;
  st.relaxed.gpu.global.u32 [%rd1], %r2;
  bra.uni $L_done;
$L_poll:
  ld.relaxed.gpu.global.u32 %r3, [%rd1];
  setp.eq.u32 %p3, %r3, 0;
  @%p3 bra $L_poll;
  st.global.u32 [%rd2], %r3;
$L_done:
  ret;
)")});
  std::vector<uint32_t> flag(1, 0), out(1, 0);
  EXPECT_EQ(runBlocks(*m, "wait_warp", 1, 64, {&flag, &out}), "");
  EXPECT_EQ(out[0], 5000u);
}

TEST(PtxSim, UnsupportedAtomicsAreParseErrors) {
  struct Case {
    const char *inst, *message;
  } cases[] = {
      {"atom.global.cas.b128 %r1, [%rd1], %r2, %r3;",
       "unsupported instruction 'atom.global.cas.b128' (this operation is "
       "simulated on .b32 or .b64)"},
      {"atom.global.or.u32 %r1, [%rd1], 1;",
       "unsupported instruction 'atom.global.or.u32' (this operation is "
       "simulated on .b32 or .b64)"},
      {"atom.global.add.b32 %r1, [%rd1], 1;",
       "unsupported instruction 'atom.global.add.b32' (this operation is "
       "simulated on .u32, .s32, .u64, .f32 or .f64)"},
      {"atom.global.add.noftz.f16 %rs1, [%rd1], %rs2;",
       "unsupported instruction 'atom.global.add.noftz.f16' (modifier "
       "'.noftz' not simulated)"},
      {"atom.cluster.global.add.u32 %r1, [%rd1], 1;",
       "unsupported instruction 'atom.cluster.global.add.u32' (modifier "
       "'.cluster' not simulated)"},
      {"atom.shared.add.u32 %r1, [%rd1], 1;",
       "unsupported instruction 'atom.shared.add.u32' (atomics on shared "
       "memory are not simulated)"},
      {"red.acquire.gpu.global.add.u32 [%rd1], 1;",
       "unsupported instruction 'red.acquire.gpu.global.add.u32' (red is "
       ".relaxed or .release)"},
      {"red.global.exch.b32 [%rd1], 1;",
       "unsupported instruction 'red.global.exch.b32' (red has no .exch; "
       "atom does)"},
      {"atom.global.cas.b32 %r1, [%rd1], 1;", "atom takes d, [a], b, c"},
      {"red.global.add.u32 %r1, [%rd1], 1;", "red takes [a], b"},
      {"ld.acquire.global.u32 %r1, [%rd1];",
       "'ld.acquire.global.u32': a relaxed, acquire or release access needs "
       "a scope (.cta, .gpu or .sys)"},
      {"st.acquire.gpu.global.u32 [%rd1], 1;",
       "unsupported modifier '.acquire' in 'st.acquire.gpu.global.u32'"},
  };
  for (const Case &c : cases) {
    std::string error;
    EXPECT_FALSE(parsePtx(kHeader + entry("k", {}, {".b32", ".b16", ".b64"},
                                          "\n  " + std::string(c.inst) + "\n"),
                          error))
        << c.inst;
    EXPECT_EQ(error, std::string("line 9: ") + c.message) << c.inst;
  }
}

TEST(PtxSim, AtomicsAreCheckedLikeOtherAccesses) {
  auto m = parseKernels({".shared .align 4 .b8 tile[64];\n",
                         entry("misaligned", {"buf"}, {".b32", ".b64"}, R"(
  atom.global.add.u32 %r1, [%rd1+2], 1;
  ret;
)"),
                         entry("outside", {"buf"}, {".b64"}, R"(
  red.release.gpu.global.add.u64 [%rd1+64], 1;
  ret;
)"),
                         entry("on_shared", {}, {".b32", ".b64"}, R"(
  mov.u64 %rd1, tile;
  cvta.shared.u64 %rd2, %rd1;
  atom.add.u32 %r1, [%rd2], 1;
  ret;
)")});
  std::vector<uint32_t> buf(16, 0);
  EXPECT_TRUE(contains(runBlocks(*m, "misaligned", 1, 1, {&buf}),
                       "kernel misaligned block (0,0,0) thread (0,0,0), PTX "
                       "line 11: misaligned address " +
                           hexOf(buf.data(), 2) + " for an access of 4 bytes"));
  EXPECT_TRUE(contains(runBlocks(*m, "outside", 1, 1, {&buf}),
                       "PTX line 18: global atomic of 8 bytes at " +
                           hexOf(buf.data(), 64) + " is out of bounds"));
  EXPECT_TRUE(contains(runBlocks(*m, "on_shared", 1, 1, {}),
                       "PTX line 27: atomic on shared memory at 0x"));
  EXPECT_EQ(buf, std::vector<uint32_t>(16, 0));
}

TEST(PtxSim, DependentLaunchTakesATicketBeforeItsWait) {
  // `producer` stores out[tid] and loads in[tid]. A dependent launch after
  // it may take a ticket (an atomic) before its wait on a counter the
  // producer does not touch (a memset zeroed it before the step), not on
  // what the producer stored or loaded; a store before the wait stays an
  // error.
  auto m = parseKernels({entry("producer", {"out", "in"}, {".b32", ".b64"}, R"(
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd4, %rd2, %rd3;
  ld.global.u32 %r2, [%rd4];
  add.s64 %rd5, %rd1, %rd3;
  st.global.u32 [%rd5], %r2;
  ret;
)"),
                         entry("ticket", {"counter"}, {".b32", ".b64"}, R"(
  atom.global.add.u32 %r1, [%rd1], 1;
  griddepcontrol.wait;
  ret;
)"),
                         entry("early_store", {"counter"}, {".b64"}, R"(
  st.relaxed.gpu.global.u32 [%rd1], 1;
  griddepcontrol.wait;
  ret;
)")});
  std::vector<uint32_t> out(4, 0), in(4, 3), counter(1, 0);
  MemoryMap memory;
  for (auto *b : {&out, &in, &counter})
    memory.add(b->data(), b->size() * 4);
  uint32_t *pout = out.data(), *pin = in.data(), *pcounter = counter.data();
  void *producerParams[] = {&pout, &pin};
  LaunchDims dims;
  dims.block[0] = 4;
  std::string error;
  std::vector<KernelWrites> running(1);
  running[0].name = "producer";
  ASSERT_TRUE(launch(*m, *m->kernel("producer"), dims, producerParams, memory,
                     error, nullptr, nullptr, &running[0].written, nullptr,
                     &running[0].read))
      << error;
  DependentLaunch dependent{&running};
  void *counterParams[] = {&pcounter};
  EXPECT_TRUE(launch(*m, *m->kernel("ticket"), dims, counterParams, memory,
                     error, nullptr, &dependent))
      << error;
  EXPECT_EQ(counter[0], 4u);
  for (auto [p, what] :
       {std::make_pair(&pout, "wrote"), std::make_pair(&pin, "read")}) {
    error.clear();
    void *params[] = {p};
    EXPECT_FALSE(launch(*m, *m->kernel("ticket"), dims, params, memory, error,
                        nullptr, &dependent));
    EXPECT_TRUE(
        contains(error, "kernel ticket block (0,0,0) thread (0,0,0), PTX "
                        "line 24: global atomic of 4 bytes at " +
                            hexOf(*p) +
                            " before griddepcontrol.wait touches what "
                            "producer, the kernel before this dependent "
                            "launch, " +
                            what));
  }
  error.clear();
  EXPECT_FALSE(launch(*m, *m->kernel("early_store"), dims, counterParams,
                      memory, error, nullptr, &dependent));
  EXPECT_TRUE(contains(error, "global store of 4 bytes at " + hexOf(pcounter) +
                                  " before griddepcontrol.wait in a dependent "
                                  "launch"));
}

TEST(PtxSim, FencesAndScopedAccessesParse) {
  auto m = parseKernels({entry("k", {"buf"}, {".b32", ".b64"}, R"(
  fence.sc.sys;
  fence.acq_rel.cta;
  fence.proxy.async;
  membar.cta;
  membar.sys;
  ld.relaxed.cta.global.u32 %r1, [%rd1];
  st.release.sys.global.u32 [%rd1+4], %r1;
  ld.volatile.global.u32 %r2, [%rd1+4];
  atom.cta.global.exch.b64 %rd2, [%rd1+8], 5;
  ret;
)")});
  ASSERT_TRUE(m);
  const Function &k = *m->kernel("k");
  EXPECT_EQ(k.code[1].op, Op::Fence);
  EXPECT_EQ(k.code[2].op, Op::Nop);
  EXPECT_EQ(k.code[3].op, Op::Nop);
  EXPECT_EQ(k.code[4].op, Op::Nop);
  EXPECT_EQ(k.code[5].op, Op::Fence);
  EXPECT_EQ(k.code[6].sem, Sem::Relaxed);
  EXPECT_TRUE(k.code[6].flags & kScopeCta);
  EXPECT_EQ(k.code[7].sem, Sem::Release);
  EXPECT_EQ(k.code[8].sem, Sem::Volatile);
  EXPECT_EQ(k.code[9].atom, AtomOp::Exch);
  std::vector<uint32_t> buf{7, 0, 1, 2};
  EXPECT_EQ(runBlocks(*m, "k", 1, 1, {&buf}), "");
  EXPECT_EQ(buf, (std::vector<uint32_t>{7, 7, 5, 0}));
}

TEST(PtxSim, CtaScopedAtomicsOfTwoBlocksRace) {
  // .cta atomics are atomic within a block only.
  auto m = parseKernels({entry("k", {"counter"}, {".b32", ".b64"}, R"(
  atom.cta.global.add.u32 %r1, [%rd1], 1;
  ret;
)")});
  std::vector<uint32_t> counter(1, 0);
  EXPECT_TRUE(contains(runBlocks(*m, "k", 2, 1, {&counter}),
                       "global race: read-modify-write of byte " +
                           hexOf(counter.data()) +
                           ", which block (0,0,0) of this launch stored to"));
}

//===----------------------------------------------------------------------===//
// mma.sync m16n8k32 with 8-bit integers
//===----------------------------------------------------------------------===//

/// Each lane loads its A, B and C registers ([lane][register]), runs the
/// mma.sync of `types` (e.g. "u8.s8") and stores D the same way.
std::string mmaKernel(const std::string &types,
                      const std::string &before = "") {
  return entry(
      "mma", {"a", "b", "c", "d"}, {".b32", ".b64", ".pred"},
      R"(
  mov.u32 %r1, %tid.x;
)" + before +
          R"(
  mul.wide.u32 %rd5, %r1, 16;
  add.s64 %rd6, %rd1, %rd5;
  ld.global.v4.u32 {%r2, %r3, %r4, %r5}, [%rd6];
  mul.wide.u32 %rd7, %r1, 8;
  add.s64 %rd8, %rd2, %rd7;
  ld.global.v2.u32 {%r6, %r7}, [%rd8];
  add.s64 %rd9, %rd3, %rd5;
  ld.global.v4.u32 {%r8, %r9, %r10, %r11}, [%rd9];
  mma.sync.aligned.m16n8k32.row.col.)" +
          types +
          R"( {%r12, %r13, %r14, %r15}, {%r2, %r3, %r4, %r5}, {%r6, %r7}, {%r8, %r9, %r10, %r11};
  add.s64 %rd10, %rd4, %rd5;
  st.global.v4.u32 [%rd10], {%r12, %r13, %r14, %r15};
  ret;
)");
}

/// Four 8-bit elements in a register, element 0 in the lowest byte.
uint32_t packBytes(int e0, int e1, int e2, int e3) {
  return uint32_t(uint8_t(e0)) | uint32_t(uint8_t(e1)) << 8 |
         uint32_t(uint8_t(e2)) << 16 | uint32_t(uint8_t(e3)) << 24;
}

/// The fragments of the PTX ISA's m16n8k32 8-bit layout, lane = 4 groupID
/// + threadID_in_group (g, t): A (row-major 16 x 32) a0..a3 = row g, columns
/// 4t..4t+3; a4..a7 row g+8, the same columns; a8..a11 row g, columns
/// 16+4t..; a12..a15 row g+8, columns 16+4t... B (32 x 8, column-major)
/// b0..b3 = rows 4t..4t+3 of column g, b4..b7 rows 16+4t... C and D c0, c1
/// = row g, columns 2t, 2t+1; c2, c3 = row g+8, the same columns.
struct MmaMatrices {
  int a[16][32], b[32][8];
  int32_t c[16][8];
  std::vector<uint32_t> aRegs() const {
    std::vector<uint32_t> out;
    for (int lane = 0; lane < 32; ++lane) {
      int g = lane / 4, t = lane % 4;
      const int *r0 = &a[g][4 * t], *r1 = &a[g + 8][4 * t];
      const int *r2 = &a[g][16 + 4 * t], *r3 = &a[g + 8][16 + 4 * t];
      for (const int *r : {r0, r1, r2, r3})
        out.push_back(packBytes(r[0], r[1], r[2], r[3]));
    }
    return out;
  }
  std::vector<uint32_t> bRegs() const {
    std::vector<uint32_t> out;
    for (int lane = 0; lane < 32; ++lane) {
      int g = lane / 4, t = lane % 4;
      out.push_back(packBytes(b[4 * t][g], b[4 * t + 1][g], b[4 * t + 2][g],
                              b[4 * t + 3][g]));
      out.push_back(packBytes(b[16 + 4 * t][g], b[17 + 4 * t][g],
                              b[18 + 4 * t][g], b[19 + 4 * t][g]));
    }
    return out;
  }
  std::vector<uint32_t> cRegs() const {
    std::vector<uint32_t> out;
    for (int lane = 0; lane < 32; ++lane) {
      int g = lane / 4, t = lane % 4;
      for (int32_t v :
           {c[g][2 * t], c[g][2 * t + 1], c[g + 8][2 * t], c[g + 8][2 * t + 1]})
        out.push_back(uint32_t(v));
    }
    return out;
  }
  /// Every element of A `a`, of B `b`, of C `c`.
  static MmaMatrices filled(int a, int b, int32_t c) {
    MmaMatrices x{};
    for (auto &row : x.a)
      std::fill(std::begin(row), std::end(row), a);
    for (auto &row : x.b)
      std::fill(std::begin(row), std::end(row), b);
    for (auto &row : x.c)
      std::fill(std::begin(row), std::end(row), c);
    return x;
  }
  /// D[m][n] from the registers the kernel stored.
  static int32_t dAt(const std::vector<uint32_t> &d, int m, int n) {
    int g = m % 8, t = n / 2;
    return int32_t(d[(4 * g + t) * 4 + 2 * (m / 8) + n % 2]);
  }
};

/// Runs mmaKernel(types) on `x` with `threads` threads; D's registers in `d`.
std::string runMma(const std::string &types, const MmaMatrices &x,
                   std::vector<uint32_t> &d, unsigned threads = 32,
                   const std::string &before = "") {
  auto m = parseKernels({mmaKernel(types, before)});
  if (!m)
    return "parse error";
  std::vector<uint32_t> a = x.aRegs(), b = x.bRegs(), c = x.cRegs();
  d.assign(128, 0);
  return run<uint32_t>(*m, "mma", threads, {&a, &b, &c, &d});
}

TEST(PtxSim, MmaPlacesEveryFragment) {
  // A picks rows m and m + 16 of B (A[m][m] = A[m][m + 16] = 1), B[k][n] =
  // 8k + n - 128 (every s8 value once), C[m][n] = 1000m + n: D[m][n] =
  // 1000m + n + (8m + n - 128) + (8(m + 16) + n - 128) = 1016m + 3n - 128.
  MmaMatrices x{};
  for (int m = 0; m < 16; ++m) {
    x.a[m][m] = x.a[m][m + 16] = 1;
    for (int n = 0; n < 8; ++n)
      x.c[m][n] = 1000 * m + n;
  }
  for (int k = 0; k < 32; ++k)
    for (int n = 0; n < 8; ++n)
      x.b[k][n] = 8 * k + n - 128;
  std::vector<uint32_t> d;
  ASSERT_EQ(runMma("s32.u8.s8.s32", x, d), "");
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n)
      EXPECT_EQ(MmaMatrices::dAt(d, m, n), 1016 * m + 3 * n - 128)
          << m << "," << n;
}

TEST(PtxSim, MmaTakesEachOperandsSignedness) {
  // Every byte 0xff: 255 as u8, -1 as s8; D = 32 a b.
  MmaMatrices x = MmaMatrices::filled(0xff, 0xff, 0);
  for (auto [types, want] :
       {std::pair<const char *, int32_t>{"s32.u8.s8.s32", -8160},
        {"s32.s8.s8.s32", 32},
        {"s32.u8.u8.s32", 2080800},
        {"s32.s8.u8.s32", -8160}}) {
    std::vector<uint32_t> d;
    ASSERT_EQ(runMma(types, x, d), "") << types;
    for (uint32_t v : d)
      EXPECT_EQ(int32_t(v), want) << types;
  }
}

TEST(PtxSim, MmaWrapsOrSaturates) {
  // C = INT32_MAX, A = B = 1: D = INT32_MAX + 32, which wraps to INT32_MIN +
  // 31, or with .satfinite stays INT32_MAX.
  MmaMatrices x = MmaMatrices::filled(1, 1, INT32_MAX);
  std::vector<uint32_t> d;
  ASSERT_EQ(runMma("s32.u8.s8.s32", x, d), "");
  for (uint32_t v : d)
    EXPECT_EQ(int32_t(v), INT32_MIN + 31);
  ASSERT_EQ(runMma("satfinite.s32.u8.s8.s32", x, d), "");
  for (uint32_t v : d)
    EXPECT_EQ(int32_t(v), INT32_MAX);
}

TEST(PtxSim, MmaNeedsTheWholeWarp) {
  MmaMatrices x{};
  std::vector<uint32_t> d;
  EXPECT_TRUE(contains(runMma("s32.u8.s8.s32", x, d, 16),
                       "mma.sync in a warp of 16 threads (it takes all 32 "
                       "lanes)"));
  // Lane 5 exits before the product.
  EXPECT_TRUE(contains(runMma("s32.u8.s8.s32", x, d, 32, R"(
  setp.eq.u32 %p1, %r1, 5;
  @%p1 ret;
)"),
                       "mma.sync while lane 5 has exited"));
}

TEST(PtxSim, OtherMmaShapesAreParseErrors) {
  for (auto [body, message] : std::vector<std::pair<std::string, std::string>>{
           {mmaKernel("f32.f16.f16.f32"),
            "unsupported instruction "
            "'mma.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32' (of mma, only "
            "mma.sync.aligned.m16n8k32.row.col.s32 with u8 or s8 A and B and "
            "s32 C is simulated)"},
           {entry("mma", {}, {".b32"}, R"(
  mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%r1, %r2, %r3, %r4}, {%r1, %r2, %r3, %r4}, {%r1, %r2}, {%r1, %r2, %r3};
  ret;
)"),
            "mma.sync.aligned.m16n8k32 takes {d0, d1, d2, d3}, {a0, a1, a2, "
            "a3}, {b0, b1}, {c0, c1, c2, c3}, all registers"}}) {
    std::string error;
    EXPECT_FALSE(parsePtx(std::string(kHeader) + "\n" + body, error));
    EXPECT_TRUE(contains(error, message)) << error;
  }
}

} // namespace
