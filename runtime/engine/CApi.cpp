//===- CApi.cpp - C API of the zamba2c runtime ----------------------------===//
//
// Thin wrappers: each call checks its pointers, forwards to Package/Session
// and turns a failed Status into a status code plus the thread's last error.
//
//===----------------------------------------------------------------------===//
#include "runtime/engine/zamba2_runtime.h"

#include "runtime/engine/Package.h"
#include "runtime/engine/Session.h"

#include <memory>
#include <new>
#include <string>

struct zamba2_package {
  std::shared_ptr<zamba2::Package> package;
};

struct zamba2_session {
  std::unique_ptr<zamba2::Session> session;
};

namespace {

thread_local std::string lastError;

zamba2_status fail(const zamba2::Status &s) {
  lastError = s.message();
  return static_cast<zamba2_status>(s.code());
}

zamba2_status failArg(const std::string &msg) {
  return fail(zamba2::Status::error(zamba2::StatusCode::InvalidArgument, msg));
}

} // namespace

extern "C" {

const char *zamba2_last_error(void) { return lastError.c_str(); }

const char *zamba2_status_name(zamba2_status status) {
  switch (status) {
  case ZAMBA2_OK:
    return "ZAMBA2_OK";
  case ZAMBA2_ERROR_INVALID_ARGUMENT:
    return "ZAMBA2_ERROR_INVALID_ARGUMENT";
  case ZAMBA2_ERROR_IO:
    return "ZAMBA2_ERROR_IO";
  case ZAMBA2_ERROR_FORMAT:
    return "ZAMBA2_ERROR_FORMAT";
  case ZAMBA2_ERROR_UNSUPPORTED:
    return "ZAMBA2_ERROR_UNSUPPORTED";
  case ZAMBA2_ERROR_OUT_OF_MEMORY:
    return "ZAMBA2_ERROR_OUT_OF_MEMORY";
  case ZAMBA2_ERROR_CAPACITY:
    return "ZAMBA2_ERROR_CAPACITY";
  }
  return "ZAMBA2_UNKNOWN_STATUS";
}

int32_t zamba2_runtime_abi_version(void) {
  return static_cast<int32_t>(zamba2::kRuntimeAbiVersion);
}

zamba2_status zamba2_package_open(const char *dir, zamba2_package **out) {
  if (!out)
    return failArg("zamba2_package_open: out is null");
  *out = nullptr;
  if (!dir)
    return failArg("zamba2_package_open: dir is null");
  std::shared_ptr<zamba2::Package> p;
  if (zamba2::Status s = zamba2::Package::open(dir, p); !s)
    return fail(s);
  auto *h = new (std::nothrow) zamba2_package{std::move(p)};
  if (!h)
    return fail(zamba2::Status::error(zamba2::StatusCode::OutOfMemory,
                                      "zamba2_package_open: out of memory"));
  *out = h;
  return ZAMBA2_OK;
}

void zamba2_package_close(zamba2_package *package) { delete package; }

zamba2_status zamba2_package_get_info(const zamba2_package *package,
                                      zamba2_package_info *out) {
  if (!package || !out)
    return failArg("zamba2_package_get_info: null argument");
  const zamba2::PackageManifest &m = package->package->manifest();
  out->vocab_size = m.vocabSize;
  out->hidden_size = m.hiddenSize;
  out->num_layers = m.numLayers;
  out->bos_token_id = m.bosTokenId;
  out->eos_token_id = m.eosTokenId;
  out->pad_token_id = m.padTokenId;
  out->num_state_tensors = static_cast<int64_t>(m.state.size());
  out->abi_version = m.abiVersion;
  out->weights_bytes = m.weightsBytes;
  return ZAMBA2_OK;
}

zamba2_status zamba2_session_create(zamba2_package *package, int64_t max_batch,
                                    int64_t max_seq, zamba2_session **out) {
  if (!out)
    return failArg("zamba2_session_create: out is null");
  *out = nullptr;
  if (!package)
    return failArg("zamba2_session_create: package is null");
  std::unique_ptr<zamba2::Session> s;
  if (zamba2::Status st =
          zamba2::Session::create(package->package, max_batch, max_seq, s);
      !st)
    return fail(st);
  auto *h = new (std::nothrow) zamba2_session{std::move(s)};
  if (!h)
    return fail(zamba2::Status::error(zamba2::StatusCode::OutOfMemory,
                                      "zamba2_session_create: out of memory"));
  *out = h;
  return ZAMBA2_OK;
}

void zamba2_session_destroy(zamba2_session *session) { delete session; }

zamba2_status zamba2_session_prefill(zamba2_session *session, int64_t batch,
                                     int64_t seq_len, const int64_t *ids,
                                     float *logits) {
  if (!session)
    return failArg("zamba2_session_prefill: session is null");
  if (zamba2::Status s = session->session->prefill(batch, seq_len, ids, logits);
      !s)
    return fail(s);
  return ZAMBA2_OK;
}

zamba2_status zamba2_session_decode(zamba2_session *session, int64_t batch,
                                    const int64_t *ids, float *logits) {
  if (!session)
    return failArg("zamba2_session_decode: session is null");
  if (zamba2::Status s = session->session->decode(batch, ids, logits); !s)
    return fail(s);
  return ZAMBA2_OK;
}

const float *zamba2_session_logits(const zamba2_session *session) {
  return session ? session->session->logits() : nullptr;
}

zamba2_status zamba2_session_reset(zamba2_session *session, int64_t seq) {
  if (!session)
    return failArg("zamba2_session_reset: session is null");
  if (zamba2::Status s = session->session->reset(seq); !s)
    return fail(s);
  return ZAMBA2_OK;
}

int64_t zamba2_session_position(const zamba2_session *session, int64_t seq) {
  return session ? session->session->position(seq) : -1;
}

int64_t zamba2_session_max_batch(const zamba2_session *session) {
  return session ? session->session->maxBatch() : 0;
}

int64_t zamba2_session_max_seq(const zamba2_session *session) {
  return session ? session->session->maxSeq() : 0;
}

} // extern "C"
