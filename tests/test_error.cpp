// trm's two exception types: user errors (trm::Error) and broken invariants (TRM_ASSERT ->
// trm::InternalError), which must stay distinct so that no handler of the first swallows the second.
#include <gtest/gtest.h>

#include <string>

#include "trm/error.h"

namespace trm {
namespace {

int checked_half(int even) {
  TRM_ASSERT(even % 2 == 0, "got " + std::to_string(even));
  return even / 2;
}

TEST(TrmAssert, PassesWhenTheInvariantHolds) { EXPECT_EQ(checked_half(8), 4); }

TEST(TrmAssert, ThrowsInternalErrorNamingFileLineAndCondition) {
  try {
    checked_half(3);
    FAIL() << "TRM_ASSERT must throw when its condition is false";
  } catch (const Error&) {
    FAIL() << "a broken invariant must not be reported as a user error";
  } catch (const InternalError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("test_error.cpp:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("even % 2 == 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("got 3"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace trm
