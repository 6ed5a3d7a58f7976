//===- Package.cpp - A loaded zamba2c package -----------------------------===//
#include "runtime/engine/Package.h"

#include "runtime/core/ThreadPool.h"
#include "runtime/cuda/Cuda.h"
#include "runtime/engine/CpuFeatures.h"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace zamba2 {

namespace {

Status ioError(const std::string &path, const char *what, int err) {
  return Status::error(StatusCode::Io,
                       path + ": " + what + ": " + std::strerror(err));
}

/// Stand-in for the weights of a package whose weights.bin is empty (mmap
/// cannot map 0 bytes): a valid, aligned, never-read address.
alignas(64) const unsigned char kNoWeights[64] = {};

} // namespace

std::string manifestSignature(const PackageManifest &m) {
  std::string out = "vocab=" + std::to_string(m.vocabSize);
  for (const StateSpec &st : m.state) {
    out += ";" + st.name + ":" + st.dtype + "[";
    for (size_t i = 0; i < st.shape.size(); ++i) {
      const StateDim &d = st.shape[i];
      out += (i ? "," : "") +
             (d.kind == StateDim::Kind::Batch ? std::string("batch")
              : d.kind == StateDim::Kind::Seq ? std::string("seq")
                                              : std::to_string(d.size));
    }
    out += "]";
  }
  return out;
}

Status Package::open(const std::string &dirIn, std::shared_ptr<Package> &out,
                     const PackageOpenOptions &options) {
  out.reset();
  std::string dir = dirIn;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  if (dir.empty())
    return Status::error(StatusCode::InvalidArgument,
                         "empty package directory name");
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    return ioError(dir, "cannot open package directory", errno);
  if (!S_ISDIR(st.st_mode))
    return Status::error(StatusCode::Io,
                         dir + ": not a package directory (a package is a "
                               "directory holding manifest.json)");

  std::unique_ptr<Package> p(new Package());
  p->dirPath = dir;
  PackageManifest &m = p->man;
  std::string manifestPath = dir + "/manifest.json";
  if (Status s = readManifestFile(manifestPath, m); !s)
    return s;

  if (m.targetKind == "cuda") {
    // The GPU module is loaded by a constructor of model.so at dlopen: the
    // driver and the architecture are checked before that.
    std::string why;
    if (!cudaAvailable(why))
      return Status::error(StatusCode::Unsupported,
                           manifestPath + ": a CUDA package, but " + why);
    if (!cudaCheckTarget(m.targetGpu, /*ptx=*/false, why))
      return Status::error(StatusCode::Unsupported,
                           manifestPath + ": field 'target.gpu': " + why);
  } else if (m.targetKind != "cpu")
    return Status::error(StatusCode::Unsupported,
                         manifestPath +
                             ": field 'target.kind': unknown target "
                             "kind '" +
                             m.targetKind + "' (expected 'cpu')");
#if defined(__x86_64__)
  // The code's architecture: the triple's first component.
  if (!m.triple.empty()) {
    std::string arch = m.triple.substr(0, m.triple.find('-'));
    if (arch != "x86_64" && arch != "amd64")
      return Status::error(StatusCode::Unsupported,
                           manifestPath +
                               ": field 'target.triple': package "
                               "is compiled for '" +
                               m.triple + "', this runtime runs on x86_64");
  }
#endif
  if (Status s = checkCpuFeatures(m.features, manifestPath,
                                  options.cpuFeatures ? *options.cpuFeatures
                                                      : hostCpuFeatures());
      !s)
    return s;
  if (m.abiVersion != kRuntimeAbiVersion)
    return Status::error(StatusCode::Unsupported,
                         manifestPath + ": field 'abi_version': ABI version " +
                             std::to_string(m.abiVersion) +
                             " is not supported (this runtime implements "
                             "version " +
                             std::to_string(kRuntimeAbiVersion) + ")");

  if (Status s = p->mapWeights(); !s)
    return s;
  if (Status s = p->loadLibrary(); !s)
    return s;
  out.reset(p.release());
  return Status::ok();
}

Status Package::mapWeights() {
  std::string path = dirPath + "/" + man.weightsFile;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ioError(path, "cannot open", errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return ioError(path, "cannot stat", e);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size != man.weightsBytes) {
    ::close(fd);
    return Status::error(StatusCode::Format,
                         path + ": size is " + std::to_string(size) +
                             " bytes, but manifest.json says weights.bytes = " +
                             std::to_string(man.weightsBytes));
  }
  if (size == 0) {
    ::close(fd);
    weightsData = kNoWeights;
    return Status::ok();
  }
  void *m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);
  if (m == MAP_FAILED)
    return ioError(path, "cannot mmap", e);
  mapping = m;
  mappingSize = size;
  weightsData = m;
  if (isCuda()) {
    // Upload once into device memory (the model's kernels read it there),
    // then drop the file mapping.
    std::string err;
    deviceWeights = cudaAllocDevice(size, err);
    if (!deviceWeights)
      return Status::error(StatusCode::OutOfMemory, path + ": " + err);
    if (!cudaCopyToDevice(deviceWeights, m, size, nullptr, err))
      return Status::error(StatusCode::Io, path + ": " + err);
    ::munmap(mapping, mappingSize);
    mapping = nullptr;
    weightsData = deviceWeights;
  }
  return Status::ok();
}

Status Package::loadLibrary() {
  std::string path = dirPath + "/" + man.library;
  // dlopen's own message for a missing file is less plain than this.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return ioError(path, "cannot open", errno);
  // The path holds a '/', so dlopen does not search the library path.
  library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = ::dlerror();
    return Status::error(StatusCode::Io, path + ": cannot load: " +
                                             (why ? why : "unknown error"));
  }
  if (std::string message; isCuda() && cudaTakeError(message))
    return Status::error(StatusCode::Unsupported,
                         path + ": loading its GPU code failed: " + message);
  auto lookup = [&](const std::string &name, void *&sym) -> Status {
    ::dlerror();
    sym = ::dlsym(library, name.c_str());
    if (!sym)
      return Status::error(StatusCode::Format,
                           path + ": symbol '" + name +
                               "' not found (is this a zamba2c model "
                               "library of abi_version " +
                               std::to_string(man.abiVersion) + "?)");
    return Status::ok();
  };
  void *abiSym = nullptr, *prefillSym = nullptr, *decodeSym = nullptr;
  if (Status s = lookup("zamba2_abi_version", abiSym); !s)
    return s;
  int32_t libAbi = reinterpret_cast<int32_t (*)()>(abiSym)();
  if (libAbi != man.abiVersion)
    return Status::error(StatusCode::Format,
                         path + ": zamba2_abi_version() returns " +
                             std::to_string(libAbi) +
                             ", but manifest.json says abi_version " +
                             std::to_string(man.abiVersion));
  if (Status s = lookup(man.prefillSymbol, prefillSym); !s)
    return s;
  if (Status s = lookup(man.decodeSymbol, decodeSym); !s)
    return s;
  prefillFn = reinterpret_cast<EntryPointFn>(prefillSym);
  decodeFn = reinterpret_cast<EntryPointFn>(decodeSym);
  // The shapes compiled into the code must be the manifest's: a manifest
  // edited or mismatched after compilation would otherwise make the model
  // write outside the buffers sized from it. (Optional symbol: hand-written
  // test models have none.)
  ::dlerror();
  if (void *sig = ::dlsym(library, "zamba2_model_signature")) {
    const char *compiled = reinterpret_cast<const char *(*)()>(sig)();
    std::string expected = manifestSignature(man);
    if (!compiled || expected != compiled) {
      // Name the first part that differs: "vocab=..." or one state tensor.
      auto parts = [](const std::string &text) {
        std::vector<std::string> out(1);
        for (char c : text) {
          if (c == ';')
            out.emplace_back();
          else
            out.back().push_back(c);
        }
        return out;
      };
      std::vector<std::string> a = parts(compiled ? compiled : ""),
                               b = parts(expected);
      size_t i = 0;
      while (i < a.size() && i < b.size() && a[i] == b[i])
        ++i;
      std::string lib = i < a.size() ? a[i] : "(nothing)";
      std::string mf = i < b.size() ? b[i] : "(nothing)";
      return Status::error(StatusCode::Format,
                           dirPath + "/manifest.json: does not match " + path +
                               ": the library has " + lib +
                               ", the manifest says " + mf);
    }
  }
  // A model with parallel loops runs them through a replaceable dispatcher,
  // serial until the runtime installs its thread pool. Optional: a model
  // without parallel loops has no such hook.
  ::dlerror();
  if (void *hook = ::dlsym(library, "zamba2_set_parallel_for")) {
    using SetParallelForFn =
        void (*)(void (*)(zamba2_loop_body, void *, int64_t, int64_t));
    reinterpret_cast<SetParallelForFn>(hook)(&zamba2_runtime_parallel_for);
    parallel = true;
  }
  return Status::ok();
}

Package::~Package() {
  if (library)
    ::dlclose(library);
  if (mapping)
    ::munmap(mapping, mappingSize);
  if (deviceWeights)
    cudaFree(deviceWeights);
}

} // namespace zamba2
