// The serializable RNG every dataset step draws from: its state round trip and uniformity.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "expect_error.h"
#include "trm/data.h"

namespace trm::data {
namespace {

using test_util::expect_error;

TEST(Rng, StateRoundTripAndUniformity) {
  Rng a(42, 3);
  for (int i = 0; i < 10; ++i) a.next();
  Rng b;
  b.set_state(a.state(), "test");
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.next(), b.next());
  EXPECT_FALSE(Rng(1, 0) == Rng(1, 1));
  EXPECT_FALSE(Rng(1, 0) == Rng(2, 0));
  int counts[6] = {};
  for (int i = 0; i < 60000; ++i) ++counts[a.below(6)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  const auto pick = a.choose(100, 30);
  EXPECT_EQ(std::set<std::int64_t>(pick.begin(), pick.end()).size(), 30u);
  expect_error([&] { b.set_state(nlohmann::json::array({"zz"}), "ctx"); }, {"ctx"});
}

}  // namespace
}  // namespace trm::data
