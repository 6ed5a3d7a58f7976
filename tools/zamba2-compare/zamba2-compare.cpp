//===- zamba2-compare.cpp - Compare tensors of two safetensors files ------===//
//
// zamba2-compare A.safetensors B.safetensors --tensor NAME[:NAME_IN_B]...
//                (--max-rel-l2 X | --exact)
//
// B is the reference. One line per tensor on stdout; exit 0 when every
// tensor passes, 1 when one does not, 2 on an error (one line
// "zamba2-compare: error: ..." on stderr).
//
//===----------------------------------------------------------------------===//
#include "runtime/format/Safetensors.h"
#include "tools/zamba2-compare/Compare.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace zamba2;

namespace {

const char kHelp[] =
    R"(usage: zamba2-compare A.safetensors B.safetensors
                      --tensor NAME[:NAME_IN_B]... (--max-rel-l2 X | --exact)

Compares tensors of A against the reference B and prints one line per tensor:
  NAME: rel_l2 = 3.1e-07 (limit 1e-04) ok
  NAME: rel_l2 = 2.3e-02 (limit 1e-04) FAIL (max abs diff ... at [i, j]: a vs b)
  NAME: identical
  NAME: mismatch at [i, j]: a vs b (K of N elements differ)

Options:
  --tensor NAME[:NAME_IN_B]  Tensor to compare (repeatable); NAME_IN_B names
                             it in B when it differs (default: NAME).
  --max-rel-l2 X             Pass when ||A - B|| / ||B|| <= X (computed in
                             double; floats F64/F32/F16/BF16 may be mixed,
                             integers compare with integers). A NaN fails.
  --exact                    Pass when A and B have the same dtype and are
                             bit-for-bit identical.
  --help                     Print this help and exit.

The shapes must be equal. Exit status: 0 when every tensor passes, 1 when
one fails, 2 on an error (missing file or tensor, shape or dtype mismatch),
reported as one line "zamba2-compare: error: ..." on stderr.
)";

int error(const std::string &msg) {
  std::string line = msg;
  for (char &c : line)
    if (c == '\n' || c == '\r')
      c = ' ';
  std::fprintf(stderr, "zamba2-compare: error: %s\n", line.c_str());
  return 2;
}

bool parseLimit(const std::string &text, double &out) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  out = std::strtod(text.c_str(), &end);
  return errno == 0 && end && *end == '\0' && std::isfinite(out) && out >= 0;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> files;
  std::vector<std::pair<std::string, std::string>> tensors; // A name, B name
  CompareOptions options;
  bool haveLimit = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string &out) {
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (a == "--tensor") {
      std::string spec;
      if (!value(spec) || spec.empty())
        return error("--tensor needs a tensor name (NAME or NAME:NAME_IN_B)");
      size_t colon = spec.find(':');
      std::string nameA = spec.substr(0, colon);
      std::string nameB =
          colon == std::string::npos ? nameA : spec.substr(colon + 1);
      if (nameA.empty() || nameB.empty())
        return error("--tensor '" + spec + "': empty tensor name");
      tensors.emplace_back(nameA, nameB);
    } else if (a == "--max-rel-l2") {
      std::string v;
      if (!value(v))
        return error("--max-rel-l2 needs a value");
      if (!parseLimit(v, options.maxRelL2))
        return error("--max-rel-l2 '" + v + "': expected a finite number >= 0");
      haveLimit = true;
    } else if (a == "--exact") {
      options.exact = true;
    } else if (!a.empty() && a[0] == '-') {
      return error("unknown option '" + a + "' (see --help)");
    } else {
      files.push_back(a);
    }
  }
  if (files.size() != 2)
    return error("expected two files (A.safetensors B.safetensors), got " +
                 std::to_string(files.size()) + " (see --help)");
  if (tensors.empty())
    return error("no --tensor given (see --help)");
  if (haveLimit == options.exact)
    return error(haveLimit ? "--exact and --max-rel-l2 exclude each other"
                           : "give --max-rel-l2 X or --exact");

  std::string err;
  std::unique_ptr<SafetensorsFile> fa = SafetensorsFile::open(files[0], err);
  if (!fa)
    return error(err);
  std::unique_ptr<SafetensorsFile> fb = SafetensorsFile::open(files[1], err);
  if (!fb)
    return error(err);

  bool allPass = true;
  for (const auto &[nameA, nameB] : tensors) {
    const TensorInfo *ta = fa->find(nameA);
    if (!ta)
      return error(files[0] + ": no tensor '" + nameA + "'");
    const TensorInfo *tb = fb->find(nameB);
    if (!tb)
      return error(files[1] + ": no tensor '" + nameB + "'");
    std::string label = nameA == nameB ? nameA : nameA + " vs " + nameB;
    CompareResult r;
    if (!compareTensors(label, *ta, *tb, options, r, err))
      return error(err);
    std::printf("%s\n", r.line.c_str());
    allPass = allPass && r.pass;
  }
  return allPass ? 0 : 1;
}
