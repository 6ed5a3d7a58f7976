//===- CpuFeatures.cpp - CPU features of the running machine --------------===//
//
// The cpuid bits follow LLVM's sys::getHostCPUFeatures (TargetParser/Host.cpp)
// so that a name means here what it meant to the compiler.
//
//===----------------------------------------------------------------------===//
#include "runtime/engine/CpuFeatures.h"

#include <cstdint>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace zamba2 {

namespace {

#if defined(__x86_64__)
struct Regs {
  uint32_t a = 0, b = 0, c = 0, d = 0;
};

bool cpuid(uint32_t leaf, uint32_t sub, Regs &r) {
  return __get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d) != 0;
}

uint64_t readXcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

bool bit(uint32_t word, int n) { return (word >> n) & 1; }

std::map<std::string, bool> detect() {
  std::map<std::string, bool> f;
  Regs r;
  uint32_t maxLeaf = __get_cpuid_max(0, nullptr);
  if (maxLeaf < 1 || !cpuid(1, 0, r))
    return f;

  f["x87"] = true; // part of x86-64
  f["cx8"] = bit(r.d, 8);
  f["cmov"] = bit(r.d, 15);
  f["mmx"] = bit(r.d, 23);
  f["fxsr"] = bit(r.d, 24);
  f["sse"] = bit(r.d, 25);
  f["sse2"] = bit(r.d, 26);
  f["sse3"] = bit(r.c, 0);
  f["pclmul"] = bit(r.c, 1);
  f["ssse3"] = bit(r.c, 9);
  f["cx16"] = bit(r.c, 13);
  f["sse4.1"] = bit(r.c, 19);
  f["sse4.2"] = bit(r.c, 20);
  f["crc32"] = f["sse4.2"];
  f["movbe"] = bit(r.c, 22);
  f["popcnt"] = bit(r.c, 23);
  f["aes"] = bit(r.c, 25);
  f["rdrnd"] = bit(r.c, 30);

  // The OS must save the wider registers on context switch (XCR0): YMM for
  // AVX, opmask/ZMM for AVX-512, tile state for AMX.
  bool osxsave = bit(r.c, 27);
  uint64_t xcr0 = osxsave ? readXcr0() : 0;
  bool avxSave = osxsave && bit(r.c, 28) && (xcr0 & 0x6) == 0x6;
  bool avx512Save = avxSave && (xcr0 & 0xe0) == 0xe0;
  const uint64_t amxBits = (1u << 17) | (1u << 18);
  bool amxSave = osxsave && (xcr0 & amxBits) == amxBits;

  f["avx"] = avxSave;
  f["fma"] = bit(r.c, 12) && avxSave;
  f["xsave"] = bit(r.c, 26) && avxSave;
  f["f16c"] = bit(r.c, 29) && avxSave;
  f["evex512"] = avx512Save; // LLVM 18-20 name for 512-bit AVX-512 vectors

  uint32_t maxExt = __get_cpuid_max(0x80000000, nullptr);
  bool ext1 = maxExt >= 0x80000001 && cpuid(0x80000001, 0, r);
  f["sahf"] = ext1 && bit(r.c, 0);
  f["lzcnt"] = ext1 && bit(r.c, 5);
  f["sse4a"] = ext1 && bit(r.c, 6);
  f["prfchw"] = ext1 && bit(r.c, 8);
  f["xop"] = ext1 && bit(r.c, 11) && avxSave;
  f["lwp"] = ext1 && bit(r.c, 15);
  f["fma4"] = ext1 && bit(r.c, 16) && avxSave;
  f["tbm"] = ext1 && bit(r.c, 21);
  f["mwaitx"] = ext1 && bit(r.c, 29);
  f["64bit"] = ext1 && bit(r.d, 29);

  bool ext8 = maxExt >= 0x80000008 && cpuid(0x80000008, 0, r);
  f["clzero"] = ext8 && bit(r.b, 0);
  f["rdpru"] = ext8 && bit(r.b, 4);
  f["wbnoinvd"] = ext8 && bit(r.b, 9);

  bool leaf7 = maxLeaf >= 7 && cpuid(7, 0, r);
  uint32_t leaf7MaxSub = leaf7 ? r.a : 0;
  f["fsgsbase"] = leaf7 && bit(r.b, 0);
  f["sgx"] = leaf7 && bit(r.b, 2);
  f["bmi"] = leaf7 && bit(r.b, 3);
  f["avx2"] = leaf7 && bit(r.b, 5) && avxSave;
  f["bmi2"] = leaf7 && bit(r.b, 8);
  f["invpcid"] = leaf7 && bit(r.b, 10);
  f["rtm"] = leaf7 && bit(r.b, 11);
  f["avx512f"] = leaf7 && bit(r.b, 16) && avx512Save;
  f["avx512dq"] = leaf7 && bit(r.b, 17) && avx512Save;
  f["rdseed"] = leaf7 && bit(r.b, 18);
  f["adx"] = leaf7 && bit(r.b, 19);
  f["avx512ifma"] = leaf7 && bit(r.b, 21) && avx512Save;
  f["clflushopt"] = leaf7 && bit(r.b, 23);
  f["clwb"] = leaf7 && bit(r.b, 24);
  f["avx512pf"] = leaf7 && bit(r.b, 26) && avx512Save;
  f["avx512er"] = leaf7 && bit(r.b, 27) && avx512Save;
  f["avx512cd"] = leaf7 && bit(r.b, 28) && avx512Save;
  f["sha"] = leaf7 && bit(r.b, 29);
  f["avx512bw"] = leaf7 && bit(r.b, 30) && avx512Save;
  f["avx512vl"] = leaf7 && bit(r.b, 31) && avx512Save;
  f["prefetchwt1"] = leaf7 && bit(r.c, 0);
  f["avx512vbmi"] = leaf7 && bit(r.c, 1) && avx512Save;
  f["pku"] = leaf7 && bit(r.c, 4);
  f["waitpkg"] = leaf7 && bit(r.c, 5);
  f["avx512vbmi2"] = leaf7 && bit(r.c, 6) && avx512Save;
  f["shstk"] = leaf7 && bit(r.c, 7);
  f["gfni"] = leaf7 && bit(r.c, 8);
  f["vaes"] = leaf7 && bit(r.c, 9) && avxSave;
  f["vpclmulqdq"] = leaf7 && bit(r.c, 10) && avxSave;
  f["avx512vnni"] = leaf7 && bit(r.c, 11) && avx512Save;
  f["avx512bitalg"] = leaf7 && bit(r.c, 12) && avx512Save;
  f["avx512vpopcntdq"] = leaf7 && bit(r.c, 14) && avx512Save;
  f["rdpid"] = leaf7 && bit(r.c, 22);
  f["kl"] = leaf7 && bit(r.c, 23);
  f["cldemote"] = leaf7 && bit(r.c, 25);
  f["movdiri"] = leaf7 && bit(r.c, 27);
  f["movdir64b"] = leaf7 && bit(r.c, 28);
  f["enqcmd"] = leaf7 && bit(r.c, 29);
  f["uintr"] = leaf7 && bit(r.d, 5);
  f["avx512vp2intersect"] = leaf7 && bit(r.d, 8) && avx512Save;
  f["serialize"] = leaf7 && bit(r.d, 14);
  f["tsxldtrk"] = leaf7 && bit(r.d, 16);
  f["pconfig"] = leaf7 && bit(r.d, 18);
  f["amx-bf16"] = leaf7 && bit(r.d, 22) && amxSave;
  f["avx512fp16"] = leaf7 && bit(r.d, 23) && avx512Save;
  f["amx-tile"] = leaf7 && bit(r.d, 24) && amxSave;
  f["amx-int8"] = leaf7 && bit(r.d, 25) && amxSave;

  bool leaf7s1 = leaf7 && leaf7MaxSub >= 1 && cpuid(7, 1, r);
  f["sha512"] = leaf7s1 && bit(r.a, 0);
  f["sm3"] = leaf7s1 && bit(r.a, 1);
  f["sm4"] = leaf7s1 && bit(r.a, 2);
  f["raoint"] = leaf7s1 && bit(r.a, 3);
  f["avxvnni"] = leaf7s1 && bit(r.a, 4) && avxSave;
  f["avx512bf16"] = leaf7s1 && bit(r.a, 5) && avx512Save;
  f["cmpccxadd"] = leaf7s1 && bit(r.a, 7);
  f["amx-fp16"] = leaf7s1 && bit(r.a, 21) && amxSave;
  f["hreset"] = leaf7s1 && bit(r.a, 22);
  f["avxifma"] = leaf7s1 && bit(r.a, 23) && avxSave;
  f["movrs"] = leaf7s1 && bit(r.a, 31);
  f["avxvnniint8"] = leaf7s1 && bit(r.d, 4) && avxSave;
  f["avxneconvert"] = leaf7s1 && bit(r.d, 5) && avxSave;
  f["amx-complex"] = leaf7s1 && bit(r.d, 8) && amxSave;
  f["avxvnniint16"] = leaf7s1 && bit(r.d, 10) && avxSave;
  f["prefetchi"] = leaf7s1 && bit(r.d, 14);
  f["usermsr"] = leaf7s1 && bit(r.d, 15);
  bool avx10 = leaf7s1 && bit(r.d, 19);
  bool apx = leaf7s1 && bit(r.d, 21);
  for (const char *name :
       {"egpr", "push2pop2", "ppx", "ndd", "ccmp", "nf", "cf", "zu"})
    f[name] = apx;

  bool leafD = maxLeaf >= 0xd && cpuid(0xd, 1, r);
  f["xsaveopt"] = leafD && bit(r.a, 0) && avxSave;
  f["xsavec"] = leafD && bit(r.a, 1) && avxSave;
  f["xsaves"] = leafD && bit(r.a, 3) && avxSave;

  bool leaf14 = maxLeaf >= 0x14 && cpuid(0x14, 0, r);
  f["ptwrite"] = leaf14 && bit(r.b, 4);

  bool leaf19 = maxLeaf >= 0x19 && cpuid(0x19, 0, r);
  f["widekl"] = leaf7 && leaf19 && bit(r.b, 2);

  bool leaf1E = maxLeaf >= 0x1e && cpuid(0x1e, 1, r);
  f["amx-fp8"] = leaf1E && bit(r.a, 4) && amxSave;
  f["amx-transpose"] = leaf1E && bit(r.a, 5) && amxSave;
  f["amx-tf32"] = leaf1E && bit(r.a, 6) && amxSave;
  f["amx-avx512"] = leaf1E && bit(r.a, 7) && amxSave;
  f["amx-movrs"] = leaf1E && bit(r.a, 8) && amxSave;

  bool leaf24 = maxLeaf >= 0x24 && cpuid(0x24, 0, r);
  uint32_t avx10Version = leaf24 ? (r.b & 0xff) : 0;
  bool avx10Wide = leaf24 && bit(r.b, 18);
  f["avx10.1"] = avx10 && avx10Version >= 1;
  f["avx10.2"] = avx10 && avx10Version >= 2;
  // Names of LLVM 18-20.
  f["avx10.1-256"] = f["avx10.1"];
  f["avx10.1-512"] = f["avx10.1"] && avx10Wide;
  f["avx10.2-256"] = f["avx10.2"];
  f["avx10.2-512"] = f["avx10.2"] && avx10Wide;
  return f;
}
#else
std::map<std::string, bool> detect() { return {}; }
#endif

} // namespace

const std::map<std::string, bool> &hostCpuFeatures() {
  static const std::map<std::string, bool> features = detect();
  return features;
}

std::vector<std::string> supportedCpuFeatures() {
  std::vector<std::string> out;
  for (const auto &[name, has] : hostCpuFeatures())
    if (has)
      out.push_back(name);
  return out;
}

Status checkCpuFeatures(const std::vector<std::string> &features,
                        const std::string &manifestPath,
                        const std::map<std::string, bool> &host) {
  std::vector<std::string> unknown, missing;
  for (const std::string &raw : features) {
    if (!raw.empty() && raw[0] == '-')
      continue;
    std::string name = !raw.empty() && raw[0] == '+' ? raw.substr(1) : raw;
    auto it = host.find(name);
    if (it == host.end())
      unknown.push_back(name);
    else if (!it->second)
      missing.push_back(name);
  }
  auto list = [](const std::vector<std::string> &names) {
    std::string s;
    for (const std::string &n : names)
      s += (s.empty() ? "'" : ", '") + n + "'";
    return s;
  };
  if (!unknown.empty()) {
    std::string why = host.empty()
                          ? "this runtime cannot check CPU features on this "
                            "architecture"
                          : "not an LLVM x86 feature name this runtime can "
                            "check";
    return Status::error(StatusCode::Unsupported,
                         manifestPath +
                             ": field 'target.features': unknown "
                             "CPU feature" +
                             (unknown.size() > 1 ? "s " : " ") + list(unknown) +
                             " (" + why + "; the package is refused)");
  }
  if (!missing.empty())
    return Status::error(StatusCode::Unsupported,
                         manifestPath + ": package needs CPU feature" +
                             (missing.size() > 1 ? "s " : " ") + list(missing) +
                             " that this CPU lacks");
  return Status::ok();
}

} // namespace zamba2
