//===- Session.h - Inference session over a loaded package ------*- C++ -*-===//
//
// A session owns the state tensors of up to `maxBatch` sequences of up to
// `maxSeq` tokens each, and each sequence's position (its length so far).
// Sequence b is row b of every state buffer. prefill() and decode() run the
// package's entry points on sequences 0..B-1:
//   - every argument is validated first (batch size, token ids, capacity);
//     on error nothing is changed;
//   - then the model reads and updates the state in place, writes the logits
//     [B, T, V], and the session advances positions[0..B-1] by T.
// A session is not thread-safe; distinct sessions may run concurrently.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_ENGINE_SESSION_H
#define ZAMBA2_RUNTIME_ENGINE_SESSION_H

#include "runtime/engine/MemRef.h"
#include "runtime/engine/Package.h"
#include "runtime/engine/Status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace zamba2 {

class CudaEvents;
class CudaGraph;

class Session {
public:
  /// Allocates every state tensor of the package's manifest ("batch" ->
  /// maxBatch, "seq" -> maxSeq), 64-byte aligned and zeroed.
  static Status create(std::shared_ptr<const Package> package, int64_t maxBatch,
                       int64_t maxSeq, std::unique_ptr<Session> &out);

  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  /// Runs `len` tokens of each of sequences 0..batch-1: `ids` is [batch,
  /// len] row-major. Logits [batch, len, V] go to `logits`, or to the
  /// session's own buffer (logits()) when it is null.
  Status prefill(int64_t batch, int64_t len, const int64_t *ids, float *logits);
  /// One token of each of sequences 0..batch-1 (ids [batch]); logits
  /// [batch, V] as for prefill.
  Status decode(int64_t batch, const int64_t *ids, float *logits);

  /// Zeroes sequence `seq`'s row of every state tensor and its position.
  Status reset(int64_t seq);
  /// reset() of every sequence.
  void resetAll();

  int64_t maxBatch() const { return maxB; }
  int64_t maxSeq() const { return maxT; }
  int64_t vocabSize() const { return vocab; }
  /// Tokens sequence `seq` has consumed; -1 when seq is out of range.
  int64_t position(int64_t seq) const;
  /// The session's logits buffer, filled by the last prefill()/decode() that
  /// was given no buffer of its own ([B, T, V] of that call); null before.
  const float *logits() const { return ownLogits.as<float>(); }
  const Package &package() const { return *pkg; }

  /// State tensor `i` (manifest order) and its size in bytes: for tests and
  /// debugging (device memory for a CUDA package).
  const void *stateData(size_t i) const { return states[i].data; }
  uint64_t stateBytes(size_t i) const { return states[i].bytes; }
  /// Where a decode call replayed from a CUDA graph spends its time on the
  /// GPU, in seconds between events the stream and the graph record.
  struct CallPhases {
    double start = 0;   ///< from before the graph's launch to its first
                        ///< kernel (the launch, the inputs' copy)
    double kernels = 0; ///< the graph's kernels
    double end = 0;     ///< from the last kernel to the graph's end
    double copy = 0;    ///< the copy of the logits to the host
  };
  /// Times the phases of the decode calls replayed from graphs captured
  /// from now on (their graphs hold two more nodes, events; for
  /// zamba2-bench --phases). No effect on a CPU package.
  void timePhases(bool on) { phasesOn = on; }
  /// The last call's phases; false when it was not timed (not a decode
  /// call replayed from a graph captured while timePhases was on, or a
  /// driver that cannot record events in a graph).
  bool lastPhases(CallPhases &out) const {
    out = phases;
    return phasesValid;
  }
  /// Bytes of host memory the session holds page-locked (a CUDA session's
  /// inputs and logits buffers): for tests and debugging.
  uint64_t pinnedHostBytes() const;

private:
  struct StateBuffer {
    void *data = nullptr;
    uint64_t bytes = 0;
    uint64_t rowBytes = 0;      ///< bytes of one sequence's row
    std::vector<int64_t> sizes; ///< with max batch; [0] replaced per call
    MemRefDescriptor desc;
  };

  Session() = default;
  Status run(bool isDecode, int64_t batch, int64_t len, const int64_t *ids,
             float *logits);

  std::shared_ptr<const Package> pkg;
  int64_t maxB = 0, maxT = 0, vocab = 0;
  std::vector<StateBuffer> states;
  std::vector<int64_t> positions;     ///< per sequence
  std::vector<int64_t> callPositions; ///< copy handed to the model (CPU)
  /// Host memory of the session's: 64-byte aligned, zeroed when it grows,
  /// page-locked when asked and the driver allows; freed (and unlocked)
  /// with the session.
  class HostBuffer {
  public:
    HostBuffer() = default;
    HostBuffer(const HostBuffer &) = delete;
    HostBuffer &operator=(const HostBuffer &) = delete;
    ~HostBuffer();
    /// At least `bytes` bytes, page-locked when `pin`: a new buffer when
    /// this one is smaller. False (the buffer as it was) when it cannot be
    /// allocated.
    bool grow(uint64_t bytes, bool pin);
    template <typename T> T *as() const { return static_cast<T *>(data); }
    void swap(HostBuffer &other);
    /// Frees the buffer (grow allocates afresh).
    void release();
    uint64_t size() const { return bytes; }
    bool isPinned() const { return pinned; }

  private:
    void *data = nullptr;
    uint64_t bytes = 0;
    bool pinned = false;
  };
  HostBuffer ownLogits; ///< CUDA: a call's buffer, swapped in (see below)
  /// CUDA packages: every buffer the model sees is device memory; a call's
  /// ids and positions are copied in (one copy: hostInputs to deviceInputs,
  /// the ids, then the positions), its logits out into copiedLogits (up to
  /// decodeStepBytes(): page-locked where the driver allows) or, for a larger
  /// call (a prefill returning every position's logits), into largeLogits
  /// (not page-locked, so that the page-locked memory a session holds stays
  /// a few decode steps' logits however long a prompt), all on `stream`,
  /// then waited for once. That buffer then goes to the caller's buffer, or
  /// is swapped with ownLogits. A decode step of each batch size runs once
  /// plainly, is then captured into a CUDA graph and replayed from then on (its
  /// buffers never move: decodeLogits is sized for the max batch, and a decode
  /// call's positions always follow its batch's ids); with hostInputs
  /// page-locked, the graph also holds the copy of the inputs.
  bool device = false;
  void *stream = nullptr;
  HostBuffer hostInputs;           ///< max batch * (max seq + 1) int64
  HostBuffer copiedLogits;         ///< a call's logits, decode-step sized
  HostBuffer largeLogits;          ///< a call's logits beyond a decode step
  int64_t *deviceInputs = nullptr; ///< max batch * (max seq + 1)
  float *decodeLogits = nullptr;   ///< max batch * V
  float *prefillLogits = nullptr;  ///< grows, prefillLogitsBytes long
  uint64_t prefillLogitsBytes = 0;
  bool useGraphs = false;
  std::map<int64_t, int64_t> decodeRuns; ///< batch -> plain decode runs
  std::map<int64_t, std::unique_ptr<CudaGraph>> graphs; ///< by batch
  bool phasesOn = false;
  std::unique_ptr<CudaEvents> phaseEvents; ///< created on first use
  std::map<int64_t, bool> timedGraphs;     ///< batch -> its graph has events
  CallPhases phases;
  bool phasesValid = false;
  Status runDevice(bool isDecode, int64_t batch, int64_t len,
                   const int64_t *ids, float *logits, uint64_t logitsBytes);
  /// The entry point's argument descriptors for one call.
  void setDescriptors(int64_t batch, int64_t len, const int64_t *ids,
                      int64_t *callPos, float *logits);
  /// A decode step's logits at the max batch (max batch * V floats; no
  /// overflow: create checked it).
  uint64_t decodeStepBytes() const {
    return static_cast<uint64_t>(maxB) * static_cast<uint64_t>(vocab) * 4;
  }
  /// `buffer` grown to `bytes` (page-locked when `pin`), or the call's
  /// out-of-memory error.
  Status growLogits(HostBuffer &buffer, uint64_t bytes, bool pin,
                    const char *what);
  std::vector<MemRefDescriptor> descs; ///< weights, tokens, positions, ...
  std::vector<void *> args;
};

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_ENGINE_SESSION_H
