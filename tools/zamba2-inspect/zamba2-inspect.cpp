//===- zamba2-inspect.cpp - Validate and describe a Zamba2 checkpoint -----===//
//
// zamba2-inspect CKPT_DIR [--tensors]
//
// Runs every check of the format library (config fields and consistency,
// safetensors structure, expected tensor names/shapes/dtypes) and prints a
// one-line summary. Any error is exactly one line on stderr, exit code 1:
// this is the runtime-side driver of the bad-input tests.
//
//===----------------------------------------------------------------------===//
#include "runtime/format/ModelConfig.h"
#include "runtime/format/Safetensors.h"

#include <cstdio>
#include <cstring>
#include <string>

using namespace zamba2;

namespace {

int usage(std::FILE *to) {
  std::fprintf(to, "usage: zamba2-inspect CKPT_DIR [--tensors]\n"
                   "Validates a Hugging Face Zamba2 checkpoint directory "
                   "(config.json +\nmodel.safetensors or a sharded index) "
                   "and prints a summary.\n"
                   "  --tensors  also list every tensor (name, dtype, shape, "
                   "bytes, file)\n");
  return to == stdout ? 0 : 1;
}

int fail(const std::string &msg) {
  // One line whatever the message holds.
  std::string line = msg;
  for (char &c : line)
    if (c == '\n' || c == '\r')
      c = ' ';
  std::fprintf(stderr, "error: %s\n", line.c_str());
  return 1;
}

std::string baseName(const std::string &p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

} // namespace

int main(int argc, char **argv) {
  std::string dir;
  bool listTensors = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h")
      return usage(stdout);
    if (a == "--tensors") {
      listTensors = true;
    } else if (!a.empty() && a[0] == '-') {
      return fail("unknown option '" + a + "' (see --help)");
    } else if (dir.empty()) {
      dir = a;
    } else {
      return fail("more than one checkpoint directory given ('" + dir + "', '" +
                  a + "')");
    }
  }
  if (dir.empty())
    return fail("no checkpoint directory given (usage: zamba2-inspect "
                "CKPT_DIR [--tensors])");
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();

  std::string err;
  ModelConfig cfg;
  std::unique_ptr<Checkpoint> ck = openValidatedCheckpoint(dir, cfg, err);
  if (!ck)
    return fail(err);
  std::printf("%s\n", describeCheckpoint(dir, cfg, *ck).c_str());
  if (listTensors) {
    for (const TensorInfo *t : ck->tensors())
      std::printf("%s %s %s %llu %s\n", t->name.c_str(), dtypeName(t->dtype),
                  formatShape(t->shape).c_str(),
                  (unsigned long long)t->byteSize, baseName(*t->file).c_str());
  }
  return 0;
}
