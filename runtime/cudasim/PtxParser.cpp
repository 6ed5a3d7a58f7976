//===- PtxParser.cpp - PTX text to the simulator's module -----------------===//
//
// Two passes over the tokens: the first reads the module-level statements
// (variables, which get their addresses, and function signatures, so that
// calls resolve in any order) and skips function bodies; the second parses
// each body into instructions with resolved operands.
//
//===----------------------------------------------------------------------===//
#include "runtime/cudasim/Ptx.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

namespace zamba2 {
namespace ptxsim {

const Function *Module::kernel(const std::string &name) const {
  auto it = byName.find(name);
  if (it == byName.end() || !functions[it->second].isKernel)
    return nullptr;
  return &functions[it->second];
}

void MemoryMap::add(const void *p, size_t bytes) {
  uint64_t start = reinterpret_cast<uint64_t>(p);
  ranges_[start] = start + bytes;
}

void ByteRanges::add(uint64_t start, uint64_t bytes) {
  uint64_t end = start + bytes;
  // Fast paths: within the range the last add went to, or right after it
  // with nothing in between.
  if (start >= hintStart_ && start <= hintEnd_ && hintEnd_ > hintStart_) {
    if (end <= hintEnd_)
      return;
    auto it = ranges_.find(hintStart_);
    if (it != ranges_.end() && it->second == hintEnd_) {
      auto next = std::next(it);
      if (next == ranges_.end() || next->first > end) {
        it->second = hintEnd_ = end;
        return;
      }
    }
  }
  // Merge with every range that overlaps or touches [start, end).
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin() && std::prev(it)->second >= start)
    --it;
  if (it != ranges_.end() && it->first <= start && it->second >= end) {
    hintStart_ = it->first; // already there
    hintEnd_ = it->second;
    return;
  }
  while (it != ranges_.end() && it->first <= end) {
    start = std::min(start, it->first);
    end = std::max(end, it->second);
    it = ranges_.erase(it);
  }
  ranges_[start] = end;
  hintStart_ = start;
  hintEnd_ = end;
}

bool ByteRanges::overlaps(uint64_t start, uint64_t bytes) const {
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin() && std::prev(it)->second > start)
    return true;
  return it != ranges_.end() && it->first < start + bytes;
}

void GlobalRaces::beginLaunch(const unsigned grid[3]) {
  // Stamps of earlier launches are below launchStamp_. Long before the
  // counter wraps, start over: no byte was touched by this launch yet.
  if (stamp_ >= 0xf0000000u) {
    for (auto &[start, bytes] : shadow_)
      std::fill(bytes.begin(), bytes.end(), Byte{});
    stamp_ = 0;
  }
  launchStamp_ = ++stamp_;
  for (int i = 0; i < 3; ++i)
    grid_[i] = grid[i];
  released_.clear();
  beginBlock(0);
}

void GlobalRaces::beginBlock(uint32_t block) {
  block_ = block;
  blockClock_.clear();
  threadClock_.clear();
  observed_.clear();
  fenced_.clear();
}

void GlobalRaces::join(Clock &into, const Clock &from) {
  for (const auto &[block, sync] : from) {
    Sync &s = into[block];
    if (sync.stamp > s.stamp)
      s = sync;
  }
}

void GlobalRaces::barrier() {
  for (const auto &[thread, clock] : threadClock_)
    join(blockClock_, clock);
  threadClock_.clear();
}

void GlobalRaces::fence(uint32_t thread) {
  auto it = observed_.find(thread);
  if (it != observed_.end()) {
    join(threadClock_[thread], it->second);
    observed_.erase(it);
  }
  // Accesses before the fence have smaller stamps than the ones after it.
  fenced_[thread] = ++stamp_;
}

const GlobalRaces::Sync *GlobalRaces::known(uint32_t thread,
                                            uint32_t other) const {
  const Sync *best = nullptr;
  auto b = blockClock_.find(other);
  if (b != blockClock_.end())
    best = &b->second;
  auto t = threadClock_.find(thread);
  if (t != threadClock_.end()) {
    auto s = t->second.find(other);
    if (s != t->second.end() && (!best || s->second.stamp > best->stamp))
      best = &s->second;
  }
  return best;
}

void GlobalRaces::endSequences(uint64_t address, uint64_t bytes) {
  auto it = released_.lower_bound(address >= 32 ? address - 32 : 0);
  while (it != released_.end() && it->first < address + bytes) {
    if (it->first + it->second.bytes > address)
      it = released_.erase(it);
    else
      ++it;
  }
}

std::string GlobalRaces::blockName(uint32_t linear) const {
  return "(" + std::to_string(linear % grid_[0]) + "," +
         std::to_string(linear / grid_[0] % grid_[1]) + "," +
         std::to_string(linear / (grid_[0] * grid_[1])) + ")";
}

bool GlobalRaces::access(uint64_t start, uint64_t end, const GlobalAccess &a,
                         std::string &error) {
  bool write = a.kind != GlobalAccess::Load;
  // Release sequences: an acquire takes the clock of the location's
  // sequences (a strong load followed by a fence does so at the fence).
  if (a.strong && a.kind != GlobalAccess::Store && !released_.empty()) {
    auto loc = released_.find(a.address);
    if (loc != released_.end())
      join(a.acquire ? threadClock_[a.thread] : observed_[a.thread],
           loc->second.clock);
  }
  if (!cacheValid_ || cacheStart_ != start) {
    auto it = shadow_.find(start);
    cacheShadow_ = it == shadow_.end() ? nullptr : &it->second;
    cacheStart_ = start;
    cacheValid_ = cacheShadow_ || !tracked_.count(start);
  }
  if (!cacheShadow_) {
    if (!write && cacheValid_)
      return true; // untracked: nothing has readied it for kernels yet
    cacheShadow_ = &shadow_[start];
    cacheValid_ = true;
  }
  std::vector<Byte> &bytes = *cacheShadow_;
  if (bytes.size() != end - start) // new, or another allocation there
    bytes.assign(end - start, Byte{});
  Byte *shadow = bytes.data() + (a.address - start);
  uint32_t strong = a.strong ? kStrong : 0;
  for (uint64_t i = 0; i < a.bytes; ++i) {
    Byte &b = shadow[i];
    uint32_t writer = b.writer & ~kStrong, reader = b.reader & ~kStrong;
    auto ordered = [&](uint32_t other, uint32_t stamp) {
      const Sync *s = known(a.thread, other);
      return s && stamp < s->stamp;
    };
    bool written = b.writeStamp >= launchStamp_ && writer != block_ &&
                   !(strong & b.writer) && !ordered(writer, b.writeStamp);
    bool read = !written && write && b.readStamp >= launchStamp_ &&
                reader != block_ && !(strong & b.reader) &&
                (reader == kManyReaders || !ordered(reader, b.readStamp));
    if (written || read) {
      uint32_t other = written ? writer : reader;
      bool otherStrong = (written ? b.writer : b.reader) & kStrong;
      char where[32];
      std::snprintf(where, sizeof(where), "0x%llx",
                    static_cast<unsigned long long>(a.address + i));
      std::string note;
      if (other != kManyReaders)
        if (const Sync *s = known(a.thread, other)) {
          char loc[32];
          std::snprintf(loc, sizeof(loc), "0x%llx",
                        static_cast<unsigned long long>(s->location));
          note = std::string(" after its release to ") + loc +
                 " that this block acquired";
        }
      const char *what = a.kind == GlobalAccess::Load ? "load of"
                         : a.kind == GlobalAccess::Store
                             ? "store to"
                             : "read-modify-write of";
      error = std::string("global race: ") + (a.strong ? "atomic " : "") +
              what + " byte " + where + ", which " +
              (other == kManyReaders ? std::string("other blocks")
                                     : "block " + blockName(other)) +
              " of this launch " + (written ? "stored to" : "loaded") +
              (otherStrong ? " atomically" : "") + note;
      return false;
    }
    if (write) {
      b.writeStamp = stamp_;
      b.writer = block_ | strong;
    } else if (b.readStamp < launchStamp_) {
      b.readStamp = stamp_;
      b.reader = block_ | strong;
    } else {
      b.readStamp = stamp_;
      b.reader =
          (reader == block_ ? block_ : kManyReaders) | (b.reader & strong);
    }
  }
  if (!write || (!a.strong && released_.empty()))
    return true;
  // A release heads a sequence (an atomic's joins the ones it continues);
  // a relaxed atomic continues them, any other write ends them.
  auto fence = fenced_.find(a.thread);
  if (a.strong && (a.release || fence != fenced_.end())) {
    Clock clock = blockClock_;
    auto t = threadClock_.find(a.thread);
    if (t != threadClock_.end())
      join(clock, t->second);
    // The write itself and what came before it (before the fence) have
    // smaller stamps; what comes after it, not.
    uint32_t cover = a.release ? ++stamp_ : fence->second;
    Sync &self = clock[block_];
    if (cover > self.stamp)
      self = Sync{cover, a.address};
    if (a.kind == GlobalAccess::Rmw) {
      Released &r = released_[a.address];
      r.bytes = a.bytes;
      join(r.clock, clock);
    } else {
      endSequences(a.address, a.bytes);
      released_[a.address] = Released{a.bytes, std::move(clock)};
    }
  } else if ((!a.strong || a.kind == GlobalAccess::Store) &&
             !released_.empty()) {
    endSequences(a.address, a.bytes);
  }
  return true;
}

bool MemoryMap::remove(const void *p) {
  return ranges_.erase(reinterpret_cast<uint64_t>(p)) == 1;
}

bool MemoryMap::contains(uint64_t p, size_t bytes, uint64_t &start,
                         uint64_t &end) const {
  auto it = ranges_.upper_bound(p);
  if (it == ranges_.begin())
    return false;
  --it;
  if (p < it->first || p - it->first > it->second - it->first ||
      bytes > it->second - p)
    return false;
  start = it->first;
  end = it->second;
  return true;
}

namespace {

struct Token {
  enum Kind : uint8_t { Word, Punct, String, End };
  Kind kind;
  std::string text;
  uint32_t line;
};

bool isWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         c == '%' || c == '.';
}

std::vector<Token> tokenize(const std::string &s) {
  std::vector<Token> out;
  uint32_t line = 1;
  size_t i = 0, n = s.size();
  while (i < n) {
    char c = s[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '/' && i + 1 < n && s[i + 1] == '/') {
      while (i < n && s[i] != '\n')
        ++i;
    } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      i += 2;
      while (i + 1 < n && !(s[i] == '*' && s[i + 1] == '/')) {
        if (s[i] == '\n')
          ++line;
        ++i;
      }
      i += 2;
    } else if (c == '"') {
      size_t j = i + 1;
      while (j < n && s[j] != '"' && s[j] != '\n')
        ++j;
      out.push_back({Token::String, s.substr(i + 1, j - i - 1), line});
      i = j + 1;
    } else if (isWordChar(c)) {
      size_t j = i;
      // A decimal literal's exponent may have a sign (1.5e-3); hex forms
      // (0x.., 0f.., 0d..) have none.
      bool decimal =
          std::isdigit(static_cast<unsigned char>(c)) &&
          !(c == '0' && i + 1 < n && std::strchr("xXfFdDbB", s[i + 1]));
      while (j < n &&
             (isWordChar(s[j]) || (decimal && (s[j] == '-' || s[j] == '+') &&
                                   (s[j - 1] == 'e' || s[j - 1] == 'E'))))
        ++j;
      out.push_back({Token::Word, s.substr(i, j - i), line});
      i = j;
    } else {
      out.push_back({Token::Punct, std::string(1, c), line});
      ++i;
    }
  }
  out.push_back({Token::End, "", line});
  return out;
}

bool parseTypeName(const std::string &m, Ty &t) {
  static const std::pair<const char *, Ty> names[] = {
      {"pred", Ty::Pred},   {"b8", Ty::B8},     {"b16", Ty::B16},
      {"b32", Ty::B32},     {"b64", Ty::B64},   {"b128", Ty::B128},
      {"u8", Ty::U8},       {"u16", Ty::U16},   {"u32", Ty::U32},
      {"u64", Ty::U64},     {"s8", Ty::S8},     {"s16", Ty::S16},
      {"s32", Ty::S32},     {"s64", Ty::S64},   {"f16", Ty::F16},
      {"f16x2", Ty::F16x2}, {"bf16", Ty::BF16}, {"bf16x2", Ty::BF16x2},
      {"f32", Ty::F32},     {"f64", Ty::F64}};
  for (const auto &[name, ty] : names)
    if (m == name) {
      t = ty;
      return true;
    }
  return false;
}

bool parseSpaceName(const std::string &m, Space &s) {
  if (m == "global")
    s = Space::Global;
  else if (m == "shared" || m == "shared::cta")
    s = Space::Shared;
  else if (m == "local")
    s = Space::Local;
  else if (m == "param")
    s = Space::Param;
  else if (m == "const")
    s = Space::Const;
  else
    return false;
  return true;
}

/// Splits "ld.global.v4.b32" into its dot-separated parts, keeping "::"
/// qualifiers with their part ("shared::cta").
std::vector<std::string> splitOpcode(const std::string &w) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= w.size(); ++i)
    if (i == w.size() || w[i] == '.') {
      parts.push_back(w.substr(start, i - start));
      start = i + 1;
    }
  return parts;
}

bool parseInteger(const std::string &w, uint64_t &v) {
  std::string t = w;
  if (!t.empty() && (t.back() == 'U' || t.back() == 'u'))
    t.pop_back();
  if (t.empty() || !std::isdigit(static_cast<unsigned char>(t[0])))
    return false;
  char *end = nullptr;
  errno = 0;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))
    v = std::strtoull(t.c_str() + 2, &end, 16);
  else if (t.size() > 2 && t[0] == '0' && (t[1] == 'b' || t[1] == 'B'))
    v = std::strtoull(t.c_str() + 2, &end, 2);
  else if (t.size() > 1 && t[0] == '0')
    v = std::strtoull(t.c_str(), &end, 8);
  else
    v = std::strtoull(t.c_str(), &end, 10);
  return end && *end == 0 && errno == 0;
}

/// A float literal: 0fXXXXXXXX (f32 bits), 0dXXXXXXXXXXXXXXXX (f64 bits) or
/// a decimal with a point or exponent. `isF32Bits` says which bits `v` has
/// for the hex forms; decimals come back as f64 bits.
bool parseFloatLiteral(const std::string &w, uint64_t &v, bool &isF32Bits) {
  if (w.size() == 10 && w[0] == '0' && (w[1] == 'f' || w[1] == 'F')) {
    char *end = nullptr;
    v = std::strtoull(w.c_str() + 2, &end, 16);
    isF32Bits = true;
    return end && *end == 0;
  }
  if (w.size() == 18 && w[0] == '0' && (w[1] == 'd' || w[1] == 'D')) {
    char *end = nullptr;
    v = std::strtoull(w.c_str() + 2, &end, 16);
    isF32Bits = false;
    return end && *end == 0;
  }
  if (w.find_first_of(".eE") == std::string::npos || w[0] == '.' ||
      !std::isdigit(static_cast<unsigned char>(w[0])))
    return false;
  char *end = nullptr;
  double d = std::strtod(w.c_str(), &end);
  if (!end || *end)
    return false;
  std::memcpy(&v, &d, 8);
  isF32Bits = false;
  return true;
}

uint64_t alignUp(uint64_t v, uint64_t a) { return a ? (v + a - 1) / a * a : v; }

bool specialRegister(const std::string &w, Special &s) {
  static const std::pair<const char *, Special> names[] = {
      {"%tid.x", Special::TidX},
      {"%tid.y", Special::TidY},
      {"%tid.z", Special::TidZ},
      {"%ntid.x", Special::NtidX},
      {"%ntid.y", Special::NtidY},
      {"%ntid.z", Special::NtidZ},
      {"%ctaid.x", Special::CtaidX},
      {"%ctaid.y", Special::CtaidY},
      {"%ctaid.z", Special::CtaidZ},
      {"%nctaid.x", Special::NctaidX},
      {"%nctaid.y", Special::NctaidY},
      {"%nctaid.z", Special::NctaidZ},
      {"%laneid", Special::LaneId},
      {"%warpid", Special::WarpId},
      {"%nwarpid", Special::NWarpId},
      {"%smid", Special::SmId},
      {"%nsmid", Special::NSmId},
      {"%clock", Special::Clock},
      {"%clock64", Special::Clock64},
      {"%globaltimer", Special::GlobalTimer},
      {"%dynamic_smem_size", Special::DynamicSmemSize},
      {"%total_smem_size", Special::TotalSmemSize}};
  for (const auto &[name, sp] : names)
    if (w == name) {
      s = sp;
      return true;
    }
  return false;
}

/// A variable declaration: [.align N] .TYPE name[[N]]... [= {init}].
struct VarDecl {
  std::string name;
  uint64_t align = 0, elementBytes = 0, count = 1;
  uint64_t scalarBytes = 0; // of one element of a .v2/.v4 vector
  bool unsized = false;     // name[]
  std::vector<uint64_t> init;
  Ty type = Ty::None;
};

class Parser {
public:
  Parser(const std::string &text) : toks_(tokenize(text)) {}

  std::unique_ptr<Module> run(std::string &error) {
    module_ = std::make_unique<Module>();
    if (!moduleLevel() || !bodies()) {
      error = error_;
      return nullptr;
    }
    return std::move(module_);
  }

private:
  // --- tokens --------------------------------------------------------------
  const Token &peek(size_t k = 0) const {
    return toks_[std::min(pos_ + k, toks_.size() - 1)];
  }
  const Token &next() {
    const Token &t = peek();
    if (pos_ < toks_.size() - 1)
      ++pos_;
    return t;
  }
  bool isPunct(const char *p, size_t k = 0) const {
    return peek(k).kind == Token::Punct && peek(k).text == p;
  }
  bool accept(const char *p) {
    if (isPunct(p)) {
      next();
      return true;
    }
    return false;
  }
  bool fail(const std::string &what) {
    if (error_.empty())
      error_ = "line " + std::to_string(peek().line) + ": " + what;
    return false;
  }
  bool failAt(uint32_t line, const std::string &what) {
    if (error_.empty())
      error_ = "line " + std::to_string(line) + ": " + what;
    return false;
  }
  bool expect(const char *p) {
    if (accept(p))
      return true;
    return fail(std::string("expected '") + p + "', found '" + peek().text +
                "'");
  }
  void skipLine() {
    uint32_t line = peek().line;
    while (peek().kind != Token::End && peek().line == line)
      next();
  }
  void skipStatement() {
    while (peek().kind != Token::End && !isPunct(";"))
      next();
    accept(";");
  }
  /// Skips a balanced { ... } starting at the current '{'.
  bool skipBraces() {
    int depth = 0;
    do {
      if (peek().kind == Token::End)
        return fail("unterminated '{'");
      if (isPunct("{"))
        ++depth;
      else if (isPunct("}"))
        --depth;
      next();
    } while (depth > 0);
    return true;
  }
  bool integer(uint64_t &v) {
    if (!parseInteger(peek().text, v))
      return fail("expected an integer, found '" + peek().text + "'");
    next();
    return true;
  }

  // --- declarations --------------------------------------------------------
  /// After the state space word: [.align N] [.v2|.v4] .TYPE name[[N]][...]
  /// [= {values}]. Stops before ';' or ','.
  bool varDecl(VarDecl &d) {
    uint64_t vec = 1;
    while (peek().kind == Token::Word && peek().text[0] == '.') {
      std::string m = next().text.substr(1);
      Ty t;
      if (m == "align") {
        if (!integer(d.align))
          return false;
      } else if (m == "v2" || m == "v4" || m == "v8") {
        vec = m[1] - '0';
      } else if (m == "ptr" || m == "noreturn") {
      } else if (parseTypeName(m, t)) {
        d.type = t;
        d.scalarBytes = std::max<uint64_t>(1, bitsOf(t) / 8);
        d.elementBytes = d.scalarBytes * vec;
      } else {
        return fail("unsupported declaration qualifier '." + m + "'");
      }
    }
    if (d.type == Ty::None)
      return fail("declaration without a type");
    if (peek().kind != Token::Word)
      return fail("expected a name, found '" + peek().text + "'");
    d.name = next().text;
    while (accept("[")) {
      if (accept("]")) {
        d.unsized = true;
        continue;
      }
      uint64_t n;
      if (!integer(n) || !expect("]"))
        return false;
      d.count *= n;
    }
    if (accept("=")) {
      bool braced = accept("{");
      while (!isPunct("}") && !isPunct(";")) {
        bool negative = accept("-");
        uint64_t v;
        bool f32 = false;
        if (parseFloatLiteral(peek().text, v, f32)) {
          // To the bits of the declared float type.
          if (d.type != Ty::F32 && d.type != Ty::F64)
            return fail("float initialiser for a ." +
                        std::string(d.type == Ty::None ? "?" : "non-f32/f64") +
                        " variable '" + d.name + "'");
          next();
          double x;
          if (f32) {
            float f;
            uint32_t u = uint32_t(v);
            std::memcpy(&f, &u, 4);
            x = f;
          } else {
            std::memcpy(&x, &v, 8);
          }
          if (negative)
            x = -x;
          if (d.type == Ty::F32) {
            float f = float(x);
            uint32_t u;
            std::memcpy(&u, &f, 4);
            v = u;
          } else {
            std::memcpy(&v, &x, 8);
          }
        } else if (integer(v)) {
          v = negative ? uint64_t(0) - v : v;
        } else {
          return false;
        }
        d.init.push_back(v);
        if (!accept(","))
          break;
      }
      if (braced && !expect("}"))
        return false;
    }
    if (d.align == 0)
      d.align = d.elementBytes;
    return true;
  }

  /// A module-level .global/.const/.shared variable.
  bool moduleVariable(Space space, bool isExtern) {
    VarDecl d;
    if (!varDecl(d))
      return false;
    if (space == Space::Shared) {
      if (d.unsized || isExtern) {
        sharedSymbols_[d.name] = kDynamicShared;
      } else {
        uint64_t off = alignUp(module_->staticShared, d.align);
        sharedSymbols_[d.name] = off;
        module_->staticShared = uint32_t(off + d.elementBytes * d.count);
      }
      return expect(";");
    }
    size_t bytes = std::max<uint64_t>(1, d.elementBytes * d.count);
    std::unique_ptr<uint8_t[]> mem(new uint8_t[bytes + 16]());
    uint8_t *base = mem.get();
    if (d.init.size() * d.scalarBytes > bytes)
      return fail("too many initialisers for '" + d.name + "'");
    for (size_t i = 0; i < d.init.size(); ++i) {
      uint64_t v = d.init[i];
      std::memcpy(base + i * d.scalarBytes, &v,
                  std::min<uint64_t>(8, d.scalarBytes));
    }
    globalSymbols_[d.name] = reinterpret_cast<uint64_t>(base);
    module_->globalRanges.push_back({base, bytes});
    module_->globals.push_back(std::move(mem));
    return expect(";");
  }

  /// ( .param .TYPE name, ... ) of a signature, laid out from `offset`.
  bool paramList(std::vector<ParamDecl> &out, uint32_t &offset) {
    if (!expect("("))
      return false;
    while (!accept(")")) {
      if (peek().text != ".param" && peek().text != ".reg")
        return fail("expected '.param' in a parameter list, found '" +
                    peek().text + "'");
      next();
      VarDecl d;
      if (!varDecl(d))
        return false;
      uint64_t off = alignUp(offset, std::max<uint64_t>(d.align, 1));
      out.push_back(
          {d.name, uint32_t(off), uint32_t(d.elementBytes * d.count)});
      offset = uint32_t(off + d.elementBytes * d.count);
      if (!accept(",") && !isPunct(")"))
        return fail("expected ',' or ')' in a parameter list");
    }
    return true;
  }

  bool functionHeader(bool isKernel) {
    Function f;
    f.isKernel = isKernel;
    uint32_t offset = 0;
    if (!isKernel && isPunct("(")) {
      if (!paramList(f.results, offset))
        return false;
    }
    if (peek().kind != Token::Word)
      return fail("expected a function name");
    f.name = next().text;
    if (isPunct("(") && !paramList(f.params, offset))
      return false;
    f.incomingBytes = offset;
    f.paramBytes = offset;
    // Performance directives up to the body or ';'.
    while (peek().kind == Token::Word && peek().text[0] == '.') {
      std::string d = next().text;
      uint64_t product = 1, v;
      bool any = false;
      while (parseInteger(peek().text, v)) {
        next();
        product *= v;
        any = true;
        if (!accept(","))
          break;
      }
      if (d == ".maxntid" && any)
        f.maxThreads = uint32_t(product);
    }
    auto it = module_->byName.find(f.name);
    int index;
    if (it == module_->byName.end()) {
      index = int(module_->functions.size());
      module_->byName[f.name] = index;
      module_->functions.push_back(std::move(f));
    } else {
      index = it->second; // a prototype seen before
      bool defined = module_->functions[index].defined;
      if (defined && isPunct("{"))
        return fail("'" + f.name + "' defined twice");
      if (!defined)
        module_->functions[index] = std::move(f);
    }
    if (isPunct("{")) {
      module_->functions[index].defined = true;
      bodyStarts_.push_back({index, pos_});
      return skipBraces();
    }
    return expect(";");
  }

  bool moduleLevel() {
    while (peek().kind != Token::End) {
      const Token &t = peek();
      if (t.kind != Token::Word || t.text[0] != '.')
        return fail("unexpected '" + t.text + "' at module level");
      std::string d = t.text;
      if (d == ".version" || d == ".target" || d == ".address_size") {
        skipLine();
        continue;
      }
      if (d == ".file" || d == ".loc" || d == ".pragma") {
        skipStatement();
        continue;
      }
      if (d == ".section") {
        next();
        next();
        if (isPunct("{") && !skipBraces())
          return false;
        continue;
      }
      bool isExtern = false;
      while (peek().text == ".visible" || peek().text == ".extern" ||
             peek().text == ".weak" || peek().text == ".common") {
        isExtern |= peek().text == ".extern";
        next();
      }
      std::string kind = next().text;
      Space space;
      if (kind == ".entry" || kind == ".func") {
        if (!functionHeader(kind == ".entry"))
          return false;
      } else if (kind.size() > 1 && parseSpaceName(kind.substr(1), space) &&
                 space != Space::Local && space != Space::Param) {
        if (!moduleVariable(space, isExtern))
          return false;
      } else {
        return fail("unsupported module-level directive '" + kind + "'");
      }
    }
    module_->dynamicSharedOffset =
        uint32_t(alignUp(module_->staticShared, 128));
    return true;
  }

  // --- bodies --------------------------------------------------------------
  struct Scope {
    std::map<std::string, int32_t> regs;
    std::set<std::string> rangePrefixes;    // declared as %name<N>
    std::map<std::string, uint64_t> params; // call-sequence params
    uint32_t paramEnd = 0;
  };

  Function *fn_ = nullptr;
  std::vector<Scope> scopes_;
  std::map<std::string, uint64_t> localSymbols_;
  std::map<std::string, uint32_t> labels_;
  std::vector<std::pair<size_t, std::string>> labelUses_; // inst, label

  bool bodies() {
    for (auto [index, start] : bodyStarts_) {
      pos_ = start;
      if (!body(module_->functions[index]))
        return false;
    }
    return true;
  }

  /// The register `name` of the innermost scope that declares it, alone
  /// or in a range (%r<N>: %r0 .. %r{N-1}, created on first use); -1 if
  /// none does.
  int32_t regFor(const std::string &name) {
    size_t digits = name.size();
    while (digits > 0 &&
           std::isdigit(static_cast<unsigned char>(name[digits - 1])))
      --digits;
    std::string prefix = name.substr(0, digits);
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto r = it->regs.find(name);
      if (r != it->regs.end())
        return r->second;
      if (digits < name.size() && it->rangePrefixes.count(prefix)) {
        int32_t reg = int32_t(fn_->numRegs++);
        it->regs[name] = reg;
        return reg;
      }
    }
    return -1;
  }

  bool regDecl() {
    next(); // .reg
    while (peek().kind == Token::Word && peek().text[0] == '.')
      next(); // type, .v2 ...
    while (true) {
      if (peek().kind != Token::Word)
        return fail("expected a register name");
      std::string name = next().text;
      if (accept("<")) {
        uint64_t n;
        if (!integer(n) || !expect(">"))
          return false;
        scopes_.back().rangePrefixes.insert(name);
      } else {
        scopes_.back().regs[name] = int32_t(fn_->numRegs++);
      }
      if (!accept(","))
        break;
    }
    return expect(";");
  }

  bool localDecl(Space space) {
    VarDecl d;
    if (!varDecl(d))
      return false;
    uint64_t bytes = d.elementBytes * d.count;
    if (space == Space::Local) {
      uint64_t off = alignUp(fn_->localBytes, std::max<uint64_t>(d.align, 1));
      localSymbols_[d.name] = off;
      fn_->localBytes = uint32_t(off + bytes);
    } else if (space == Space::Param) {
      Scope &s = scopes_.back();
      uint64_t off = alignUp(s.paramEnd, std::max<uint64_t>(d.align, 1));
      s.params[d.name] = off;
      s.paramEnd = uint32_t(off + bytes);
      fn_->paramBytes = std::max(fn_->paramBytes, s.paramEnd);
    } else {
      return fail("'" + d.name +
                  "': .shared variables inside a function are not supported");
    }
    return expect(";");
  }

  /// The address or value of a symbol, with the space it lives in.
  bool symbol(const std::string &name, uint64_t &value, Space &space) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto p = it->params.find(name);
      if (p != it->params.end()) {
        value = p->second;
        space = Space::Param;
        return true;
      }
    }
    for (const auto &list : {&fn_->params, &fn_->results})
      for (const ParamDecl &p : *list)
        if (p.name == name) {
          value = p.offset;
          space = Space::Param;
          return true;
        }
    if (auto l = localSymbols_.find(name); l != localSymbols_.end()) {
      value = l->second;
      space = Space::Local;
      return true;
    }
    if (auto s = sharedSymbols_.find(name); s != sharedSymbols_.end()) {
      value = s->second == kDynamicShared ? module_->dynamicSharedOffset
                                          : s->second;
      space = Space::Shared;
      return true;
    }
    if (auto g = globalSymbols_.find(name); g != globalSymbols_.end()) {
      value = g->second;
      space = Space::Global;
      return true;
    }
    return false;
  }

  bool number(Operand &o) {
    bool negative = accept("-");
    uint64_t v;
    bool f32 = false;
    if (parseFloatLiteral(peek().text, v, f32)) {
      next();
      o.kind = Operand::Imm;
      o.imm = v;
      if (negative)
        o.imm ^= f32 ? 0x80000000ull : 0x8000000000000000ull;
      floatImm_ = f32 ? 1 : 2;
      return true;
    }
    if (!integer(v))
      return false;
    o.kind = Operand::Imm;
    o.imm = negative ? uint64_t(0) - v : v;
    return true;
  }

  bool scalar(Operand &o) {
    const Token &t = peek();
    if (isPunct("!")) {
      next();
      if (!scalar(o))
        return false;
      o.negated = true;
      return true;
    }
    if (isPunct("-") || (t.kind == Token::Word &&
                         std::isdigit(static_cast<unsigned char>(t.text[0]))))
      return number(o);
    if (t.kind != Token::Word)
      return fail("unexpected '" + t.text + "' in an operand");
    std::string w = next().text;
    if (w == "_") {
      o.kind = Operand::Sink;
      return true;
    }
    Special sp;
    if (w[0] == '%' && specialRegister(w, sp)) {
      o.kind = Operand::Special;
      o.reg = int32_t(sp);
      return true;
    }
    int32_t r = regFor(w);
    if (r >= 0) {
      o.kind = Operand::Reg;
      o.reg = r;
      return true;
    }
    uint64_t v;
    Space space;
    if (symbol(w, v, space)) {
      o.kind = Operand::Imm;
      o.imm = v;
      return true;
    }
    if (w[0] == '$' || w[0] == 'L' ||
        std::isalpha(static_cast<unsigned char>(w[0]))) {
      o.kind = Operand::Label; // resolved at the function's end
      labelUses_.push_back({fn_->code.size(), w});
      return true;
    }
    return fail("unknown register or symbol '" + w + "'");
  }

  bool operand(Operand &o) {
    if (accept("[")) {
      o.kind = Operand::Addr;
      o.reg = -1;
      o.imm = 0;
      if (peek().kind == Token::Word &&
          !std::isdigit(static_cast<unsigned char>(peek().text[0]))) {
        std::string w = next().text;
        int32_t r = regFor(w);
        uint64_t v;
        Space space;
        if (r >= 0)
          o.reg = r;
        else if (symbol(w, v, space))
          o.imm = v;
        else
          return fail("unknown address base '" + w + "'");
      } else {
        Operand n;
        if (!number(n))
          return false;
        o.imm = n.imm;
      }
      if (accept("+")) {
        Operand n;
        if (!number(n))
          return false;
        o.imm += n.imm;
      } else if (isPunct("-")) {
        Operand n;
        if (!number(n))
          return false;
        o.imm += n.imm;
      }
      return expect("]");
    }
    if (accept("{")) {
      o.kind = Operand::Vec;
      o.reg = int32_t(fn_->vecRegs.size());
      o.count = 0;
      while (!accept("}")) {
        Operand e;
        if (!scalar(e))
          return false;
        if (e.kind != Operand::Reg && e.kind != Operand::Sink)
          return fail("vector elements must be registers");
        fn_->vecRegs.push_back(e.kind == Operand::Reg ? e.reg : -1);
        ++o.count;
        if (!accept(",") && !isPunct("}"))
          return fail("expected ',' or '}' in a vector");
      }
      return true;
    }
    return scalar(o);
  }

  bool callStatement(Inst &in) {
    CallSite site;
    auto paramNames = [&](std::vector<uint32_t> &offsets,
                          std::vector<uint32_t> &sizes) {
      if (!expect("("))
        return false;
      while (!accept(")")) {
        std::string name = next().text;
        uint64_t v;
        Space space;
        if (!symbol(name, v, space) || space != Space::Param)
          return fail("call argument '" + name + "' is not a .param");
        offsets.push_back(uint32_t(v));
        sizes.push_back(0); // the callee's declaration gives the size
        if (!accept(",") && !isPunct(")"))
          return fail("expected ',' or ')' in a call");
      }
      return true;
    };
    if (isPunct("(")) {
      if (!paramNames(site.resultOffsets, site.resultSizes) || !expect(","))
        return false;
    }
    std::string callee = next().text;
    auto it = module_->byName.find(callee);
    if (it == module_->byName.end())
      return fail("call of unknown function '" + callee + "'");
    site.callee = it->second;
    if (accept(",") && !paramNames(site.argOffsets, site.argSizes))
      return false;
    const Function &f = module_->functions[site.callee];
    if (site.argOffsets.size() != f.params.size() ||
        site.resultOffsets.size() != f.results.size())
      return fail("call of '" + callee + "' with the wrong number of operands");
    for (size_t i = 0; i < f.params.size(); ++i)
      site.argSizes[i] = f.params[i].size;
    for (size_t i = 0; i < f.results.size(); ++i)
      site.resultSizes[i] = f.results[i].size;
    in.call = int32_t(fn_->calls.size());
    fn_->calls.push_back(std::move(site));
    return expect(";");
  }

  bool instruction() {
    Inst in;
    in.line = peek().line;
    if (accept("@")) {
      Operand g;
      if (!scalar(g) || g.kind != Operand::Reg)
        return fail("expected a predicate register after '@'");
      in.guard = g.reg;
      in.guardNegated = g.negated;
    }
    std::string opcode = next().text;
    if (!decodeOpcode(opcode, in))
      return false;
    if (in.op == Op::Call) {
      if (!callStatement(in))
        return false;
      fn_->code.push_back(in);
      return true;
    }
    floatImm_ = 0;
    while (!isPunct(";")) {
      if (in.numOps >= 6)
        return fail("too many operands");
      Operand &o = in.ops[in.numOps++];
      if (!operand(o))
        return false;
      if (accept("|")) { // setp p|q, shfl d|p
        if (in.numOps >= 6)
          return fail("too many operands");
        Operand &q = in.ops[in.numOps++];
        if (!scalar(q))
          return false;
        in.flags |= kSecondDst;
      }
      if (!accept(",") && !isPunct(";"))
        return fail("expected ',' or ';' after an operand, found '" +
                    peek().text + "'");
    }
    next();
    for (unsigned i = 0; i < in.numOps; ++i)
      if (in.ops[i].kind == Operand::Label && in.op != Op::Bra)
        return failAt(in.line, "unknown symbol in '" + opcode + "'");
    if (!fixImmediates(in))
      return false;
    if ((in.op == Op::Atom || in.op == Op::Red) && !checkAtomicOperands(in))
      return false;
    if (in.op == Op::Mma && !checkMmaOperands(in))
      return false;
    fn_->code.push_back(in);
    return true;
  }

  /// Decimal float immediates come as f64 bits and hex ones as their own
  /// width: convert to the instruction's float width.
  bool fixImmediates(Inst &in) {
    Ty t = in.op == Op::Cvt ? in.ty2 : in.ty;
    if (in.op == Op::Setp || in.op == Op::Selp)
      t = in.ty;
    for (unsigned i = 0; i < in.numOps; ++i) {
      Operand &o = in.ops[i];
      if (o.kind != Operand::Imm || !floatImm_)
        continue;
      bool f32Bits = floatImm_ == 1;
      if (t == Ty::F32 && !f32Bits) {
        double d;
        std::memcpy(&d, &o.imm, 8);
        float f = float(d);
        uint32_t u;
        std::memcpy(&u, &f, 4);
        o.imm = u;
      } else if (t == Ty::F64 && f32Bits) {
        uint32_t u = uint32_t(o.imm);
        float f;
        std::memcpy(&f, &u, 4);
        double d = f;
        std::memcpy(&o.imm, &d, 8);
      }
    }
    return true;
  }

  bool decodeOpcode(const std::string &word, Inst &in);
  bool decodeFence(const std::vector<std::string> &parts, Inst &in);
  /// The one warp matrix product the simulator runs:
  /// mma.sync.aligned.m16n8k32.row.col{.satfinite}.s32.{u8,s8}.{u8,s8}.s32.
  bool decodeMma(const std::string &word, const std::vector<std::string> &parts,
                 Inst &in) {
    std::vector<std::string> shape(parts.begin() + 1, parts.end());
    bool sat = shape.size() == 10 && shape[5] == "satfinite";
    if (sat)
      shape.erase(shape.begin() + 5);
    auto byteType = [](const std::string &t, Ty &out) {
      out = t == "u8" ? Ty::U8 : t == "s8" ? Ty::S8 : Ty::None;
      return out != Ty::None;
    };
    if (shape.size() != 9 || shape[0] != "sync" || shape[1] != "aligned" ||
        shape[2] != "m16n8k32" || shape[3] != "row" || shape[4] != "col" ||
        shape[5] != "s32" || !byteType(shape[6], in.ty) ||
        !byteType(shape[7], in.ty2) || shape[8] != "s32")
      return fail("unsupported instruction '" + word +
                  "' (of mma, only mma.sync.aligned.m16n8k32.row.col.s32 "
                  "with u8 or s8 A and B and s32 C is simulated)");
    in.op = Op::Mma;
    if (sat)
      in.flags |= kSat;
    return true;
  }
  /// mma's operands: {d0..d3}, {a0..a3}, {b0, b1}, {c0..c3}, registers.
  bool checkMmaOperands(const Inst &in) {
    static constexpr uint32_t counts[] = {4, 4, 2, 4};
    bool ok = in.numOps == 4;
    for (unsigned i = 0; ok && i < 4; ++i)
      ok = in.ops[i].kind == Operand::Vec && in.ops[i].count == counts[i];
    for (unsigned i = 0; ok && i < 4; ++i)
      for (uint32_t e = 0; ok && e < counts[i]; ++e)
        ok = fn_->vecRegs[in.ops[i].reg + e] >= 0;
    if (!ok)
      return failAt(in.line, "mma.sync.aligned.m16n8k32 takes {d0, d1, d2, "
                             "d3}, {a0, a1, a2, a3}, {b0, b1}, {c0, c1, c2, "
                             "c3}, all registers");
    return true;
  }
  bool decodeAtomic(const std::string &word,
                    const std::vector<std::string> &parts, Inst &in);
  /// The operands an atom or red needs.
  bool checkAtomicOperands(const Inst &in) {
    unsigned want = in.op == Op::Red ? 2 : in.atom == AtomOp::Cas ? 4 : 3;
    const Operand &addr = in.ops[in.op == Op::Red ? 0 : 1];
    if (in.numOps != want || addr.kind != Operand::Addr)
      return failAt(in.line, std::string(in.op == Op::Red ? "red" : "atom") +
                                 " takes " +
                                 (in.op == Op::Red         ? "[a], b"
                                  : in.atom == AtomOp::Cas ? "d, [a], b, c"
                                                           : "d, [a], b"));
    return true;
  }

  bool body(Function &f) {
    fn_ = &f;
    scopes_.assign(1, Scope{});
    scopes_[0].paramEnd = f.incomingBytes;
    localSymbols_.clear();
    labels_.clear();
    labelUses_.clear();
    if (!expect("{"))
      return false;
    while (true) {
      const Token &t = peek();
      if (t.kind == Token::End)
        return fail("unterminated body of '" + f.name + "'");
      if (isPunct("{")) {
        next();
        Scope s;
        s.paramEnd = scopes_.back().paramEnd;
        scopes_.push_back(s);
        continue;
      }
      if (isPunct("}")) {
        next();
        scopes_.pop_back();
        if (scopes_.empty())
          break;
        continue;
      }
      if (t.kind == Token::Word && isPunct(":", 1)) {
        labels_[t.text] = uint32_t(f.code.size());
        next();
        next();
        continue;
      }
      if (t.kind == Token::Word && t.text[0] == '.') {
        std::string d = t.text;
        Space space;
        if (d == ".reg") {
          if (!regDecl())
            return false;
        } else if (d == ".loc" || d == ".pragma" || d == ".file") {
          skipStatement();
        } else if (d.size() > 1 && parseSpaceName(d.substr(1), space)) {
          next();
          if (!localDecl(space))
            return false;
        } else {
          return fail("unsupported directive '" + d + "' in a body");
        }
        continue;
      }
      if (!instruction())
        return false;
    }
    // A trailing ret so that running off the end returns.
    Inst ret;
    ret.op = Op::Ret;
    ret.line = peek().line;
    f.code.push_back(ret);
    for (auto &[index, label] : labelUses_) {
      auto it = labels_.find(label);
      if (it == labels_.end())
        return failAt(f.code[index].line, "unknown label '" + label + "'");
      for (unsigned i = 0; i < f.code[index].numOps; ++i)
        if (f.code[index].ops[i].kind == Operand::Label)
          f.code[index].ops[i].imm = it->second;
    }
    return true;
  }

  static constexpr uint64_t kDynamicShared = ~uint64_t(0);
  std::vector<Token> toks_;
  size_t pos_ = 0;
  std::string error_;
  std::unique_ptr<Module> module_;
  std::map<std::string, uint64_t> globalSymbols_, sharedSymbols_;
  std::vector<std::pair<int, size_t>> bodyStarts_;
  int floatImm_ = 0; // 0 none, 1 f32 bits, 2 f64 bits in this instruction
};

/// A setp modifier: its comparison or boolean operation. False for others.
bool setpModifier(const std::string &m, Inst &in) {
  static const char *names[] = {"eq",  "ne",  "lt",  "le",  "gt",  "ge",
                                "lo",  "ls",  "hi",  "hs",  "equ", "neu",
                                "ltu", "leu", "gtu", "geu", "num", "nan"};
  for (int k = 0; k < 18; ++k)
    if (m == names[k]) {
      in.cmp = Cmp(k);
      return true;
    }
  if (m == "and" || m == "or" || m == "xor") {
    in.boolOp = m == "and" ? BoolOp::And : m == "or" ? BoolOp::Or : BoolOp::Xor;
    return true;
  }
  return false;
}

bool Parser::decodeOpcode(const std::string &word, Inst &in) {
  std::vector<std::string> parts = splitOpcode(word);
  const std::string &base = parts[0];
  static const std::pair<const char *, Op> ops[] = {
      {"mov", Op::Mov},     {"ld", Op::Ld},
      {"ldu", Op::Ld},      {"st", Op::St},
      {"cvt", Op::Cvt},     {"add", Op::Add},
      {"addc", Op::Add},    {"sub", Op::Sub},
      {"subc", Op::Sub},    {"mul", Op::Mul},
      {"mad", Op::Mad},     {"madc", Op::Mad},
      {"fma", Op::Fma},     {"div", Op::Div},
      {"rem", Op::Rem},     {"min", Op::Min},
      {"max", Op::Max},     {"neg", Op::Neg},
      {"abs", Op::Abs},     {"and", Op::And},
      {"or", Op::Or},       {"xor", Op::Xor},
      {"not", Op::Not},     {"cnot", Op::Cnot},
      {"shl", Op::Shl},     {"shr", Op::Shr},
      {"setp", Op::Setp},   {"selp", Op::Selp},
      {"bra", Op::Bra},     {"ret", Op::Ret},
      {"exit", Op::Exit},   {"bar", Op::Bar},
      {"barrier", Op::Bar}, {"shfl", Op::Shfl},
      {"call", Op::Call},   {"rcp", Op::Rcp},
      {"sqrt", Op::Sqrt},   {"rsqrt", Op::Rsqrt},
      {"ex2", Op::Ex2},     {"lg2", Op::Lg2},
      {"sin", Op::Sin},     {"cos", Op::Cos},
      {"tanh", Op::Tanh},   {"copysign", Op::Copysign},
      {"bfe", Op::Bfe},     {"bfi", Op::Bfi},
      {"prmt", Op::Prmt},   {"shf", Op::Shf},
      {"clz", Op::Clz},     {"popc", Op::Popc},
      {"brev", Op::Brev},   {"griddepcontrol", Op::Nop},
      {"membar", Op::Nop},  {"fence", Op::Nop},
      {"cvta", Op::Cvta},   {"atom", Op::Atom},
      {"red", Op::Red}};
  if (base == "mma")
    return decodeMma(word, parts, in);
  // Prefetches change no value, but their addresses are checked like a
  // load's: an address computed wrong is a bug even where the GPU ignores
  // it. cp.async.bulk.prefetch.L2.global [a], bytes: a range of global
  // memory; prefetch{.space}.level [a]: one line.
  if (word.rfind("cp.async.bulk.prefetch", 0) == 0) {
    in.op = Op::Prefetch;
    in.space = Space::Global;
    return true;
  }
  if (base == "prefetch") {
    in.op = Op::Prefetch;
    Space space;
    for (size_t i = 1; i < parts.size(); ++i)
      if (parseSpaceName(parts[i], space))
        in.space = space;
    return true;
  }
  bool found = false;
  for (const auto &[name, op] : ops)
    if (base == name) {
      in.op = op;
      found = true;
    }
  if (!found)
    return fail("unsupported instruction '" + word + "'");
  if (in.op == Op::Bar && parts.size() > 1 && parts[1] == "warp")
    return fail("unsupported instruction '" + word +
                "' (warp-level barriers are not simulated)");
  if (in.op == Op::Nop && base == "griddepcontrol" && parts.size() > 1)
    in.op = parts[1] == "wait" ? Op::GridDepWait : Op::GridDepTrigger;
  if (base == "fence" || base == "membar")
    return decodeFence(parts, in);
  if (in.op == Op::Atom || in.op == Op::Red)
    return decodeAtomic(word, parts, in);
  if (in.op == Op::Nop || in.op == Op::GridDepWait ||
      in.op == Op::GridDepTrigger)
    return true; // its modifiers do not matter here
  std::vector<Ty> types;
  bool toSpace = false, scoped = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string &m = parts[i];
    Ty t;
    Space s;
    if (base == "setp" && setpModifier(m, in)) {
      continue; // its comparison (lo, hi, ... are comparisons here)
    } else if (parseTypeName(m, t)) {
      types.push_back(t);
    } else if (parseSpaceName(m, s)) {
      in.space = s;
    } else if (m == "to") {
      toSpace = true;
    } else if (m == "v2" || m == "v4") {
      in.vec = uint8_t(m[1] - '0');
    } else if (m == "rn" || m == "rz" || m == "rm" || m == "rp" || m == "rni" ||
               m == "rzi" || m == "rmi" || m == "rpi") {
      static const char *names[] = {"rn",  "rz",  "rm",  "rp",
                                    "rni", "rzi", "rmi", "rpi"};
      for (int k = 0; k < 8; ++k)
        if (m == names[k])
          in.rnd = Rnd(k + 1);
    } else if (m == "ftz") {
      in.flags |= kFtz;
    } else if (m == "sat") {
      in.flags |= kSat;
    } else if (m == "approx") {
      in.flags |= kApprox;
    } else if (m == "NaN") {
      in.flags |= kNaN;
    } else if (m == "cc") {
      in.flags |= kCarryOut;
    } else if (m == "hi") {
      in.flags |= kModeHi;
    } else if (m == "wide") {
      in.flags |= kModeWide;
    } else if (base == "shf" && (m == "l" || m == "r")) {
      if (m == "r")
        in.flags |= kShfRight;
    } else if (base == "shf" && (m == "wrap" || m == "clamp")) {
      if (m == "clamp")
        in.flags |= kShfClamp;
    } else if (base == "shfl" &&
               (m == "up" || m == "down" || m == "bfly" || m == "idx")) {
      in.shfl = m == "up"     ? ShflMode::Up
                : m == "down" ? ShflMode::Down
                : m == "bfly" ? ShflMode::Bfly
                              : ShflMode::Idx;
    } else if ((base == "ld" || base == "st") &&
               (m == "volatile" || m == "relaxed" || m == "weak" ||
                (m == "acquire" && base == "ld") ||
                (m == "release" && base == "st"))) {
      in.sem = m == "volatile"  ? Sem::Volatile
               : m == "relaxed" ? Sem::Relaxed
               : m == "acquire" ? Sem::Acquire
               : m == "release" ? Sem::Release
                                : Sem::Weak;
    } else if ((base == "ld" || base == "st") &&
               (m == "cta" || m == "gpu" || m == "sys")) {
      scoped = true;
      if (m == "cta")
        in.flags |= kScopeCta;
    } else if (m == "lo" || m == "full" || m == "uni" || m == "sync" ||
               m == "aligned" || m == "nc" || m == "volatile" || m == "ca" ||
               m == "cg" || m == "cs" || m == "lu" || m == "cv" || m == "wb" ||
               m == "wt" || m == "relaxed" || m == "weak" || m == "cta" ||
               m == "gpu" || m == "sys" || m == "noftz" ||
               m.rfind("L1::", 0) == 0 || m.rfind("L2::", 0) == 0) {
      // no effect when threads run in turn and memory is the host's
    } else {
      return fail("unsupported modifier '." + m + "' in '" + word + "'");
    }
  }
  if (!types.empty())
    in.ty = types[0];
  if (types.size() > 1)
    in.ty2 = types[1];
  if (base == "addc" || base == "subc" || base == "madc")
    in.flags |= kCarryIn;
  if (in.op == Op::Cvta && toSpace)
    in.op = Op::CvtaTo;
  if (in.op == Op::Cvt && types.size() != 2)
    return fail("'" + word + "': cvt needs a destination and a source type");
  if ((in.op == Op::Ld || in.op == Op::St) && in.ty == Ty::None)
    return fail("'" + word + "' has no type");
  if (in.op == Op::Ld || in.op == Op::St) {
    if (bitsOf(in.ty) > 64)
      return fail("'" + word + "': 128-bit accesses are not supported");
    bool ordered = in.sem == Sem::Relaxed || in.sem == Sem::Acquire ||
                   in.sem == Sem::Release;
    if (ordered != scoped)
      return fail("'" + word + "': " +
                  (ordered ? "a relaxed, acquire or release access needs a "
                             "scope (.cta, .gpu or .sys)"
                           : "a scope needs .relaxed, .acquire or .release"));
  }
  return true;
}

bool Parser::decodeFence(const std::vector<std::string> &parts, Inst &in) {
  // fence{.sc,.acq_rel}.scope and membar.{cta,gl,sys} order memory; at
  // .gpu or .sys scope between blocks too (GlobalRaces), at .cta scope only
  // within a block, where threads run in turn. The proxy and other
  // special fences change nothing here.
  bool memoryFence = true, cta = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string &m = parts[i];
    if (m == "cta" || m == "cluster") // no clusters: a block is its own
      cta = true;
    else if (!(m == "sc" || m == "acq_rel" || m == "gpu" || m == "sys" ||
               (parts[0] == "membar" && m == "gl")))
      memoryFence = false;
  }
  in.op = memoryFence && !cta && parts.size() > 1 ? Op::Fence : Op::Nop;
  return true;
}

/// atom{.sem}{.scope}{.space}.op.type d, [a], b{, c} and
/// red{.sem}{.scope}{.space}.op.type [a], b on global (or generic) memory,
/// of the types PTX gives each operation; other forms (16-bit, 128-bit,
/// vector, half, cache hints, shared memory, .cluster scope) are refused.
bool Parser::decodeAtomic(const std::string &word,
                          const std::vector<std::string> &parts, Inst &in) {
  bool red = in.op == Op::Red;
  auto unsupported = [&](const std::string &why) {
    return fail("unsupported instruction '" + word + "' (" + why + ")");
  };
  static const std::pair<const char *, AtomOp> opNames[] = {
      {"add", AtomOp::Add}, {"inc", AtomOp::Inc}, {"dec", AtomOp::Dec},
      {"min", AtomOp::Min}, {"max", AtomOp::Max}, {"and", AtomOp::And},
      {"or", AtomOp::Or},   {"xor", AtomOp::Xor}, {"exch", AtomOp::Exch},
      {"cas", AtomOp::Cas}};
  bool haveOp = false, haveSem = false, haveScope = false;
  std::string opName;
  in.sem = Sem::Relaxed;
  in.space = Space::Generic;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string &m = parts[i];
    Ty t;
    bool known = false;
    for (const auto &[name, op] : opNames)
      if (m == name && !haveOp) {
        in.atom = op;
        opName = m;
        haveOp = known = true;
      }
    if (known)
      continue;
    if (!haveSem && (m == "relaxed" || m == "acquire" || m == "release" ||
                     m == "acq_rel")) {
      in.sem = m == "relaxed"   ? Sem::Relaxed
               : m == "acquire" ? Sem::Acquire
               : m == "release" ? Sem::Release
                                : Sem::AcqRel;
      haveSem = true;
    } else if (!haveScope && (m == "cta" || m == "gpu" || m == "sys")) {
      if (m == "cta")
        in.flags |= kScopeCta;
      haveScope = true;
    } else if (m == "global") {
      in.space = Space::Global;
    } else if (m.rfind("shared", 0) == 0) {
      return unsupported("atomics on shared memory are not simulated");
    } else if (in.ty == Ty::None && parseTypeName(m, t)) {
      in.ty = t;
    } else {
      return unsupported("modifier '." + m + "' not simulated");
    }
  }
  if (!haveOp)
    return unsupported("no operation");
  if (red && (in.atom == AtomOp::Exch || in.atom == AtomOp::Cas))
    return unsupported("red has no ." + opName + "; atom does");
  if (red && (in.sem == Sem::Acquire || in.sem == Sem::AcqRel))
    return unsupported("red is .relaxed or .release");
  Ty t = in.ty;
  bool ok;
  const char *types;
  switch (in.atom) {
  case AtomOp::Add:
    ok = t == Ty::U32 || t == Ty::S32 || t == Ty::U64 || t == Ty::F32 ||
         t == Ty::F64;
    types = ".u32, .s32, .u64, .f32 or .f64";
    break;
  case AtomOp::Inc:
  case AtomOp::Dec:
    ok = t == Ty::U32;
    types = ".u32";
    break;
  case AtomOp::Min:
  case AtomOp::Max:
    ok = t == Ty::U32 || t == Ty::S32 || t == Ty::U64 || t == Ty::S64;
    types = ".u32, .s32, .u64 or .s64";
    break;
  default: // and, or, xor, exch, cas
    ok = t == Ty::B32 || t == Ty::B64;
    types = ".b32 or .b64";
    break;
  }
  if (!ok)
    return unsupported("this operation is simulated on " + std::string(types));
  return true;
}

} // namespace

std::unique_ptr<Module> parsePtx(const std::string &text, std::string &error) {
  Parser p(text);
  return p.run(error);
}

} // namespace ptxsim
} // namespace zamba2
