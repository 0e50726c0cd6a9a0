#include "worker/fast_ops.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace revsweep {
namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

inline float AsFloat(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

inline int32_t AsInt(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

// exp(x) for float, relative error ~2e-7 (Cephes' expf polynomial), written so compilers
// vectorise loops calling it: exp(x) = 2^n exp(r), n = round(x / ln 2), |r| <= ln 2 / 2.
// Inputs are clamped to [-87.3, 88.3] (results stay normal floats; callers saturate anyway).
inline float FastExp(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = x * 1.44269504088896341f + kRound;
  const float n = t - kRound;
  const int32_t ni = AsInt(t) - AsInt(kRound);
  float r = x - n * 0.693359375f;  // ln 2 in two parts (Cody-Waite)
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * AsFloat((ni + 127) << 23);
}

// sigmoid(2 sqrt(2/pi) (x + c x^3)) = 0.5 (1 + tanh(sqrt(2/pi) (x + c x^3))).
inline float GateOf(float x) {
  const float z = kSqrt2OverPi * (x + kCubic * x * x * x);
  return 1.0f / (1.0f + FastExp(-2.0f * z));
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define REVSWEEP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define REVSWEEP_CLONES
#endif

REVSWEEP_CLONES
void GeluForward(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * GateOf(x[i]);
}

REVSWEEP_CLONES
void GeluBackward(const float* __restrict g, const float* __restrict x, float* __restrict dx,
                  int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i], s = GateOf(v);
    // d/dx x s(2z) = s + x s (1 - s) 2 z', z' = sqrt(2/pi) (1 + 3 c x^2)
    const float dz = 2.0f * kSqrt2OverPi * (1.0f + 3.0f * kCubic * v * v);
    dx[i] = g[i] * (s + v * s * (1.0f - s) * dz);
  }
}

constexpr int64_t kGrain = 1 << 15;  // elements per task when running on several threads

class GeluTanhFunction : public torch::autograd::Function<GeluTanhFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    auto xc = x.contiguous();
    auto y = torch::empty_like(xc);
    const float* xp = xc.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    at::parallel_for(0, xc.numel(), kGrain,
                     [&](int64_t b, int64_t e) { GeluForward(xp + b, yp + b, e - b); });
    ctx->save_for_backward({xc});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::Tensor x = ctx->get_saved_variables()[0];
    const torch::Tensor g = grads[0].contiguous();
    auto dx = torch::empty_like(x);
    const float* gp = g.data_ptr<float>();
    const float* xp = x.data_ptr<float>();
    float* dp = dx.data_ptr<float>();
    at::parallel_for(0, x.numel(), kGrain,
                     [&](int64_t b, int64_t e) { GeluBackward(gp + b, xp + b, dp + b, e - b); });
    return {dx};
  }
};

// Fortran BLAS sgemm (column-major), looked up in the process: libtorch links the system BLAS
// (OpenBLAS here) but exports no float GEMM of its own.
using SgemmFn = void (*)(const char* transa, const char* transb, const int* m, const int* n,
                         const int* k, const float* alpha, const float* a, const int* lda,
                         const float* b, const int* ldb, const float* beta, float* c,
                         const int* ldc);

SgemmFn Sgemm() {
  static const SgemmFn fn = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return fn;
}

// Row-major C (m x n, leading dimension ldc) = alpha op(A) op(B) + beta C, op(A) m x k and
// op(B) k x n; A and B row-major with leading dimensions lda, ldb (transposed when ta, tb).
// Column-major BLAS computes C^T = op(B)^T op(A)^T.
void GemmRowMajor(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const char tra = tb ? 'T' : 'N', trb = ta ? 'T' : 'N';
  const int im = static_cast<int>(n), in = static_cast<int>(m), ik = static_cast<int>(k);
  const int ila = static_cast<int>(ldb), ilb = static_cast<int>(lda), ilc = static_cast<int>(ldc);
  Sgemm()(&tra, &trb, &im, &in, &ik, &alpha, B, &ila, A, &ilb, &beta, C, &ilc);
}

// Causal softmax of each row of the n x n scores S in place (row i keeps columns 0..i; the
// rest become 0).
REVSWEEP_CLONES
void CausalSoftmaxRows(float* __restrict s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float* row = s + i * n;
    float mx = row[0];
    for (int64_t j = 1; j <= i; ++j) mx = std::max(mx, row[j]);
    float sum = 0;
    for (int64_t j = 0; j <= i; ++j) {
      row[j] = FastExp(row[j] - mx);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
    for (int64_t j = i + 1; j < n; ++j) row[j] = 0;
  }
}

// Softmax backward in place: dS = P * (dP - rowsum(P * dP)) (masked entries have P = 0).
REVSWEEP_CLONES
void SoftmaxBackwardRows(const float* __restrict p, float* __restrict dp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float* pr = p + i * n;
    float* dr = dp + i * n;
    float dot = 0;
    for (int64_t j = 0; j <= i; ++j) dot += pr[j] * dr[j];
    for (int64_t j = 0; j <= i; ++j) dr[j] = pr[j] * (dr[j] - dot);
    for (int64_t j = i + 1; j < n; ++j) dr[j] = 0;
  }
}

// One (document, head) task: its rows' offset, length and where its n x n probabilities live.
struct AttnTask {
  int64_t row, n, head, prob;
};

std::vector<AttnTask> PlanTasks(const std::vector<int64_t>& lengths, int64_t n_head,
                                int64_t* prob_numel) {
  std::vector<AttnTask> tasks;
  int64_t row = 0, prob = 0;
  for (int64_t n : lengths) {
    for (int64_t h = 0; h < n_head; ++h) {
      tasks.push_back({row, n, h, prob});
      prob += n * n;
    }
    row += n;
  }
  *prob_numel = prob;
  return tasks;
}

class CausalAttentionFunction : public torch::autograd::Function<CausalAttentionFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv_in,
                               const std::vector<int64_t>& lengths, int64_t n_head) {
    const torch::Tensor qkv = qkv_in.contiguous();
    const int64_t N = qkv.size(0), C3 = qkv.size(1), C = C3 / 3, hs = C / n_head;
    int64_t prob_numel = 0;
    const std::vector<AttnTask> tasks = PlanTasks(lengths, n_head, &prob_numel);
    auto out = torch::empty({N, C}, qkv.options());
    auto probs = torch::empty({prob_numel}, qkv.options());
    const float* q0 = qkv.data_ptr<float>();
    float* o0 = out.data_ptr<float>();
    float* p0 = probs.data_ptr<float>();
    const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
    at::parallel_for(0, static_cast<int64_t>(tasks.size()), 8, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const AttnTask& a = tasks[t];
        const float* q = q0 + a.row * C3 + a.head * hs;
        float* p = p0 + a.prob;
        // S = scale q k^T, P = causal softmax(S), y = P v
        GemmRowMajor(false, true, a.n, a.n, hs, scale, q, C3, q + C, C3, 0.0f, p, a.n);
        CausalSoftmaxRows(p, a.n);
        GemmRowMajor(false, false, a.n, hs, a.n, 1.0f, p, a.n, q + 2 * C, C3, 0.0f,
                     o0 + a.row * C + a.head * hs, C);
      }
    });
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["lengths"] = lengths;
    ctx->saved_data["n_head"] = n_head;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& qkv = saved[0];
    const torch::Tensor& probs = saved[1];
    const std::vector<int64_t> lengths = ctx->saved_data["lengths"].toIntVector();
    const int64_t n_head = ctx->saved_data["n_head"].toInt();
    const torch::Tensor dy = grads[0].contiguous();
    const int64_t C3 = qkv.size(1), C = C3 / 3, hs = C / n_head;
    int64_t prob_numel = 0;
    const std::vector<AttnTask> tasks = PlanTasks(lengths, n_head, &prob_numel);
    auto dqkv = torch::empty_like(qkv);  // every row and column is written below
    auto dprobs = torch::empty({prob_numel}, qkv.options());
    const float* q0 = qkv.data_ptr<float>();
    const float* p0 = probs.data_ptr<float>();
    const float* dy0 = dy.data_ptr<float>();
    float* dq0 = dqkv.data_ptr<float>();
    float* dp0 = dprobs.data_ptr<float>();
    const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
    at::parallel_for(0, static_cast<int64_t>(tasks.size()), 8, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const AttnTask& a = tasks[t];
        const float* q = q0 + a.row * C3 + a.head * hs;
        const float* p = p0 + a.prob;
        const float* g = dy0 + a.row * C + a.head * hs;
        float* dq = dq0 + a.row * C3 + a.head * hs;
        float* dp = dp0 + a.prob;
        GemmRowMajor(false, true, a.n, a.n, hs, 1.0f, g, C, q + 2 * C, C3, 0.0f, dp, a.n);  // dP
        SoftmaxBackwardRows(p, dp, a.n);                                                    // dS
        GemmRowMajor(false, false, a.n, hs, a.n, scale, dp, a.n, q + C, C3, 0.0f, dq, C3);  // dq
        GemmRowMajor(true, false, a.n, hs, a.n, scale, dp, a.n, q, C3, 0.0f, dq + C, C3);   // dk
        GemmRowMajor(true, false, a.n, hs, a.n, 1.0f, p, a.n, g, C, 0.0f, dq + 2 * C, C3);  // dv
      }
    });
    return {dqkv, torch::Tensor(), torch::Tensor()};
  }
};

// logsumexp of one row.
REVSWEEP_CLONES
float RowLogSumExp(const float* __restrict x, int64_t v) {
  float mx = x[0];
  for (int64_t j = 1; j < v; ++j) mx = std::max(mx, x[j]);
  float sum = 0;
  for (int64_t j = 0; j < v; ++j) sum += FastExp(x[j] - mx);
  return mx + std::log(sum);
}

// g * softmax(x) of one row (the one-hot part is subtracted by the caller).
REVSWEEP_CLONES
void RowSoftmaxScaled(const float* __restrict x, float lse, float g, float* __restrict out,
                      int64_t v) {
  for (int64_t j = 0; j < v; ++j) out[j] = g * FastExp(x[j] - lse);
}

class CrossEntropySumFunction : public torch::autograd::Function<CrossEntropySumFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& logits_in, const torch::Tensor& targets_in) {
    const torch::Tensor logits = logits_in.contiguous(), targets = targets_in.contiguous();
    const int64_t M = logits.size(0), V = logits.size(1);
    const float* x = logits.data_ptr<float>();
    const int64_t* t = targets.data_ptr<int64_t>();
    for (int64_t i = 0; i < M; ++i)
      TORCH_CHECK(t[i] >= 0 && t[i] < V, "CrossEntropySum: target ", t[i], " out of [0, ", V, ")");
    auto lse = torch::empty({M}, logits.options());
    float* l = lse.data_ptr<float>();
    at::parallel_for(0, M, 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) l[i] = RowLogSumExp(x + i * V, V);
    });
    double loss = 0;
    for (int64_t i = 0; i < M; ++i) loss += static_cast<double>(l[i]) - x[i * V + t[i]];
    ctx->save_for_backward({logits, targets, lse});
    return torch::full({}, loss, logits.options());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &logits = saved[0], &targets = saved[1], &lse = saved[2];
    const int64_t M = logits.size(0), V = logits.size(1);
    const float g = grads[0].item<float>();
    auto dx = torch::empty_like(logits);
    const float* x = logits.data_ptr<float>();
    const int64_t* t = targets.data_ptr<int64_t>();
    const float* l = lse.data_ptr<float>();
    float* d = dx.data_ptr<float>();
    at::parallel_for(0, M, 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        RowSoftmaxScaled(x + i * V, l[i], g, d + i * V, V);
        d[i * V + t[i]] -= g;
      }
    });
    return {dx, torch::Tensor()};
  }
};

// Sum of squares in double, over fixed chunks so the result does not depend on threads.
REVSWEEP_CLONES
double SumSquares(const float* __restrict g, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(g[i]) * g[i];
  return sum;
}

struct AdamWScalars {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, sqrt_bc2, eps, neg_step, clip;
};

// As AdamW::step's tensor operations on one parameter (float arithmetic, same order), with
// the gradient scaled by the clip coefficient first (clip_grad_norm_'s in-place mul_).
REVSWEEP_CLONES
void AdamWUpdate(float* __restrict p, float* __restrict g, float* __restrict m, float* __restrict v,
                 int64_t n, AdamWScalars s) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] * s.clip;
    g[i] = gi;
    const float pi = p[i] * s.decay;
    const float mi = m[i] * s.beta1 + s.one_minus_beta1 * gi;
    const float vi = v[i] * s.beta2 + s.one_minus_beta2 * gi * gi;
    const float denom = std::sqrt(vi) / s.sqrt_bc2 + s.eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + s.neg_step * mi / denom;
  }
}

bool IsDenseFloatCpu(const torch::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat32 &&
         t.layout() == torch::kStrided && t.is_contiguous();
}

}  // namespace

// A parameter's key in torch::optim::Optimizer::state(): libtorch 1.x keys by the
// TensorImpl's address printed as a string, 2.x by the address itself.
#if TORCH_VERSION_MAJOR >= 2
OptimizerStateKeyT OptimizerStateKey(const torch::Tensor& p) { return p.unsafeGetTensorImpl(); }
#else
OptimizerStateKeyT OptimizerStateKey(const torch::Tensor& p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}
#endif

bool ClipAndAdamWStep(torch::optim::AdamW& optimizer, double max_norm) {
  torch::NoGradGuard no_grad;
  // Check everything first: either the whole step runs here or none of it.
  for (auto& group : optimizer.param_groups()) {
    if (static_cast<torch::optim::AdamWOptions&>(group.options()).amsgrad()) return false;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (!IsDenseFloatCpu(p) || !IsDenseFloatCpu(p.grad())) return false;
      auto it = optimizer.state().find(OptimizerStateKey(p));
      if (it != optimizer.state().end()) {
        auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
        if (!IsDenseFloatCpu(st.exp_avg()) || !IsDenseFloatCpu(st.exp_avg_sq()) ||
            st.exp_avg().numel() != p.numel() || st.exp_avg_sq().numel() != p.numel())
          return false;
      }
    }
  }
  float clip = 1.0f;
  if (max_norm > 0) {
    constexpr int64_t kChunk = 1 << 15;
    std::vector<std::pair<const float*, int64_t>> chunks;
    for (auto& group : optimizer.param_groups())
      for (auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        const float* g = p.grad().data_ptr<float>();
        for (int64_t b = 0; b < p.numel(); b += kChunk)
          chunks.emplace_back(g + b, std::min(kChunk, p.numel() - b));
      }
    std::vector<double> part(chunks.size());
    at::parallel_for(0, static_cast<int64_t>(chunks.size()), 4, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) part[i] = SumSquares(chunks[i].first, chunks[i].second);
    });
    double total = 0;
    for (double x : part) total += x;
    // clip_grad_norm_: coefficient max_norm / (norm + 1e-6) in float, at most 1.
    const float coef =
        static_cast<float>(max_norm) / (static_cast<float>(std::sqrt(total)) + 1e-6f);
    clip = std::min(coef, 1.0f);
  }
  for (auto& group : optimizer.param_groups()) {
    const auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const auto key = OptimizerStateKey(p);
      auto it = optimizer.state().find(key);
      if (it == optimizer.state().end()) {  // as AdamW::step initialises its state
        auto st = std::make_unique<torch::optim::AdamWParamState>();
        st->step(0);
        st->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        st->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = optimizer.state().emplace(key, std::move(st)).first;
      }
      auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
      st.step(st.step() + 1);
      const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
      const double bc1 = 1 - std::pow(beta1, st.step()), bc2 = 1 - std::pow(beta2, st.step());
      AdamWScalars s;
      s.decay = static_cast<float>(o.weight_decay() != 0 ? 1 - o.lr() * o.weight_decay() : 1.0);
      s.beta1 = static_cast<float>(beta1);
      s.one_minus_beta1 = static_cast<float>(1 - beta1);
      s.beta2 = static_cast<float>(beta2);
      s.one_minus_beta2 = static_cast<float>(1 - beta2);
      s.sqrt_bc2 = static_cast<float>(std::sqrt(bc2));
      s.eps = static_cast<float>(o.eps());
      s.neg_step = static_cast<float>(-(o.lr() / bc1));
      s.clip = clip;
      float* pp = p.data_ptr<float>();
      float* gp = p.grad().data_ptr<float>();
      float* mp = st.exp_avg().data_ptr<float>();
      float* vp = st.exp_avg_sq().data_ptr<float>();
      at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t b, int64_t e) {
        AdamWUpdate(pp + b, gp + b, mp + b, vp + b, e - b, s);
      });
    }
  }
  return true;
}

torch::Tensor CrossEntropySum(const torch::Tensor& logits, const torch::Tensor& targets) {
  if (!logits.device().is_cpu() || logits.scalar_type() != torch::kFloat32 ||
      logits.layout() != torch::kStrided || logits.dim() != 2 || logits.size(1) == 0 ||
      targets.scalar_type() != torch::kLong || targets.dim() != 1 ||
      targets.size(0) != logits.size(0) || !targets.device().is_cpu())
    return torch::nn::functional::cross_entropy(
        logits, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  return CrossEntropySumFunction::apply(logits, targets);
}

bool CausalAttentionPackedIsFast(const torch::Tensor& qkv) {
  return qkv.device().is_cpu() && qkv.scalar_type() == torch::kFloat32 &&
         qkv.layout() == torch::kStrided && qkv.dim() == 2 && Sgemm() != nullptr;
}

torch::Tensor CausalAttentionPacked(const torch::Tensor& qkv, const std::vector<int64_t>& lengths,
                                    int64_t n_head) {
  TORCH_CHECK(CausalAttentionPackedIsFast(qkv), "CausalAttentionPacked: needs (N, 3C) float32 CPU");
  TORCH_CHECK(qkv.size(1) % (3 * n_head) == 0, "CausalAttentionPacked: 3C not divisible by heads");
  int64_t total = 0;
  for (int64_t n : lengths) total += n;
  TORCH_CHECK(total == qkv.size(0), "CausalAttentionPacked: lengths sum to ", total, ", not ",
              qkv.size(0));
  return CausalAttentionFunction::apply(qkv, lengths, n_head);
}

std::vector<int64_t> PackedLengths(const torch::Tensor& rows, int64_t B, int64_t T) {
  if (!rows.device().is_cpu() || rows.scalar_type() != torch::kLong || rows.dim() != 1) return {};
  const torch::Tensor r = rows.contiguous();
  const int64_t* p = r.data_ptr<int64_t>();
  std::vector<int64_t> lengths;
  int64_t current = -1;  // batch row of the last position
  for (int64_t i = 0; i < r.numel(); ++i) {
    const int64_t b = p[i] / T, j = p[i] % T;
    if (b < 0 || b >= B) return {};
    if (b != current) {
      if (b < current || j != 0) return {};  // a new batch row must start at its position 0
      current = b;
      lengths.push_back(1);
    } else {
      if (j != lengths.back()) return {};  // the next position of the same row
      ++lengths.back();
    }
  }
  return lengths;
}

bool GeluTanhIsFast(const torch::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.layout() == torch::kStrided;
}

torch::Tensor GeluTanh(const torch::Tensor& x) {
  if (!GeluTanhIsFast(x)) return torch::gelu(x, "tanh");
  // A double backward would need the second derivative: only the first is implemented.
  return GeluTanhFunction::apply(x);
}

}  // namespace revsweep
