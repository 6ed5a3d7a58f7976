//===- zamba2-run.cpp - Run a zamba2c package -----------------------------===//
//
// zamba2-run [PKG] (--score IN --out OUT [--decode-from P]
//                  | --prompt-ids IDS [--max-new-tokens N] [sampling]
//                  | --prompt TEXT [--max-new-tokens N] [sampling]
//                  | --chat [--max-new-tokens N] [sampling]
//                  | --greedy-from IN --prompt-len P --max-new-tokens N
//                    --out OUT)
//
// The command-line face of the runtime engine. Its output formats are a
// contract that tests and other tools rely on (see --help). Errors are one
// line "zamba2-run: error: ..." on stderr and exit status 1.
//
//===----------------------------------------------------------------------===//
#include "runtime/engine/Package.h"
#include "tools/zamba2-run/DefaultPackage.h"
#include "tools/zamba2-run/Modes.h"
#include "tools/zamba2-run/Options.h"

#include <cstdio>
#include <string>

using namespace zamba2;
using namespace zamba2::run;

namespace {

int fail(const std::string &msg) {
  std::string line = msg;
  for (char &c : line)
    if (c == '\n' || c == '\r')
      c = ' ';
  std::fprintf(stderr, "zamba2-run: error: %s\n", line.c_str());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  RunOptions o;
  std::string err;
  if (!parseRunOptions(argc, argv, o, err))
    return fail(err);
  if (o.help) {
    std::fputs(kHelpText, stdout);
    return 0;
  }
  std::string dir = o.package;
  if (dir.empty() && !ensureDefaultPackage(dir, err))
    return fail(err);

  std::shared_ptr<Package> pkg;
  if (Status s = Package::open(dir, pkg); !s)
    return fail(s.message());

  bool ok = false;
  switch (o.mode) {
  case Mode::Score:
    ok = runScore(o, pkg, err);
    break;
  case Mode::Generate:
    ok = runGenerate(o, pkg, err);
    break;
  case Mode::Greedy:
    ok = runGreedy(o, pkg, err);
    break;
  case Mode::Prompt:
    ok = runPrompt(o, pkg, err);
    break;
  case Mode::Chat:
    ok = runChat(o, pkg, err);
    break;
  case Mode::None:
    err = "no mode given (see --help)";
    break;
  }
  return ok ? 0 : fail(err);
}
