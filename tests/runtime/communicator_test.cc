// The runtime's side of data parallelism: the collectives' library calls
// pack a bucket and hand it to the program's Communicator (here a
// recording stand-in for two identical replicas, whose sums double every
// value), a sum in place is not copied, one process changes nothing, and
// a build without MPI refuses a launch by mpirun with a message.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <vector>

#include "base/error.h"
#include "runtime/communicator.h"
#include "runtime/library.h"
#include "runtime/library_calls.h"
#include "runtime/process_communicator.h"
#include "runtime/thread_pool.h"
#include "tests/testing/allocation_counter.h"

namespace reforge {
namespace {

// Two replicas holding the same values: every sum is twice the value. It
// records the order of calls, and a bucket's sum lands only at its wait.
class TwinReplicas : public runtime::Communicator {
 public:
  explicit TwinReplicas(int rank = 0) : rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  void all_reduce(void* data, int64_t count, DType) override {
    calls.push_back("all_reduce");
    double_floats(data, count);
  }
  void start_all_reduce(int tag, void* data, int64_t count, DType) override {
    calls.push_back("start " + std::to_string(tag));
    pending[tag] = {data, count};
  }
  void wait(int tag) override {
    calls.push_back("wait " + std::to_string(tag));
    auto it = pending.find(tag);
    if (it == pending.end()) throw Error("wait without a start");
    double_floats(it->second.first, it->second.second);
    pending.erase(it);
  }
  void broadcast(void*, int64_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
  std::string describe() const override { return "twins"; }

  std::vector<std::string> calls;
  std::map<int, std::pair<void*, int64_t>> pending;

 private:
  int rank_;
  static void double_floats(void* data, int64_t count) {
    auto* f = static_cast<float*>(data);
    for (int64_t i = 0; i < count; ++i) f[i] *= 2;
  }
};

template <typename Call>
void call(const Call& c, std::vector<void*> buffers, runtime::Communicator* communicator) {
  static runtime::ThreadPool pool(1);
  const std::vector<int64_t> ints = runtime::encode_call(c);
  runtime::find_library_function(Call::kFunction)(
      {buffers.data(), ints.data(), static_cast<int64_t>(ints.size()), nullptr, pool, nullptr, nullptr, communicator});
}

TEST(Collectives, ABucketIsPackedInOrderAndSummedAtItsWait) {
  const int64_t parts[] = {3, 1, 2};
  std::vector<float> a = {1, 2, 3}, b = {4}, c = {5, 6}, bucket(6, 0), summed(6, 0);
  TwinReplicas twins;
  call(runtime::AllReduceStartCall{.dtype = DType::f32, .bucket = 7, .parts = parts},
       {a.data(), b.data(), c.data(), bucket.data()}, &twins);
  EXPECT_EQ(bucket, (std::vector<float>{1, 2, 3, 4, 5, 6})) << "packed, not yet summed";
  call(runtime::AllReduceWaitCall{.dtype = DType::f32, .bucket = 7, .elements = 6}, {bucket.data(), summed.data()},
       &twins);
  EXPECT_EQ(summed, (std::vector<float>{2, 4, 6, 8, 10, 12}));
  // In place (the planner's choice when the bucket dies at its wait): the
  // same memory, summed, no copy.
  call(runtime::AllReduceStartCall{.dtype = DType::f32, .bucket = 8, .parts = parts},
       {a.data(), b.data(), c.data(), bucket.data()}, &twins);
  call(runtime::AllReduceWaitCall{.dtype = DType::f32, .bucket = 8, .elements = 6}, {bucket.data(), bucket.data()},
       &twins);
  EXPECT_EQ(bucket, (std::vector<float>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ(twins.calls, (std::vector<std::string>{"start 7", "wait 7", "start 8", "wait 8"}));
}

TEST(Collectives, AReplicaSumSumsNow) {
  std::vector<float> x = {1.5f, -2}, y(2, 0);
  TwinReplicas twins;
  call(runtime::AllReduceCall{.dtype = DType::f32, .elements = 2}, {x.data(), y.data()}, &twins);
  EXPECT_EQ(y, (std::vector<float>{3, -4}));
  EXPECT_EQ(x, (std::vector<float>{1.5f, -2})) << "the value itself is left alone";
}

TEST(Collectives, OneProcessIsTheIdentity) {
  const int64_t parts[] = {2, 1};
  std::vector<float> a = {1, 2}, b = {3}, bucket(3, 0), summed(3, 0), y(2, 0);
  for (runtime::Communicator* communicator : {static_cast<runtime::Communicator*>(nullptr),
                                              static_cast<runtime::Communicator*>(new runtime::LocalCommunicator)}) {
    call(runtime::AllReduceStartCall{.dtype = DType::f32, .bucket = 0, .parts = parts}, {a.data(), b.data(), bucket.data()},
         communicator);
    call(runtime::AllReduceWaitCall{.dtype = DType::f32, .bucket = 0, .elements = 3}, {bucket.data(), summed.data()},
         communicator);
    EXPECT_EQ(summed, (std::vector<float>{1, 2, 3}));
    call(runtime::AllReduceCall{.dtype = DType::f32, .elements = 2}, {a.data(), y.data()}, communicator);
    EXPECT_EQ(y, a);
    delete communicator;
  }
}

// A launch decodes its call on every run: packing and summing a bucket
// allocates nothing (the Executor's promise for a whole step).
TEST(Collectives, ABucketAllocatesNothingWhileItRuns) {
  if (!testing::counting_allocations()) GTEST_SKIP() << "operator new is AddressSanitizer's here";
  const int64_t parts[] = {3, 1, 2};
  const std::vector<int64_t> start = runtime::encode_call(
      runtime::AllReduceStartCall{.dtype = DType::f32, .bucket = 1, .parts = parts});
  const std::vector<int64_t> wait =
      runtime::encode_call(runtime::AllReduceWaitCall{.dtype = DType::f32, .bucket = 1, .elements = 6});
  std::vector<float> a = {1, 2, 3}, b = {4}, c = {5, 6}, bucket(6, 0);
  std::vector<void*> start_buffers = {a.data(), b.data(), c.data(), bucket.data()};
  std::vector<void*> wait_buffers = {bucket.data(), bucket.data()};
  runtime::ThreadPool pool(1);
  runtime::LocalCommunicator one;
  const runtime::LibraryFunction start_call = runtime::find_library_function("all_reduce_start");
  const runtime::LibraryFunction wait_call = runtime::find_library_function("all_reduce_wait");
  testing::CountingAllocations counting;
  start_call({start_buffers.data(), start.data(), static_cast<int64_t>(start.size()), nullptr, pool, nullptr, nullptr,
              &one});
  wait_call({wait_buffers.data(), wait.data(), static_cast<int64_t>(wait.size()), nullptr, pool, nullptr, nullptr, &one});
  EXPECT_EQ(counting.count(), 0);
  EXPECT_EQ(bucket, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

// A draw over the rows of a batch (dropout's): each replica draws its
// rows' part of the whole batch's numbers; other draws (the LSH
// rotations) are the same on every replica.
TEST(Collectives, ADrawByReplicaIsThatReplicasRowsOfTheWholeDraw) {
  int64_t key = 42;
  std::vector<float> whole(10), first(5), second(5), shared(5);
  runtime::RandomUniformCall draw;
  draw.elements = 10;
  draw.stream = 3;
  draw.by_replica = true;
  call(draw, {&key, whole.data()}, nullptr);
  draw.elements = 5;
  TwinReplicas rank0(0), rank1(1);
  call(draw, {&key, first.data()}, &rank0);
  call(draw, {&key, second.data()}, &rank1);
  EXPECT_EQ(first, std::vector<float>(whole.begin(), whole.begin() + 5));
  EXPECT_EQ(second, std::vector<float>(whole.begin() + 5, whole.end()));
  draw.by_replica = false;
  call(draw, {&key, shared.data()}, &rank1);
  EXPECT_EQ(shared, first);
}

TEST(Collectives, ValuesAgreeOnOneProcess) {
  runtime::LocalCommunicator one;
  EXPECT_NO_THROW(runtime::require_same_on_every_rank(one, "the config", "anything"));
  EXPECT_NO_THROW(runtime::require_same_hash_on_every_rank(one, "the parameters", "bytes"));
}

// This test links the communicator of a build without MPI.
TEST(ProcessCommunicator, WithoutMpiALaunchByMpirunIsRefused) {
  EXPECT_FALSE(runtime::built_with_mpi());
  unsetenv("OMPI_COMM_WORLD_SIZE");
  unsetenv("PMI_SIZE");
  unsetenv("PMIX_SIZE");
  EXPECT_FALSE(runtime::mpi_launcher_ranks().has_value());
  EXPECT_EQ(runtime::open_process_communicator()->size(), 1);
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  EXPECT_EQ(runtime::mpi_launcher_ranks(), 4);
  try {
    runtime::open_process_communicator();
    ADD_FAILURE() << "a launch by mpirun was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("launched by mpirun (4 ranks), but this reforge was built without MPI"),
              std::string::npos)
        << e.what();
  }
  setenv("OMPI_COMM_WORLD_SIZE", "not a number", 1);
  EXPECT_FALSE(runtime::mpi_launcher_ranks().has_value());
  unsetenv("OMPI_COMM_WORLD_SIZE");
}

}  // namespace
}  // namespace reforge
