// Trains a compiled byte-level Reformer from its artifact with the runtime
// alone (no compiler, no LLVM):
//
//   reforge compile byte-lm -o byte_lm.rfa
//   train_from_artifact byte_lm.rfa [TEXT_FILE or ""] [STEPS]
//
// It makes its own batches — random windows of the text, each byte
// predicting the next — so it shows everything a program embedding the
// runtime has to do: open, initialise, set the inputs, step, read the loss.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/reforge_runtime.h"

namespace {

std::string read_text(const char* path) {
  if (!path) {
    std::string text;
    while (text.size() < 100000)
      text += "the quick brown fox jumps over the lazy dog; a reversible layer rebuilds its input. ";
    return text;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (!in) throw reforge::Error(std::string("cannot read ") + path);
  return s.str();
}

int run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.rfa [TEXT_FILE] [STEPS]\n", argv[0]);
    return 2;
  }
  auto model = reforge::runtime::Model::open(argv[1]);
  const std::string text = read_text(argc > 2 && argv[2][0] != '\0' ? argv[2] : nullptr);
  const int steps = argc > 3 ? std::stoi(argv[3]) : 20;
  const int64_t batch = std::stoll(model->config("batch")), length = std::stoll(model->config("seq_len"));
  if (static_cast<int64_t>(text.size()) < length + 2) throw reforge::Error("the text is shorter than one sequence");
  std::printf("%s: model %s, batch %lld x %lld tokens, %d threads\n", argv[1], model->manifest().model.c_str(),
              static_cast<long long>(batch), static_cast<long long>(length), model->threads());

  model->initialise(/*seed=*/1);
  reforge::runtime::Entry& train = model->train_step();
  std::vector<int64_t> tokens(batch * length), targets(batch * length);
  std::vector<float> weights(batch * length, 1.0f);
  std::mt19937_64 random(1);
  for (int step = 1; step <= steps; ++step) {
    for (int64_t row = 0; row < batch; ++row) {
      size_t start = random() % (text.size() - length - 1);
      for (int64_t t = 0; t < length; ++t) {
        tokens[row * length + t] = static_cast<unsigned char>(text[start + t]);
        targets[row * length + t] = static_cast<unsigned char>(text[start + t + 1]);
      }
    }
    int64_t rng = static_cast<int64_t>(random() >> 12);  // dropout's stream (an input only with dropout)
    train.set_input("tokens", tokens.data(), tokens.size() * sizeof(int64_t));
    train.set_input("targets", targets.data(), targets.size() * sizeof(int64_t));
    train.set_input("loss_weights", weights.data(), weights.size() * sizeof(float));
    if (train.has_input("rng")) train.set_input("rng", &rng, sizeof(rng));
    model->step();
    std::printf("step %d  loss %.4f nats/byte\n", step, train.output_as<float>("loss")[0]);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
