//===- Session.cpp - Inference session over a loaded package --------------===//
#include "runtime/engine/Session.h"

#include "runtime/cuda/Cuda.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace zamba2 {

namespace {

constexpr size_t kAlignment = 64;

/// 64-byte aligned, zeroed; nullptr when the allocation fails.
void *allocZeroed(uint64_t bytes) {
  if (bytes > SIZE_MAX - kAlignment)
    return nullptr;
  void *p = nullptr;
  size_t rounded =
      (static_cast<size_t>(bytes) + kAlignment - 1) & ~(kAlignment - 1);
  if (posix_memalign(&p, kAlignment, rounded ? rounded : kAlignment) != 0)
    return nullptr;
  std::memset(p, 0, rounded);
  return p;
}

/// A zeroed buffer the model can use: host memory, or device memory for a
/// CUDA package. nullptr when it fails.
void *allocBuffer(uint64_t bytes, bool device) {
  if (!device)
    return allocZeroed(bytes);
  std::string err;
  void *p = cudaAllocDevice(bytes ? bytes : kAlignment, err);
  if (p && !cudaZero(p, bytes, nullptr, err)) {
    cudaFree(p);
    return nullptr;
  }
  return p;
}

/// Whether decode steps are replayed from CUDA graphs: not while kernels are
/// timed one by one, nor with ZAMBA2_CUDA_GRAPHS=0.
bool graphsWanted() {
  const char *v = std::getenv("ZAMBA2_CUDA_GRAPHS");
  return !cudaProfiling() && !(v && std::string(v) == "0");
}

void freeBuffer(void *p, bool device) {
  if (device)
    cudaFree(p);
  else
    std::free(p);
}

/// a * b, false on overflow of int64 (both >= 0).
bool mulOk(int64_t a, int64_t b, int64_t &out) {
  return !__builtin_mul_overflow(a, b, &out);
}

std::string str(int64_t v) { return std::to_string(v); }

} // namespace

Session::HostBuffer::~HostBuffer() {
  if (pinned)
    cudaUnpinHost(data);
  std::free(data);
}

bool Session::HostBuffer::grow(uint64_t atLeast, bool pin) {
  if (atLeast <= bytes)
    return true;
  void *grown = allocZeroed(atLeast);
  if (!grown)
    return false;
  HostBuffer fresh;
  fresh.data = grown;
  fresh.bytes = atLeast;
  std::string ignored;
  fresh.pinned = pin && cudaPinHost(grown, atLeast, ignored);
  swap(fresh); // the old buffer goes with `fresh`
  return true;
}

void Session::HostBuffer::release() {
  HostBuffer none;
  swap(none); // freed with `none`
}

void Session::HostBuffer::swap(HostBuffer &other) {
  std::swap(data, other.data);
  std::swap(bytes, other.bytes);
  std::swap(pinned, other.pinned);
}

Status Session::create(std::shared_ptr<const Package> package, int64_t maxBatch,
                       int64_t maxSeq, std::unique_ptr<Session> &out) {
  out.reset();
  if (!package)
    return Status::error(StatusCode::InvalidArgument, "no package");
  if (maxBatch < 1)
    return Status::error(StatusCode::InvalidArgument,
                         "max batch must be at least 1, got " + str(maxBatch));
  if (maxSeq < 1)
    return Status::error(StatusCode::InvalidArgument,
                         "max sequence length must be at least 1, got " +
                             str(maxSeq));
  std::unique_ptr<Session> s(new Session());
  s->pkg = std::move(package);
  s->maxB = maxBatch;
  s->maxT = maxSeq;
  s->vocab = s->pkg->vocabSize();
  const PackageManifest &m = s->pkg->manifest();
  s->device = s->pkg->isCuda();

  for (const StateSpec &spec : m.state) {
    StateBuffer buf;
    int64_t elements = 1;
    bool ok = true;
    for (const StateDim &d : spec.shape) {
      int64_t n = d.kind == StateDim::Kind::Batch ? maxBatch
                  : d.kind == StateDim::Kind::Seq ? maxSeq
                                                  : d.size;
      buf.sizes.push_back(n);
      ok = ok && mulOk(elements, n, elements);
    }
    int64_t bytes = 0;
    ok = ok && mulOk(elements, static_cast<int64_t>(spec.elementSize), bytes);
    if (!ok)
      return Status::error(StatusCode::OutOfMemory,
                           "state '" + spec.name +
                               "': size overflows with "
                               "max batch " +
                               str(maxBatch) + " and max sequence " +
                               str(maxSeq));
    buf.bytes = static_cast<uint64_t>(bytes);
    buf.rowBytes = buf.bytes / static_cast<uint64_t>(maxBatch);
    buf.data = allocBuffer(buf.bytes, s->device);
    buf.desc = MemRefDescriptor(spec.shape.size());
    if (!buf.data)
      return Status::error(StatusCode::OutOfMemory,
                           "state '" + spec.name + "': cannot allocate " +
                               str(bytes) + " bytes (max batch " +
                               str(maxBatch) + ", max sequence " + str(maxSeq) +
                               ")");
    s->states.push_back(std::move(buf));
  }
  s->positions.assign(static_cast<size_t>(maxBatch), 0);
  s->callPositions.assign(static_cast<size_t>(maxBatch), 0);
  if (s->device) {
    std::string err;
    if (!(s->stream = cudaCreateStream(err)))
      return Status::error(StatusCode::Io,
                           "cannot create a CUDA stream: " + err);
    s->useGraphs = graphsWanted();
    int64_t inputs = 0, logitCount = 0;
    if (!mulOk(maxBatch, maxSeq + 1, inputs) ||
        !mulOk(maxBatch, s->vocab, logitCount) ||
        !s->hostInputs.grow(static_cast<uint64_t>(inputs) * 8, true) ||
        !(s->deviceInputs = static_cast<int64_t *>(
              allocBuffer(static_cast<uint64_t>(inputs) * 8, true))) ||
        !(s->decodeLogits =
              static_cast<float *>(allocBuffer(s->decodeStepBytes(), true))) ||
        !s->copiedLogits.grow(s->decodeStepBytes(), true))
      return Status::error(StatusCode::OutOfMemory,
                           "cannot allocate the GPU buffers for token ids and "
                           "logits (max batch " +
                               str(maxBatch) + ", max sequence " + str(maxSeq) +
                               ")");
  }
  // weights, tokens, positions, states..., logits
  s->descs.emplace_back(1);
  s->descs.emplace_back(2);
  s->descs.emplace_back(1);
  s->descs.emplace_back(3);
  s->args.resize(3 + s->states.size() + 1);
  out = std::move(s);
  return Status::ok();
}

Session::~Session() {
  graphs.clear();
  if (stream)
    cudaDestroyStream(stream); // waits for it first
  for (StateBuffer &b : states)
    freeBuffer(b.data, device);
  if (device) {
    cudaFree(deviceInputs);
    cudaFree(decodeLogits);
    cudaFree(prefillLogits);
  }
}

uint64_t Session::pinnedHostBytes() const {
  uint64_t bytes = 0;
  for (const HostBuffer *b :
       {&ownLogits, &hostInputs, &copiedLogits, &largeLogits})
    if (b->isPinned())
      bytes += b->size();
  return bytes;
}

int64_t Session::position(int64_t seq) const {
  if (seq < 0 || seq >= maxB)
    return -1;
  return positions[static_cast<size_t>(seq)];
}

Status Session::prefill(int64_t batch, int64_t len, const int64_t *ids,
                        float *logits) {
  return run(/*isDecode=*/false, batch, len, ids, logits);
}

Status Session::decode(int64_t batch, const int64_t *ids, float *logits) {
  return run(/*isDecode=*/true, batch, 1, ids, logits);
}

Status Session::run(bool isDecode, int64_t batch, int64_t len,
                    const int64_t *ids, float *logits) {
  const char *what = isDecode ? "decode" : "prefill";
  auto invalid = [&](const std::string &msg) {
    return Status::error(StatusCode::InvalidArgument,
                         std::string(what) + ": " + msg);
  };
  if (batch < 1 || batch > maxB)
    return invalid("batch size " + str(batch) + " is outside [1, " + str(maxB) +
                   "] (the session's max batch is " + str(maxB) + ")");
  if (len < 1)
    return invalid("sequence length must be at least 1, got " + str(len));
  if (!ids)
    return invalid("no token ids (null pointer)");
  for (int64_t b = 0; b < batch; ++b) {
    int64_t pos = positions[static_cast<size_t>(b)];
    if (len > maxT - pos)
      return Status::error(StatusCode::Capacity,
                           std::string(what) + ": sequence " + str(b) +
                               " is at position " + str(pos) + "; " + str(len) +
                               " more token" + (len == 1 ? "" : "s") +
                               " would exceed the session's max "
                               "sequence length " +
                               str(maxT));
  }
  for (int64_t i = 0; i < batch * len; ++i) {
    int64_t id = ids[i];
    if (id < 0 || id >= vocab)
      return invalid("token id " + str(id) + " at [" + str(i / len) + ", " +
                     str(i % len) + "] is outside the vocabulary [0, " +
                     str(vocab) + ")");
  }
  int64_t logitsCount = 0, logitsBytes = 0;
  if (!mulOk(batch * len, vocab, logitsCount) ||
      !mulOk(logitsCount, 4, logitsBytes))
    return Status::error(StatusCode::OutOfMemory,
                         std::string(what) + ": logits size overflows");
  if (device) {
    if (Status st = runDevice(isDecode, batch, len, ids, logits,
                              static_cast<uint64_t>(logitsBytes));
        !st)
      return st;
    for (int64_t b = 0; b < batch; ++b)
      positions[static_cast<size_t>(b)] += len;
    return Status::ok();
  }
  if (!logits) {
    if (Status st = growLogits(ownLogits, static_cast<uint64_t>(logitsBytes),
                               /*pin=*/false, what);
        !st)
      return st;
    logits = ownLogits.as<float>();
  }
  setDescriptors(batch, len, ids, callPositions.data(), logits);
  EntryPointFn fn = isDecode ? pkg->decodeEntry() : pkg->prefillEntry();
  fn(args.data());

  for (int64_t b = 0; b < batch; ++b)
    positions[static_cast<size_t>(b)] += len;
  return Status::ok();
}

Status Session::growLogits(HostBuffer &buffer, uint64_t bytes, bool pin,
                           const char *what) {
  if (!buffer.grow(bytes, pin))
    return Status::error(StatusCode::OutOfMemory,
                         std::string(what) + ": cannot allocate " +
                             std::to_string(bytes) + " bytes of logits");
  return Status::ok();
}

void Session::setDescriptors(int64_t batch, int64_t len, const int64_t *ids,
                             int64_t *callPos, float *logits) {
  // Sizes with B for the batch dimension, canonical strides.
  const int64_t weightSizes[1] = {static_cast<int64_t>(pkg->weightsBytes())};
  descs[0].set(const_cast<void *>(pkg->weights()), weightSizes);
  const int64_t tokenSizes[2] = {batch, len};
  descs[1].set(const_cast<int64_t *>(ids), tokenSizes);
  const int64_t positionSizes[1] = {batch};
  descs[2].set(callPos, positionSizes);
  const int64_t logitSizes[3] = {batch, len, vocab};
  descs[3].set(logits, logitSizes);
  args[0] = descs[0].abiPointer();
  args[1] = descs[1].abiPointer();
  args[2] = descs[2].abiPointer();
  for (size_t i = 0; i < states.size(); ++i) {
    StateBuffer &st = states[i];
    int64_t saved = st.sizes[0];
    st.sizes[0] = batch;
    st.desc.set(st.data, st.sizes.data());
    st.sizes[0] = saved;
    args[3 + i] = st.desc.abiPointer();
  }
  args[3 + states.size()] = descs[3].abiPointer();
  // The model gets a copy of the positions: it must not move them, and a
  // stray write must not corrupt the session.
  if (!device)
    std::memcpy(callPos, positions.data(),
                static_cast<size_t>(batch) * sizeof(int64_t));
}

/// The events of a timed call (timePhases), in the order the GPU reaches
/// them: the stream's before the launch, the graph's two around its
/// kernels, the stream's after the graph and after the logits' copy.
enum PhaseEvent : size_t {
  kCallStart,
  kKernelsStart,
  kKernelsEnd,
  kGraphEnd,
  kCopyEnd,
  kPhaseEvents
};

Status Session::runDevice(bool isDecode, int64_t batch, int64_t len,
                          const int64_t *ids, float *logits,
                          uint64_t logitsBytes) {
  const char *what = isDecode ? "decode" : "prefill";
  phasesValid = false;
  auto failed = [&](const std::string &why) {
    // Nothing of this call stays in flight (the next call's copies reuse
    // hostInputs and the logits' host buffers).
    std::string first, ignored;
    cudaTakeError(first);
    cudaStreamSync(stream, ignored);
    cudaTakeError(ignored);
    return Status::error(StatusCode::Io, std::string(what) +
                                             ": the GPU run failed: " +
                                             (first.empty() ? why : first));
  };
  float *out = decodeLogits;
  if (!isDecode) {
    if (logitsBytes > prefillLogitsBytes) {
      std::string ignored; // a failure shows at this call's own sync
      cudaStreamSync(stream, ignored); // the old buffer is idle
      cudaFree(prefillLogits);
      prefillLogitsBytes = 0;
      if (!(prefillLogits =
                static_cast<float *>(allocBuffer(logitsBytes, true))))
        return Status::error(StatusCode::OutOfMemory,
                             std::string(what) + ": cannot allocate " +
                                 str(static_cast<int64_t>(logitsBytes)) +
                                 " bytes of logits on the GPU");
      prefillLogitsBytes = logitsBytes;
    }
    out = prefillLogits;
  }
  // The host buffer the logits are copied into: page-locked up to a decode
  // step's size. copiedLogits can hold a larger buffer that ownLogits had
  // (swapped in by a call given no buffer): it goes, so that the next grow
  // page-locks a buffer of the step's size again.
  bool fits = logitsBytes <= decodeStepBytes();
  if (fits && copiedLogits.size() > decodeStepBytes())
    copiedLogits.release();
  HostBuffer &copied = fits ? copiedLogits : largeLogits;
  if (Status st = growLogits(copied, logitsBytes, /*pin=*/fits, what); !st)
    return st;
  // The ids, then the positions, in one copy. The stream's last call has
  // ended (each call waits for its work), so hostInputs is free.
  std::string err;
  size_t idCount = static_cast<size_t>(batch * len);
  int64_t *inputs = hostInputs.as<int64_t>();
  std::memcpy(inputs, ids, idCount * 8);
  std::memcpy(inputs + idCount, positions.data(),
              static_cast<size_t>(batch) * 8);
  size_t inputBytes = (idCount + static_cast<size_t>(batch)) * 8;
  auto copyInputs = [&](std::string &why) {
    return cudaCopyToDevice(deviceInputs, inputs, inputBytes, stream, why);
  };
  setDescriptors(batch, len, deviceInputs, deviceInputs + idCount, out);

  EntryPointFn fn = isDecode ? pkg->decodeEntry() : pkg->prefillEntry();
  // Whether this call is timed (timePhases): a failure to time it is no
  // failure of the call (timingErr is never reported).
  bool timed = false;
  std::string timingErr;
  {
    CudaCallScope scope(stream, pkg->manifest().dependentLaunch);
    CudaGraph *graph = nullptr;
    // A decode graph copies the step's inputs itself, from hostInputs (a
    // batch size's inputs always have the same place and size), when that
    // buffer is page-locked: a captured copy cannot read pageable memory.
    bool graphCopies = hostInputs.isPinned();
    if (isDecode && useGraphs) {
      std::unique_ptr<CudaGraph> &g = graphs[batch];
      if (!g && decodeRuns[batch] >= 1) {
        // The first step of this batch size ran plainly (loading every
        // kernel); capture the second.
        g.reset(new CudaGraph());
        std::string why;
        bool copyCaptured = true;
        // With timePhases: events around the graph's kernels (where the
        // driver can record them in a graph; else the graph has none).
        bool timedGraph = phasesOn;
        if (timedGraph && !phaseEvents)
          phaseEvents = std::make_unique<CudaEvents>(kPhaseEvents);
        auto mark = [&](size_t event) {
          std::string ignored;
          if (timedGraph)
            timedGraph = phaseEvents->record(event, stream,
                                             /*inCapture=*/true, ignored);
        };
        if (!g->capture(
                stream,
                [&] {
                  if (graphCopies)
                    copyCaptured = copyInputs(why);
                  mark(kKernelsStart);
                  fn(args.data());
                  mark(kKernelsEnd);
                },
                why) ||
            !copyCaptured) {
          // Not capturable here: drop what the capture recorded and run
          // every step plainly from now on.
          std::string ignored;
          cudaTakeError(ignored);
          useGraphs = false;
          graphs.clear();
          timedGraphs.clear();
          if (const char *v = std::getenv("ZAMBA2_CUDA_VERBOSE"); v && *v)
            std::fprintf(stderr, "zamba2: no CUDA graph for decode: %s\n",
                         why.c_str());
        } else {
          timedGraphs[batch] = timedGraph;
        }
      }
      auto it = graphs.find(batch);
      if (useGraphs && it != graphs.end() && it->second && it->second->valid())
        graph = it->second.get();
    }
    // (phaseEvents exists once a graph was captured with timing on.)
    timed = graph && phaseEvents && timedGraphs[batch] &&
            phaseEvents->record(kCallStart, stream, false, timingErr);
    if (!(graph && graphCopies) && !copyInputs(err))
      return failed(err);
    if (graph) {
      if (!graph->launch(stream, err))
        return failed(err);
      timed = timed && phaseEvents->record(kGraphEnd, stream, false, timingErr);
    } else {
      fn(args.data());
      if (isDecode)
        ++decodeRuns[batch];
    }
  }
  // The logits' copy into `copied` follows the kernels on the stream,
  // and one wait covers both; the caller's buffer (or ownLogits) changes
  // only once the call has succeeded.
  if (!cudaCopyToHost(copied.as<float>(), out, logitsBytes, stream, err))
    return failed(err);
  timed = timed && phaseEvents->record(kCopyEnd, stream, false, timingErr);
  // The mgpu* calls return nothing: their first error is recorded.
  if (!cudaStreamSync(stream, err))
    return failed(err);
  if (std::string first; cudaTakeError(first))
    return failed(first);
  if (timed)
    phasesValid =
        phaseEvents->elapsed(kCallStart, kKernelsStart, phases.start,
                             timingErr) &&
        phaseEvents->elapsed(kKernelsStart, kKernelsEnd, phases.kernels,
                             timingErr) &&
        phaseEvents->elapsed(kKernelsEnd, kGraphEnd, phases.end, timingErr) &&
        phaseEvents->elapsed(kGraphEnd, kCopyEnd, phases.copy, timingErr);
  if (logits) {
    std::memcpy(logits, copied.as<float>(), logitsBytes);
  } else {
    // The copy becomes the session's logits; the buffer they were in
    // takes the next call's copy.
    ownLogits.swap(copied);
  }
  return Status::ok();
}

Status Session::reset(int64_t seq) {
  if (seq < 0 || seq >= maxB)
    return Status::error(StatusCode::InvalidArgument,
                         "reset: sequence " + str(seq) + " is outside [0, " +
                             str(maxB) + ")");
  for (StateBuffer &st : states) {
    char *row =
        static_cast<char *>(st.data) + static_cast<uint64_t>(seq) * st.rowBytes;
    if (!device) {
      std::memset(row, 0, st.rowBytes);
      continue;
    }
    std::string err;
    if (!cudaZero(row, st.rowBytes, stream, err))
      return Status::error(StatusCode::Io,
                           "reset: cannot clear the GPU state: " + err);
  }
  positions[static_cast<size_t>(seq)] = 0;
  return Status::ok();
}

void Session::resetAll() {
  for (int64_t b = 0; b < maxB; ++b)
    reset(b);
}

} // namespace zamba2
