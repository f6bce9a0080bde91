// LSH attention as ops:
//   lsh_attention            — structured: its region is the decomposed
//                              reference (sort, chunk, attend, unsort,
//                              combine) written in models/attention.cc;
//   lsh_attention_fused      — the same computation as one kernel that
//                              works chunk by chunk and never holds the
//                              logits of more than one query;
//   lsh_attention_fused_grad — its backward: recomputes each chunk's logits
//                              instead of storing them (flash-attention
//                              style) and returns [dq | dv] along the last axis.
// Inputs: q [B,H,Lp,dk], v [B,H,Lp,dv], buckets [B,H,R,Lp] (i64, padded
// positions in bucket buckets_per_round-1), key (i64 scalar); result
// [B,H,Lp,dv]. The fused kernels support the trax mode without attention
// dropout; the fusion pass leaves other configurations decomposed.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "compiler/ir/inline_region.h"
#include "ops/op_helpers.h"

namespace reforge::ops {
namespace {

constexpr double kMaskedOut = 1e9, kSelfMask = 1e5, kNormEpsilon = 1e-6;

const std::vector<AttrSpec> kAttrs = {{"chunk_len", AttrKind::integer},    {"causal", AttrKind::integer},
                                      {"valid_length", AttrKind::integer}, {"buckets_per_round", AttrKind::integer},
                                      {"paper_mode", AttrKind::integer},   {"dropout", AttrKind::real},
                                      {"stream", AttrKind::integer}};

TensorType infer_operands(const std::vector<TensorType>& in, const AttrMap& attrs) {
  if (in.size() < 4) shape_error("needs q, v, buckets and key");
  const TensorType &q = in[0], &v = in[1], &buckets = in[2], &key = in[3];
  require_float(q, "q");
  bool ok = q.rank() == 4 && v.rank() == 4 && buckets.rank() == 4 && v.dtype == q.dtype && v.shape[0] == q.shape[0] &&
            v.shape[1] == q.shape[1] && v.shape[2] == q.shape[2] && buckets.shape[0] == q.shape[0] &&
            buckets.shape[1] == q.shape[1] && buckets.shape[3] == q.shape[2] && is_integer(buckets.dtype) &&
            is_integer(key.dtype) && key.rank() == 0;
  if (!ok) shape_error("expects q [B,H,L,dk], v [B,H,L,dv], buckets [B,H,R,L] and an integer key: " + types_string(in));
  int64_t chunk = attrs.get_int("chunk_len");
  if (chunk < 1 || (buckets.shape[2] * q.shape[2]) % chunk != 0) {
    shape_error(fmt::format("chunk_len {} must divide rounds x length = {}", chunk, buckets.shape[2] * q.shape[2]));
  }
  return v;
}

void require_fusable(const AttrMap& attrs) {
  if (attrs.get_int("paper_mode") != 0 || attrs.get_float("dropout") != 0.0) {
    shape_error("the fused kernel supports trax mode without attention dropout");
  }
}

// One (example, head) slice of the problem, with everything the forward
// and backward kernels share: the sort order, unit keys, per-slot outputs.
struct LshSlice {
  int64_t length, rounds, chunk, dk, dv, valid, per_round;
  bool causal;
  const double *q, *v;         // [L, dk], [L, dv]
  const double* buckets;       // [R, L]
  std::vector<int64_t> order;  // sorted slot -> slot (r * L + position)
  std::vector<double> keys;    // [L, dk]: q / sqrt(|q|^2 + eps)
  std::vector<double> norms;   // [L]
  std::vector<double> out;     // [R*L, dv] per-slot outputs (by slot, not sorted)
  std::vector<double> lse;     // [R*L]

  int64_t chunks() const { return rounds * length / chunk; }

  void sort_slots() {
    order.resize(rounds * length);
    std::iota(order.begin(), order.end(), 0);
    auto key = [&](int64_t slot) {
      int64_t r = slot / length, t = slot % length;
      return (static_cast<int64_t>(buckets[slot]) + r * per_round) * length + t;
    };
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key(a) < key(b); });
    keys.assign(length * dk, 0.0);
    norms.assign(length, 0.0);
    for (int64_t t = 0; t < length; ++t) {
      double s = 0;
      for (int64_t j = 0; j < dk; ++j) s += q[t * dk + j] * q[t * dk + j];
      norms[t] = std::sqrt(s + kNormEpsilon);
      for (int64_t j = 0; j < dk; ++j) keys[t * dk + j] = q[t * dk + j] / norms[t];
    }
  }

  // The window of chunk c: its own slots, then the previous chunk's (wrapping).
  std::vector<int64_t> window(int64_t c) const {
    int64_t n = chunks(), previous = (c + n - 1) % n;
    std::vector<int64_t> w;
    for (int64_t i = 0; i < chunk; ++i) w.push_back(order[c * chunk + i]);
    for (int64_t i = 0; i < chunk; ++i) w.push_back(order[previous * chunk + i]);
    return w;
  }

  // Masked logits of query slot `qs` against `window` into `logits`.
  void logits_of(int64_t qs, const std::vector<int64_t>& window, std::vector<double>& logits) const {
    int64_t qt = qs % length;
    logits.resize(window.size());
    for (size_t w = 0; w < window.size(); ++w) {
      int64_t kt = window[w] % length;
      double dot = 0;
      for (int64_t j = 0; j < dk; ++j) dot += q[qt * dk + j] * keys[kt * dk + j];
      if (causal && kt > qt) dot -= kMaskedOut;
      if (kt == qt) dot -= kSelfMask;
      if (kt >= valid) dot -= kMaskedOut;
      logits[w] = dot;
    }
  }

  void forward() {
    sort_slots();
    out.assign(rounds * length * dv, 0.0);
    lse.assign(rounds * length, 0.0);
    std::vector<double> logits;
    for (int64_t c = 0; c < chunks(); ++c) {
      std::vector<int64_t> w = window(c);
      for (int64_t i = 0; i < chunk; ++i) {
        int64_t qs = order[c * chunk + i];
        logits_of(qs, w, logits);
        double m = *std::max_element(logits.begin(), logits.end()), s = 0;
        for (double l : logits) s += std::exp(l - m);
        lse[qs] = m + std::log(s);
        for (size_t k = 0; k < w.size(); ++k) {
          double p = std::exp(logits[k] - lse[qs]);
          const double* vj = v + (w[k] % length) * dv;
          for (int64_t j = 0; j < dv; ++j) out[qs * dv + j] += p * vj[j];
        }
      }
    }
  }

  // Weights of the rounds at position t: softmax over r of lse[r*L + t].
  std::vector<double> round_weights(int64_t t) const {
    std::vector<double> w(rounds);
    double m = -1e300, z = 0;
    for (int64_t r = 0; r < rounds; ++r) m = std::max(m, lse[r * length + t]);
    for (int64_t r = 0; r < rounds; ++r) z += w[r] = std::exp(lse[r * length + t] - m);
    for (double& x : w) x /= z;
    return w;
  }
};

LshSlice make_slice(const EvalContext& c, int64_t bh) {
  const auto& a = c.node.attrs;
  const HostTensor &q = *c.inputs[0], &v = *c.inputs[1], &buckets = *c.inputs[2];
  LshSlice s;
  s.length = q.shape()[2];
  s.rounds = buckets.shape()[2];
  s.chunk = a.get_int("chunk_len");
  s.dk = q.shape()[3];
  s.dv = v.shape()[3];
  s.valid = a.get_int("valid_length");
  s.per_round = a.get_int("buckets_per_round");
  s.causal = a.get_int("causal") != 0;
  s.q = q.data.data() + bh * s.length * s.dk;
  s.v = v.data.data() + bh * s.length * s.dv;
  s.buckets = buckets.data.data() + bh * s.rounds * s.length;
  return s;
}

HostTensor eval_fused(const EvalContext& c) {
  HostTensor result(c.node.type);
  const Shape& shape = c.inputs[0]->shape();
  for (int64_t bh = 0; bh < shape[0] * shape[1]; ++bh) {
    LshSlice s = make_slice(c, bh);
    s.forward();
    for (int64_t t = 0; t < s.length; ++t) {
      std::vector<double> w = s.round_weights(t);
      for (int64_t r = 0; r < s.rounds; ++r)
        for (int64_t j = 0; j < s.dv; ++j) {
          result[(bh * s.length + t) * s.dv + j] += w[r] * s.out[(r * s.length + t) * s.dv + j];
        }
    }
  }
  return result;
}

// Backward of eval_fused for grad g [B,H,L,dv]; writes [dq | dv].
HostTensor eval_fused_grad(const EvalContext& c) {
  HostTensor result(c.node.type);
  const HostTensor& grad = *c.inputs[4];
  const Shape& shape = c.inputs[0]->shape();
  for (int64_t bh = 0; bh < shape[0] * shape[1]; ++bh) {
    LshSlice s = make_slice(c, bh);
    s.forward();  // per-slot outputs and logsumexps (the logits are recomputed below)
    const int64_t L = s.length, dk = s.dk, dv = s.dv;
    const double* g = grad.data.data() + bh * L * dv;
    // Through the round combination: d out_slot and d lse_slot.
    std::vector<double> d_out(s.rounds * L * dv, 0.0), d_lse(s.rounds * L, 0.0);
    for (int64_t t = 0; t < L; ++t) {
      std::vector<double> w = s.round_weights(t);
      double g_dot_combined = 0;
      std::vector<double> g_dot_round(s.rounds, 0.0);
      for (int64_t r = 0; r < s.rounds; ++r) {
        for (int64_t j = 0; j < dv; ++j) g_dot_round[r] += g[t * dv + j] * s.out[(r * L + t) * dv + j];
        g_dot_combined += w[r] * g_dot_round[r];
      }
      for (int64_t r = 0; r < s.rounds; ++r) {
        for (int64_t j = 0; j < dv; ++j) d_out[(r * L + t) * dv + j] = w[r] * g[t * dv + j];
        d_lse[r * L + t] = w[r] * (g_dot_round[r] - g_dot_combined);
      }
    }
    // Through each chunk's attention, recomputing its logits.
    std::vector<double> dq(L * dk, 0.0), d_keys(L * dk, 0.0), d_v(L * dv, 0.0), logits;
    for (int64_t ch = 0; ch < s.chunks(); ++ch) {
      std::vector<int64_t> w = s.window(ch);
      for (int64_t i = 0; i < s.chunk; ++i) {
        int64_t qs = s.order[ch * s.chunk + i], qt = qs % L;
        s.logits_of(qs, w, logits);
        const double* d_o = d_out.data() + qs * dv;
        double d_o_dot_o = 0;
        for (int64_t j = 0; j < dv; ++j) d_o_dot_o += d_o[j] * s.out[qs * dv + j];
        for (size_t k = 0; k < w.size(); ++k) {
          int64_t kt = w[k] % L;
          double p = std::exp(logits[k] - s.lse[qs]);
          double d_o_dot_v = 0;
          for (int64_t j = 0; j < dv; ++j) {
            d_o_dot_v += d_o[j] * s.v[kt * dv + j];
            d_v[kt * dv + j] += p * d_o[j];
          }
          double d_logit = p * (d_o_dot_v - d_o_dot_o + d_lse[qs]);
          for (int64_t j = 0; j < dk; ++j) {
            dq[qt * dk + j] += d_logit * s.keys[kt * dk + j];
            d_keys[kt * dk + j] += d_logit * s.q[qt * dk + j];
          }
        }
      }
    }
    // Keys are q / n with n = sqrt(|q|^2 + eps): dq += dk/n - q (q . dk) / n^3.
    for (int64_t t = 0; t < L; ++t) {
      double n = s.norms[t], q_dot = 0;
      for (int64_t j = 0; j < dk; ++j) q_dot += s.q[t * dk + j] * d_keys[t * dk + j];
      for (int64_t j = 0; j < dk; ++j) {
        dq[t * dk + j] += d_keys[t * dk + j] / n - s.q[t * dk + j] * q_dot / (n * n * n);
      }
    }
    for (int64_t t = 0; t < L; ++t) {
      double* row = result.data.data() + (bh * L + t) * (dk + dv);
      for (int64_t j = 0; j < dk; ++j) row[j] = dq[t * dk + j];
      for (int64_t j = 0; j < dv; ++j) row[dk + j] = d_v[t * dv + j];
    }
  }
  return result;
}

std::vector<Tensor> vjp_fused(const VjpContext& c) {
  const Node& n = c.node();
  Tensor q = c.inputs[0];
  std::vector<Tensor> operands = c.inputs;
  operands.push_back(c.grad);
  Tensor both = c.graph.add("lsh_attention_fused_grad", operands, n.attrs, n.loc);
  int64_t dk = q.dim(3);
  return {slice(both, 3, 0, dk), slice(both, 3, dk, both.dim(3)), Tensor{}, Tensor{}};
}

// The structured op's default gradient: differentiate its decomposition.
std::vector<Tensor> vjp_decomposed(const VjpContext& c) {
  std::vector<Tensor> args;
  for (const Tensor& t : c.inputs) args.push_back(reshape(t, t.shape()));  // fresh handles: stop here
  Tensor out = inline_region(c.graph, *c.node().regions[0], args).at(0);
  return c.differentiate({out}, {c.grad}, args);
}

}  // namespace

REFORGE_REGISTER_OPS(lsh_attention) {
  register_op({.name = "lsh_attention",
               .arity = 4,
               .attrs = kAttrs,
               .infer =
                   [](const InferContext& c) {
                     TensorType out = infer_operands(c.inputs, c.attrs);
                     if (c.regions.size() != 1) shape_error("needs its decomposition as a region");
                     std::vector<TensorType> args;
                     try {
                       args = region_arg_types(*c.regions[0]);
                     } catch (const Error& e) {
                       shape_error(e.what());
                     }
                     const Graph& r = *c.regions[0];
                     if (args != c.inputs || r.outputs().size() != 1 || r.node(r.outputs()[0].second).type != out) {
                       shape_error("the region's signature must match the op's");
                     }
                     return out;
                   },
               .eval =
                   [](const EvalContext& c) {
                     std::vector<HostTensor> args;
                     for (const HostTensor* t : c.inputs) args.push_back(*t);
                     return c.run_region(0, std::move(args)).at(0);
                   },
               .vjp = vjp_decomposed,
               .num_regions = 1});
  register_op({.name = "lsh_attention_fused",
               .arity = 4,
               .attrs = kAttrs,
               .infer =
                   [](const InferContext& c) {
                     require_fusable(c.attrs);
                     return infer_operands(c.inputs, c.attrs);
                   },
               .eval = eval_fused,
               .vjp = vjp_fused});
  register_op({.name = "lsh_attention_fused_grad",
               .arity = 5,
               .attrs = kAttrs,
               .infer =
                   [](const InferContext& c) {
                     require_fusable(c.attrs);
                     TensorType v = infer_operands(c.inputs, c.attrs);
                     if (c.inputs[4] != v)
                       shape_error("the cotangent must have the result's type: " + types_string(c.inputs));
                     TensorType out = v;
                     out.shape[3] = c.inputs[0].shape[3] + v.shape[3];
                     return out;
                   },
               .eval = eval_fused_grad});
}

}  // namespace reforge::ops
