//===- Compare.cpp - Tensor comparison of zamba2-compare ------------------===//
#include "tools/zamba2-compare/Compare.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace zamba2 {

namespace {

bool isFloat(DType d) {
  return d == DType::F64 || d == DType::F32 || d == DType::F16 ||
         d == DType::BF16;
}

bool isInteger(DType d) {
  switch (d) {
  case DType::I64:
  case DType::I32:
  case DType::I16:
  case DType::I8:
  case DType::U8:
  case DType::U16:
  case DType::U32:
  case DType::U64:
  case DType::BOOL:
    return true;
  default:
    return false;
  }
}

template <typename T> T load(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

/// Element i as a double (floats) or as an exact integer (integers; U64
/// above INT64_MAX wraps, which still compares correctly for equality).
double asDouble(const TensorInfo &t, uint64_t i) {
  const uint8_t *p = t.data + i * dtypeSize(t.dtype);
  switch (t.dtype) {
  case DType::F64:
    return load<double>(p);
  case DType::F32:
    return load<float>(p);
  case DType::F16:
    return f16ToF32(load<uint16_t>(p));
  case DType::BF16:
    return bf16ToF32(load<uint16_t>(p));
  case DType::I64:
    return static_cast<double>(load<int64_t>(p));
  case DType::I32:
    return load<int32_t>(p);
  case DType::I16:
    return load<int16_t>(p);
  case DType::I8:
    return load<int8_t>(p);
  case DType::U8:
  case DType::BOOL:
    return load<uint8_t>(p);
  case DType::U16:
    return load<uint16_t>(p);
  case DType::U32:
    return load<uint32_t>(p);
  case DType::U64:
    return static_cast<double>(load<uint64_t>(p));
  default:
    return 0;
  }
}

/// Element i for messages: integers exactly, floats with 9 digits.
std::string formatElement(const TensorInfo &t, uint64_t i) {
  char buf[64];
  const uint8_t *p = t.data + i * dtypeSize(t.dtype);
  if (t.dtype == DType::I64)
    std::snprintf(buf, sizeof(buf), "%lld",
                  static_cast<long long>(load<int64_t>(p)));
  else if (t.dtype == DType::U64)
    std::snprintf(buf, sizeof(buf), "%llu",
                  static_cast<unsigned long long>(load<uint64_t>(p)));
  else if (isInteger(t.dtype))
    std::snprintf(buf, sizeof(buf), "%.0f", asDouble(t, i));
  else
    std::snprintf(buf, sizeof(buf), "%.9g", asDouble(t, i));
  return buf;
}

std::string fileOf(const TensorInfo &t) { return t.file ? *t.file : "?"; }

} // namespace

std::string formatLimit(double v) {
  char buf[64];
  for (int precision = 0; precision < 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*e", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

std::string formatIndex(const std::vector<int64_t> &shape, uint64_t flat) {
  std::vector<uint64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    uint64_t n = shape[d] > 0 ? static_cast<uint64_t>(shape[d]) : 1;
    idx[d] = flat % n;
    flat /= n;
  }
  std::string s = "[";
  for (size_t d = 0; d < idx.size(); ++d)
    s += (d ? ", " : "") + std::to_string(idx[d]);
  return s + "]";
}

bool compareTensors(const std::string &name, const TensorInfo &a,
                    const TensorInfo &b, const CompareOptions &options,
                    CompareResult &result, std::string &err) {
  result = CompareResult();
  if (a.shape != b.shape) {
    err = name + ": shape mismatch: " + formatShape(a.shape) + " in " +
          fileOf(a) + " vs " + formatShape(b.shape) + " in " + fileOf(b);
    return false;
  }
  bool floatA = isFloat(a.dtype), floatB = isFloat(b.dtype);
  if ((!floatA && !isInteger(a.dtype)) || (!floatB && !isInteger(b.dtype)) ||
      floatA != floatB || (options.exact && a.dtype != b.dtype)) {
    err = name + ": dtype mismatch: " + dtypeName(a.dtype) + " in " +
          fileOf(a) + " vs " + dtypeName(b.dtype) + " in " + fileOf(b) +
          (options.exact ? " (--exact compares equal dtypes only)"
                         : " (rel_l2 compares floats with floats, integers "
                           "with integers)");
    return false;
  }
  uint64_t n = a.numElements;

  if (options.exact) {
    size_t es = dtypeSize(a.dtype);
    uint64_t first = n, differ = 0;
    for (uint64_t i = 0; i < n; ++i)
      if (std::memcmp(a.data + i * es, b.data + i * es, es) != 0) {
        if (first == n)
          first = i;
        ++differ;
      }
    if (differ == 0) {
      result.pass = true;
      result.line = name + ": identical";
    } else {
      result.line = name + ": mismatch at " + formatIndex(a.shape, first) +
                    ": " + formatElement(a, first) + " vs " +
                    formatElement(b, first) + " (" + std::to_string(differ) +
                    " of " + std::to_string(n) + " elements differ)";
    }
    return true;
  }

  // Relative L2 error, accumulated in double. A NaN on either side fails
  // (named); equal infinities count as no difference.
  double diff2 = 0, ref2 = 0, maxAbs = -1;
  uint64_t maxAt = 0, nanAt = n;
  for (uint64_t i = 0; i < n; ++i) {
    double x = asDouble(a, i), y = asDouble(b, i);
    if (std::isnan(x) || std::isnan(y)) {
      if (nanAt == n)
        nanAt = i;
      continue;
    }
    double d = x == y ? 0 : x - y;
    diff2 += d * d;
    if (std::isfinite(y))
      ref2 += y * y;
    if (std::fabs(d) > maxAbs) {
      maxAbs = std::fabs(d);
      maxAt = i;
    }
  }
  double rel = diff2 == 0 ? 0 : ref2 == 0 ? INFINITY : std::sqrt(diff2 / ref2);
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%s: rel_l2 = %.1e (limit %s) ", name.c_str(),
                rel, formatLimit(options.maxRelL2).c_str());
  result.line = buf;
  if (nanAt != n) {
    result.line += "FAIL (NaN at " + formatIndex(a.shape, nanAt) + ": " +
                   formatElement(a, nanAt) + " vs " + formatElement(b, nanAt) +
                   ")";
  } else if (!(rel <= options.maxRelL2)) {
    std::snprintf(buf, sizeof(buf), "%.3g", maxAbs);
    result.line += std::string("FAIL (max abs diff ") + buf + " at " +
                   formatIndex(a.shape, maxAt) + ": " +
                   formatElement(a, maxAt) + " vs " + formatElement(b, maxAt) +
                   ")";
  } else {
    result.pass = true;
    result.line += "ok";
  }
  return true;
}

} // namespace zamba2
