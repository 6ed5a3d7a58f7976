/*===- GlibcCompat.c - Keep the tool runnable on glibc 2.35 ---------------===*\
|*                                                                            *|
|* The static libstdc++ (GCC 12) links std::random_device, which calls        *|
|* arc4random, new in glibc 2.36; the tool never uses it. Defining it here    *|
|* keeps the binary's glibc floor at 2.35 (Ubuntu 22.04, which GPU hosts      *|
|* often run).                                                                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#include <stdint.h>
#include <sys/random.h>

uint32_t arc4random(void) {
  uint32_t value = 0;
  while (getrandom(&value, sizeof(value), 0) != (ssize_t)sizeof(value)) {
  }
  return value;
}
