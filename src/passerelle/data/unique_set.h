// A set of byte strings for uniqueness checks over millions of identifiers: one open-addressing
// table of hashes and offsets into one arena, so adding a value allocates nothing per value.
#ifndef PASSERELLE_DATA_UNIQUE_SET_H_
#define PASSERELLE_DATA_UNIQUE_SET_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace passerelle::data {

class UniqueSet {
 public:
  // Adds `value`; false when it was already there.
  bool Insert(std::string_view value);
  // Tells the processor that `value` will soon be inserted (a table of millions of slots is
  // not in the cache: the insertion otherwise waits for memory).
  void Prefetch(std::string_view value) const;
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0: empty (real hashes are forced non-zero)
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  void Grow();

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
};

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_UNIQUE_SET_H_
