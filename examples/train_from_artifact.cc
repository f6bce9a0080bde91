// Trains a compiled byte-level Reformer from its artifact with the runtime
// alone (no compiler, no LLVM), then generates from it:
//
//   reforge compile byte-lm -o byte_lm.rfa
//   train_from_artifact byte_lm.rfa [TEXT_FILE or ""] [STEPS]
//
// It makes its own batches — random windows of the text, each byte
// predicting the next — so it shows everything a program embedding the
// runtime has to do: open, initialise, set the inputs, step, read the loss.
// Then it writes text twice, the same both ways: with Model::generate, and
// step by step with Model::decode (one token in, the next token's logits
// out, the caches kept by the model).
#include <algorithm>
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

  // Generation: the most likely byte each time (top-k 1), 60 bytes.
  const std::string prompt = "the ";
  std::string generated = model->generate(prompt, 60, {.top_k = 1}, /*seed=*/1);
  std::printf("generate: %s\n", reforge::runtime::printable(prompt + generated, false).c_str());

  // The same, step by step: feed the prompt, then each chosen byte.
  std::string by_steps;
  model->decode_reset();
  std::span<const float> logits;
  for (size_t i = 0; i < prompt.size(); ++i) logits = model->decode(static_cast<unsigned char>(prompt[i]), i);
  for (int64_t position = static_cast<int64_t>(prompt.size()); by_steps.size() < 60; ++position) {
    const int64_t next = std::max_element(logits.begin(), logits.end()) - logits.begin();
    by_steps += static_cast<char>(next);
    if (by_steps.size() < 60) logits = model->decode(next, position);  // the window (64) is not reached here
  }
  std::printf("decode:   %s\n", reforge::runtime::printable(prompt + by_steps, false).c_str());
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
