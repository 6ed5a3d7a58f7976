/*===- zamba2_runtime.h - C API of the zamba2c runtime ---------------------===
 *
 * Loads a package written by zamba2-compile (docs/PACKAGE.md) and runs it.
 *
 *   zamba2_package *pkg;
 *   if (zamba2_package_open("pkg-dir", &pkg) != ZAMBA2_OK) {
 *     fprintf(stderr, "%s\n", zamba2_last_error());
 *     ...
 *   }
 *   zamba2_session *s;
 *   zamba2_session_create(pkg, 1, 4096, &s);  // max batch 1, max seq 4096
 *   zamba2_session_prefill(s, 1, n, ids, NULL); // see zamba2_session_logits
 *   zamba2_session_decode(s, 1, &next, NULL);
 *   zamba2_session_destroy(s);
 *   zamba2_package_close(pkg);
 *
 * Every fallible function returns a zamba2_status; on failure nothing has
 * changed and zamba2_last_error() holds one line saying why (naming the file
 * and field, or the argument). Nothing is ever printed and the process never
 * exits on an error. A session keeps its package loaded, so the package
 * handle may be closed before the sessions made from it.
 *
 * Threads: a package may be shared; a session must be used by one thread at a
 * time. zamba2_last_error() is per thread.
 *
 *===----------------------------------------------------------------------===*/
#ifndef ZAMBA2_RUNTIME_H
#define ZAMBA2_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zamba2_status {
  ZAMBA2_OK = 0,
  ZAMBA2_ERROR_INVALID_ARGUMENT = 1, /* batch size, token id, null pointer */
  ZAMBA2_ERROR_IO = 2,          /* a file is missing, unreadable, unloadable */
  ZAMBA2_ERROR_FORMAT = 3,      /* the package breaks the format/ABI contract */
  ZAMBA2_ERROR_UNSUPPORTED = 4, /* valid, but not for this runtime or CPU */
  ZAMBA2_ERROR_OUT_OF_MEMORY = 5,
  ZAMBA2_ERROR_CAPACITY = 6 /* the sequence would exceed the session's max */
} zamba2_status;

typedef struct zamba2_package zamba2_package;
typedef struct zamba2_session zamba2_session;

/* What a package is, from its manifest. Token ids are -1 when absent. */
typedef struct zamba2_package_info {
  int64_t vocab_size;
  int64_t hidden_size;
  int64_t num_layers;
  int64_t bos_token_id;
  int64_t eos_token_id;
  int64_t pad_token_id;
  int64_t num_state_tensors;
  int64_t abi_version;
  uint64_t weights_bytes;
} zamba2_package_info;

/* The message of the last failed call on this thread ("" if none). Valid
 * until the next failing call on this thread. */
const char *zamba2_last_error(void);
/* A constant name of a status code ("ZAMBA2_ERROR_IO", ...). */
const char *zamba2_status_name(zamba2_status status);
/* The model ABI version this runtime implements. */
int32_t zamba2_runtime_abi_version(void);

/* Opens the package directory `dir`: checks manifest.json, the target and
 * the CPU's features, maps weights.bin and loads model.so. */
zamba2_status zamba2_package_open(const char *dir, zamba2_package **out);
/* Releases the handle (NULL is fine); the package stays loaded while a
 * session made from it lives. */
void zamba2_package_close(zamba2_package *package);
zamba2_status zamba2_package_get_info(const zamba2_package *package,
                                      zamba2_package_info *out);

/* A session of up to max_batch sequences of up to max_seq tokens each:
 * allocates the package's state tensors, zeroed. */
zamba2_status zamba2_session_create(zamba2_package *package, int64_t max_batch,
                                    int64_t max_seq, zamba2_session **out);
void zamba2_session_destroy(zamba2_session *session);

/* Feeds seq_len tokens to each of sequences 0..batch-1. ids: [batch,
 * seq_len] row-major, each in [0, vocab_size). Writes logits [batch, seq_len,
 * vocab_size] to `logits`, or, when it is NULL, to the session's buffer
 * (zamba2_session_logits). Errors (nothing changed): batch outside [1,
 * max_batch], seq_len < 1, an id out of the vocabulary
 * (ZAMBA2_ERROR_INVALID_ARGUMENT); a sequence's position + seq_len > max_seq
 * (ZAMBA2_ERROR_CAPACITY). */
zamba2_status zamba2_session_prefill(zamba2_session *session, int64_t batch,
                                     int64_t seq_len, const int64_t *ids,
                                     float *logits);
/* One token for each of sequences 0..batch-1: ids [batch], logits [batch,
 * vocab_size]. */
zamba2_status zamba2_session_decode(zamba2_session *session, int64_t batch,
                                    const int64_t *ids, float *logits);
/* The session's logits buffer, written by the last prefill/decode given a
 * NULL logits pointer; NULL before the first such call. */
const float *zamba2_session_logits(const zamba2_session *session);

/* Starts sequence `seq` over: zeroes its state rows and its position. */
zamba2_status zamba2_session_reset(zamba2_session *session, int64_t seq);
/* Tokens sequence `seq` has consumed so far; -1 if seq is out of range. */
int64_t zamba2_session_position(const zamba2_session *session, int64_t seq);
int64_t zamba2_session_max_batch(const zamba2_session *session);
int64_t zamba2_session_max_seq(const zamba2_session *session);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ZAMBA2_RUNTIME_H */
