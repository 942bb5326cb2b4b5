#include "passerelle/base/memory.h"

#include <malloc.h>

namespace passerelle {

void KeepFreedMemory() {
  // Blocks of up to 1 GiB from the heap rather than their own mappings, and no trimming of the
  // heap's free top below 4 GiB: a freed column is reused by the next one without new pages.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(~0u >> 1));
}

void ReturnFreedMemory() { malloc_trim(0); }

}  // namespace passerelle
