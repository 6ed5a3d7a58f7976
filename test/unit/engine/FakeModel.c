/*===- FakeModel.c - A model library for testing the runtime --------------===
 *
 * Implements the model ABI of docs/PACKAGE.md (abi_version 1, or
 * FAKE_ABI_VERSION) with arithmetic simple enough to derive by hand, so that
 * the engine's tests can check descriptors, positions, state and batch rows
 * without a compiled model. The package's state must be, in this order:
 *   conv f32 ["batch", 4, 3]        last three tokens, times (channel + 1)
 *   ssm  f32 ["batch", 2]           [tokens seen, sum of their ids]
 *   kv   f32 ["batch", 2, "seq", 3] per head h and position p: [id, p, h + 1]
 * For token t of row b (id `tok`, position pos = positions[b] + t), after
 * updating the state, the logits row is
 *   [0] tokens seen     [1] sum of ids (ssm)  [2] sum of ids (kv cache, head 1)
 *   [3] pos             [4] tok               [5] first f32 of the weights
 *   [6] sum of conv channel 0 (last three ids) [7] b
 *   [v >= 8] 1e6 for v == 8 + (7 * sum + pos) % (V - 8), else -v
 * so greedy decoding picks that v. The rows of a call run through the
 * parallel-loop hook (zamba2_set_parallel_for), so the runtime's thread pool
 * runs them when installed. Every descriptor of the last call is kept
 * for the tests (fake_last_descriptor); every access goes through the
 * descriptor's strides and offset.
 *
 *===----------------------------------------------------------------------===*/
#include <stdint.h>
#include <string.h>

#ifndef FAKE_ABI_VERSION
#define FAKE_ABI_VERSION 1
#endif

#define FAKE_NUM_ARGS 7
#define FAKE_MAX_RANK 4

/* A descriptor of any rank, read as 64-bit words. */
typedef struct {
  char *aligned;
  int64_t offset;
  int64_t sizes[FAKE_MAX_RANK];
  int64_t strides[FAKE_MAX_RANK];
} View;

static const int fakeRanks[FAKE_NUM_ARGS] = {1, 2, 1, 3, 2, 4, 3};
static int64_t lastDesc[FAKE_NUM_ARGS][3 + 2 * FAKE_MAX_RANK];
static int lastEntry; /* 0 none, 1 prefill, 2 decode */
static int64_t numCalls;
static int64_t badDecodes; /* decode calls with T != 1 */

static View view(void *arg, int rank) {
  const int64_t *w = (const int64_t *)arg;
  View v;
  memset(&v, 0, sizeof(v));
  memcpy(&v.aligned, &w[1], sizeof(void *));
  v.offset = w[2];
  for (int d = 0; d < rank; ++d) {
    v.sizes[d] = w[3 + d];
    v.strides[d] = w[3 + rank + d];
  }
  return v;
}

static float *f32At(const View *v, int64_t i0, int64_t i1, int64_t i2,
                    int64_t i3) {
  int64_t e = v->offset + i0 * v->strides[0] + i1 * v->strides[1] +
              i2 * v->strides[2] + i3 * v->strides[3];
  return (float *)v->aligned + e;
}

/* The arguments of one call, shared by the rows. */
typedef struct {
  View in[FAKE_NUM_ARGS];
  float w0;
} Call;

/* Rows [begin, end): each touches only its own state and logits rows, so the
 * runtime's dispatcher may run them on different threads. */
static void rows(void *ctx, int64_t begin, int64_t end) {
  const Call *call = (const Call *)ctx;
  const View *tokens = &call->in[1], *positions = &call->in[2];
  const View *conv = &call->in[3], *ssm = &call->in[4], *kv = &call->in[5];
  const View *logits = &call->in[6];
  int64_t len = tokens->sizes[1], vocab = logits->sizes[2];
  for (int64_t b = begin; b < end; ++b) {
    int64_t start =
        ((const int64_t *)
             positions->aligned)[positions->offset + b * positions->strides[0]];
    for (int64_t t = 0; t < len; ++t) {
      int64_t tok =
          ((const int64_t *)
               tokens->aligned)[tokens->offset + b * tokens->strides[0] +
                                t * tokens->strides[1]];
      int64_t pos = start + t;

      *f32At(ssm, b, 0, 0, 0) += 1;
      *f32At(ssm, b, 1, 0, 0) += (float)tok;
      for (int64_t c = 0; c < conv->sizes[1]; ++c) {
        *f32At(conv, b, c, 0, 0) = *f32At(conv, b, c, 1, 0);
        *f32At(conv, b, c, 1, 0) = *f32At(conv, b, c, 2, 0);
        *f32At(conv, b, c, 2, 0) = (float)(tok * (c + 1));
      }
      for (int64_t h = 0; h < kv->sizes[1]; ++h) {
        *f32At(kv, b, h, pos, 0) = (float)tok;
        *f32At(kv, b, h, pos, 1) = (float)pos;
        *f32At(kv, b, h, pos, 2) = (float)(h + 1);
      }
      float kvSum = 0;
      for (int64_t p = 0; p <= pos; ++p)
        kvSum += *f32At(kv, b, 1, p, 0);
      float sum = *f32At(ssm, b, 1, 0, 0);

      float row[8];
      row[0] = *f32At(ssm, b, 0, 0, 0);
      row[1] = sum;
      row[2] = kvSum;
      row[3] = (float)pos;
      row[4] = (float)tok;
      row[5] = call->w0;
      row[6] = *f32At(conv, b, 0, 0, 0) + *f32At(conv, b, 0, 1, 0) +
               *f32At(conv, b, 0, 2, 0);
      row[7] = (float)b;
      int64_t target =
          vocab > 8 ? 8 + (7 * (int64_t)sum + pos) % (vocab - 8) : -1;
      for (int64_t v = 0; v < vocab; ++v)
        *f32At(logits, b, t, v, 0) = v < 8         ? row[v]
                                     : v == target ? 1e6f
                                                   : -(float)v;
    }
  }
}

/* The parallel-loop hook of the ABI: serial until the runtime installs its
 * dispatcher through zamba2_set_parallel_for. */
typedef void (*LoopBody)(void *, int64_t, int64_t);
typedef void (*Dispatcher)(LoopBody, void *, int64_t, int64_t);
static void serial(LoopBody body, void *ctx, int64_t begin, int64_t end) {
  body(ctx, begin, end);
}
static Dispatcher dispatcher = serial;

static void run(void **args, int entry) {
  Call call;
  for (int i = 0; i < FAKE_NUM_ARGS; ++i) {
    call.in[i] = view(args[i], fakeRanks[i]);
    memcpy(lastDesc[i], args[i], sizeof(int64_t) * (3 + 2 * fakeRanks[i]));
  }
  lastEntry = entry;
  ++numCalls;
  if (entry == 2 && call.in[1].sizes[1] != 1)
    ++badDecodes;
  call.w0 = 0;
  if (call.in[0].sizes[0] >= 4)
    memcpy(&call.w0, call.in[0].aligned + call.in[0].offset, sizeof(float));
  dispatcher(rows, &call, 0, call.in[1].sizes[0]);
}

void zamba2_set_parallel_for(Dispatcher d) { dispatcher = d ? d : serial; }

int32_t zamba2_abi_version(void) { return FAKE_ABI_VERSION; }
void zamba2_prefill(void **args) { run(args, 1); }
void zamba2_decode(void **args) { run(args, 2); }

/* For the tests. */
const int64_t *fake_last_descriptor(int arg) {
  return arg >= 0 && arg < FAKE_NUM_ARGS ? lastDesc[arg] : 0;
}
int fake_last_entry(void) { return lastEntry; }
int64_t fake_num_calls(void) { return numCalls; }
int64_t fake_bad_decodes(void) { return badDecodes; }
/* Whether a dispatcher other than the serial one is installed. */
int fake_has_dispatcher(void) { return dispatcher != serial; }
