// Counts C++ heap allocations while g_counting is set, for the tests that check "hot loops
// allocate nothing" (test_no_alloc, test_infer). Including it replaces the global operator new of
// that test binary, so include it from exactly one file per binary. The replacement takes its
// memory from malloc, so free is the matching release; GCC cannot see that once it inlines
// make_unique, hence the pragma.
#pragma once
#include <atomic>
#include <cstdlib>
#include <new>

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

inline std::atomic<bool> g_counting{false};
inline std::atomic<long> g_allocations{0};

void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
