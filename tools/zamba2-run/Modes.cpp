//===- Modes.cpp - Helpers shared by zamba2-run's modes -------------------===//
#include "tools/zamba2-run/Modes.h"

#include <cstdio>
#include <cstring>

namespace zamba2::run {

bool readInputIds(const std::string &path, InputIds &out, std::string &err) {
  std::unique_ptr<SafetensorsFile> f = SafetensorsFile::open(path, err);
  if (!f)
    return false;
  const TensorInfo *t = f->find("input_ids");
  if (!t) {
    err = path + ": no tensor 'input_ids'";
    return false;
  }
  if (t->dtype != DType::I64) {
    err = path + ": tensor 'input_ids': expected dtype I64, found " +
          dtypeName(t->dtype);
    return false;
  }
  if (t->shape.size() != 2 || t->shape[0] < 1 || t->shape[1] < 1) {
    err = path +
          ": tensor 'input_ids': expected shape [B, T] with B, T >= "
          "1, found " +
          formatShape(t->shape);
    return false;
  }
  out.batch = t->shape[0];
  out.len = t->shape[1];
  out.ids.resize(t->numElements);
  // The data area need not be 8-byte aligned: copy.
  std::memcpy(out.ids.data(), t->data, t->byteSize);
  return true;
}

bool chooseMaxSeq(const RunOptions &o, int64_t needed, const std::string &what,
                  int64_t &maxSeq, std::string &err) {
  if (o.maxSeq < 0) {
    maxSeq = needed;
    return true;
  }
  if (o.maxSeq < needed) {
    err = "--max-seq " + std::to_string(o.maxSeq) + " is too small: " + what +
          " need " + std::to_string(needed) + " positions";
    return false;
  }
  maxSeq = o.maxSeq;
  return true;
}

std::string tokens(int64_t n) {
  return std::to_string(n) + (n == 1 ? " token" : " tokens");
}

std::string promptAndNewTokens(int64_t promptLen, int64_t newTokens) {
  return "a prompt of " + tokens(promptLen) + " and " +
         std::to_string(newTokens) +
         (newTokens == 1 ? " new token" : " new tokens");
}

bool createSession(std::shared_ptr<Package> pkg, int64_t batch, int64_t maxSeq,
                   std::unique_ptr<Session> &out, std::string &err) {
  Status s = Session::create(std::move(pkg), batch, maxSeq, out);
  if (!s)
    err = s.message();
  return s.isOk();
}

bool writeTensors(const std::string &path, const std::vector<OutTensor> &t,
                  std::string &err) {
  SafetensorsWriter w(path);
  w.setMetadata("producer", "zamba2-run");
  for (const OutTensor &o : t)
    if (!w.addTensor(o.name, o.dtype, o.shape, err))
      return false;
  if (!w.begin(err))
    return false;
  for (const OutTensor &o : t)
    if (!w.write(o.data, o.bytes, err))
      return false;
  return w.finish(err);
}

void printTiming(const char *what, const Timing &t) {
  double ms = t.seconds * 1e3;
  double rate = t.seconds > 0 ? static_cast<double>(t.tokens) / t.seconds : 0;
  std::fprintf(stderr, "%s: %lld tokens in %.3f ms (%.1f tokens/s, %lld %s)\n",
               what, static_cast<long long>(t.tokens), ms, rate,
               static_cast<long long>(t.calls),
               t.calls == 1 ? "call" : "calls");
}

} // namespace zamba2::run
