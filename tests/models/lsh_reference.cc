#include "tests/models/lsh_reference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace reforge::testing {

std::vector<double> lsh_attention_reference(const LshReferenceConfig& c, const std::vector<double>& x,
                                            const std::vector<double>& w_q, const std::vector<double>& w_v,
                                            const std::vector<double>& w_o, const std::vector<double>& rotations) {
  const int64_t L = c.length, Lp = c.padded_length, d = c.d_model, H = c.heads, dh = c.d_head, R = c.rounds;
  const int64_t C = c.chunk;
  int64_t n_buckets = 1, cols = 0;
  for (int64_t f : c.bucket_factors) {
    n_buckets *= f;
    cols += f / 2;
  }
  const int64_t buckets_per_round = n_buckets + 1;  // + padding bucket
  std::vector<double> out(c.batch * L * d, 0.0);

  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      // Projections of the zero-padded input.
      std::vector<std::vector<double>> q(Lp, std::vector<double>(dh, 0.0)), v = q;
      for (int64_t t = 0; t < L; ++t)
        for (int64_t j = 0; j < dh; ++j)
          for (int64_t i = 0; i < d; ++i) {
            q[t][j] += x[(b * L + t) * d + i] * w_q[i * H * dh + h * dh + j];
            v[t][j] += x[(b * L + t) * d + i] * w_v[i * H * dh + h * dh + j];
          }
      // Hash: per round, per factor, argmax over [rot, -rot]; mixed radix.
      std::vector<int64_t> bucket(R * Lp);
      for (int64_t r = 0; r < R; ++r)
        for (int64_t t = 0; t < Lp; ++t) {
          if (t >= L) {
            bucket[r * Lp + t] = n_buckets;
            continue;
          }
          int64_t value = 0, radix = 1, offset = 0;
          for (int64_t f : c.bucket_factors) {
            int64_t best = 0;
            double best_score = -1e300;
            for (int64_t k = 0; k < f; ++k) {
              int64_t col = offset + (k % (f / 2));
              double s = 0;
              for (int64_t j = 0; j < dh; ++j) s += q[t][j] * rotations[(h * dh + j) * R * cols + r * cols + col];
              if (k >= f / 2) s = -s;
              if (s > best_score) {
                best_score = s;
                best = k;
              }
            }
            value += radix * best;
            radix *= f;
            offset += f / 2;
          }
          bucket[r * Lp + t] = value;
        }
      // Sort slots by (round, bucket, position).
      std::vector<int64_t> order(R * Lp);
      std::iota(order.begin(), order.end(), 0);
      auto key = [&](int64_t slot) {
        int64_t r = slot / Lp, t = slot % Lp;
        return (bucket[slot] + r * buckets_per_round) * Lp + t;
      };
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t z) { return key(a) < key(z); });
      const int64_t n_chunks = R * Lp / C;
      std::vector<std::vector<double>> o_slot(R * Lp, std::vector<double>(dh, 0.0));
      std::vector<double> lse_slot(R * Lp);
      for (int64_t ch = 0; ch < n_chunks; ++ch) {
        int64_t prev = (ch + n_chunks - 1) % n_chunks;
        std::vector<int64_t> window;
        for (int64_t i = 0; i < C; ++i) window.push_back(order[ch * C + i]);
        for (int64_t i = 0; i < C; ++i) window.push_back(order[prev * C + i]);
        for (int64_t i = 0; i < C; ++i) {
          int64_t qs = order[ch * C + i], qt = qs % Lp;
          std::vector<double> logits;
          for (int64_t ks : window) {
            int64_t kt = ks % Lp;
            double norm = 0;
            for (int64_t j = 0; j < dh; ++j) norm += q[kt][j] * q[kt][j];
            double dot = 0;
            for (int64_t j = 0; j < dh; ++j) dot += q[qt][j] * q[kt][j];
            // trax: k = q / sqrt(mean(q^2) + 1e-6) / sqrt(dh)
            double logit = dot / (std::sqrt(norm / dh + 1e-6) * std::sqrt(static_cast<double>(dh)));
            if (c.causal && kt > qt) logit -= 1e9;
            if (kt == qt) logit -= 1e5;
            if (kt >= L) logit -= 1e9;
            logits.push_back(logit);
          }
          double m = *std::max_element(logits.begin(), logits.end()), s = 0;
          for (double l : logits) s += std::exp(l - m);
          double lse = m + std::log(s);
          lse_slot[qs] = lse;
          for (size_t w = 0; w < window.size(); ++w) {
            double p = std::exp(logits[w] - lse);
            for (int64_t j = 0; j < dh; ++j) o_slot[qs][j] += p * v[window[w] % Lp][j];
          }
        }
      }
      // Combine rounds by softmax of their logsumexps; project through W_o.
      for (int64_t t = 0; t < L; ++t) {
        double m = -1e300;
        for (int64_t r = 0; r < R; ++r) m = std::max(m, lse_slot[r * Lp + t]);
        double z = 0;
        for (int64_t r = 0; r < R; ++r) z += std::exp(lse_slot[r * Lp + t] - m);
        std::vector<double> combined(dh, 0.0);
        for (int64_t r = 0; r < R; ++r) {
          double wr = std::exp(lse_slot[r * Lp + t] - m) / z;
          for (int64_t j = 0; j < dh; ++j) combined[j] += wr * o_slot[r * Lp + t][j];
        }
        for (int64_t i = 0; i < d; ++i)
          for (int64_t j = 0; j < dh; ++j) out[(b * L + t) * d + i] += combined[j] * w_o[(h * dh + j) * d + i];
      }
    }
  }
  return out;
}

}  // namespace reforge::testing
