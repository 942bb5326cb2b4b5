// How the process holds memory between large allocations. An analysis of a million rows
// allocates and frees columns of megabytes many times over (model frame, sorted copies, one
// vector per Newton step); by default each is handed back to the system when freed and
// faulted in, page by page, when allocated again, which cost more than the arithmetic. The
// programs keep freed memory for reuse while they work, and give it back when idle.
#ifndef PASSERELLE_BASE_MEMORY_H_
#define PASSERELLE_BASE_MEMORY_H_

namespace passerelle {

// At program start: large blocks come from the heap and freed memory stays with the process.
void KeepFreedMemory();

// When idle (a node between studies): gives the freed memory back to the system.
void ReturnFreedMemory();

}  // namespace passerelle

#endif  // PASSERELLE_BASE_MEMORY_H_
