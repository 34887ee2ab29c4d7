// The work items of the GPU backend: one small struct per operation whose operator()(i) computes
// item i (an element, a row, a column or one attention query/key row) and nothing else. The same
// structs are compiled twice:
//   - by nvcc, launched as CUDA kernels, one thread per item (src/backend/gpu/cuda_backend.cu);
//   - by the host compiler, run by a plain loop (the "cuda-sim" backend, src/backend/gpu/sim_backend.cpp),
// so every line of arithmetic the GPU runs is also run, and checked against the double-precision
// CPU kernels, by tests/test_backend_ops.cpp on machines without a GPU (docs/GPU.md).
//
// Items never share writes: every output element is written by exactly one item, and sums are
// taken in a fixed order inside an item, so results do not depend on the launch shape and are
// reproducible run to run. Reductions over rows are done in double, as the CPU kernels do.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define TRM_HD __host__ __device__
#else
#define TRM_HD
#endif

namespace trm::gpu {

using i64 = std::int64_t;

// The widest attention head an item keeps in registers (TRM and HRM use 64).
inline constexpr int kMaxHeadDim = 128;

TRM_HD inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }
TRM_HD inline double stablemax_s(double x) { return x >= 0 ? x + 1.0 : 1.0 / (1.0 - x + 1e-30); }
TRM_HD inline double stablemax_ds(double x) {
  if (x >= 0) return 1.0;
  const double d = 1.0 - x + 1e-30;
  return 1.0 / (d * d);
}
TRM_HD inline bool is_finite(float x) { return x - x == 0.0f; }  // false for NaN and +-Inf

// ---- memory and rows ------------------------------------------------------------------------
struct FillItem {
  float* p;
  float v;
  TRM_HD void operator()(i64 i) const { p[i] = v; }
};
// partial[c] = the number of non-finite values in chunk c of x.
struct CountNonfiniteItem {
  const float* x;
  i64 n, chunk;
  float* partial;
  TRM_HD void operator()(i64 c) const {
    const i64 b = c * chunk, e = b + chunk < n ? b + chunk : n;
    float k = 0;  // exact: chunk <= 2^24
    for (i64 i = b; i < e; ++i) k += is_finite(x[i]) ? 0.0f : 1.0f;
    partial[c] = k;
  }
};
// Item (row r, column c) of the masked broadcast; mask is a device copy of the host mask (or null).
struct BroadcastRowsItem {
  const float* row;
  float* dst;
  const std::uint8_t* mask;
  i64 rows_per_group;
  int width;
  TRM_HD void operator()(i64 i) const {
    const i64 r = i / width;
    if (mask && !mask[r / rows_per_group]) return;
    dst[i] = row[i % width];
  }
};
struct GatherRowsItem {
  const float* table;
  const std::int32_t* ids;
  float* out;
  int width;
  TRM_HD void operator()(i64 i) const { out[i] = table[static_cast<i64>(ids[i / width]) * width + i % width]; }
};

// ---- element-wise -----------------------------------------------------------------------------
struct AddItem {
  const float *a, *b;
  float* y;
  TRM_HD void operator()(i64 i) const { y[i] = a[i] + b[i]; }
};
struct Add3Item {
  const float *a, *b, *c;
  float* y;
  TRM_HD void operator()(i64 i) const { y[i] = a[i] + b[i] + c[i]; }
};
struct AccumulateItem {
  float* y;
  const float* x;
  TRM_HD void operator()(i64 i) const { y[i] += x[i]; }
};
struct BiasAddItem {
  float* y;
  const float* bias;
  int cols;
  TRM_HD void operator()(i64 i) const { y[i] += bias[i % cols]; }
};
// Column c: dbias[c] += sum over rows of dy[r, c], in row order.
struct BiasGradItem {
  const float* dy;
  float* dbias;
  int rows, cols;
  TRM_HD void operator()(i64 c) const {
    double s = 0;
    for (int r = 0; r < rows; ++r) s += dy[static_cast<i64>(r) * cols + c];
    dbias[c] += static_cast<float>(s);
  }
};

// ---- RMSNorm (no gain) ------------------------------------------------------------------------
// Row r of [rows, cols]: y = (a + b) * rinv, rinv = 1/sqrt(mean((a+b)^2) + eps). b may be null;
// y may alias a or b (each element is read before it is written, by this item only).
struct AddRmsNormItem {
  const float *a, *b;
  float *y, *rinv;
  int cols;
  float eps;
  TRM_HD void operator()(i64 r) const {
    const i64 o = r * cols;
    double ss = 0;
    for (int c = 0; c < cols; ++c) {
      const float v = b ? a[o + c] + b[o + c] : a[o + c];
      y[o + c] = v;
      ss += static_cast<double>(v) * v;
    }
    const float ri = static_cast<float>(1.0 / sqrt(ss / cols + static_cast<double>(eps)));
    rinv[r] = ri;
    for (int c = 0; c < cols; ++c) y[o + c] *= ri;
  }
};
struct RmsNormBwdItem {
  const float *y, *rinv, *dy;
  float* dx;  // may alias dy
  int cols;
  TRM_HD void operator()(i64 r) const {
    const i64 o = r * cols;
    double dot = 0;
    for (int c = 0; c < cols; ++c) dot += static_cast<double>(dy[o + c]) * y[o + c];
    const float mean = static_cast<float>(dot / cols), ri = rinv[r];
    for (int c = 0; c < cols; ++c) dx[o + c] = ri * (dy[o + c] - y[o + c] * mean);
  }
};
// The sequence-axis norm of [batch, L, D]: item (b, d) normalizes one column of L values.
struct AddRmsNormSeqItem {
  const float *a, *b;
  float *y, *rinv;
  int L, D;
  float eps;
  TRM_HD void operator()(i64 i) const {
    const i64 bi = i / D, d = i % D, base = bi * L * D + d;
    double ss = 0;
    for (int l = 0; l < L; ++l) {
      const i64 o = base + static_cast<i64>(l) * D;
      const float v = b ? a[o] + b[o] : a[o];
      y[o] = v;
      ss += static_cast<double>(v) * v;
    }
    const float ri = static_cast<float>(1.0 / sqrt(ss / L + static_cast<double>(eps)));
    rinv[i] = ri;
    for (int l = 0; l < L; ++l) y[base + static_cast<i64>(l) * D] *= ri;
  }
};
struct RmsNormSeqBwdItem {
  const float *y, *rinv, *dy;
  float* dx;
  int L, D;
  TRM_HD void operator()(i64 i) const {
    const i64 bi = i / D, d = i % D, base = bi * L * D + d;
    double dot = 0;
    for (int l = 0; l < L; ++l) dot += static_cast<double>(dy[base + static_cast<i64>(l) * D]) * y[base + static_cast<i64>(l) * D];
    const float mean = static_cast<float>(dot / L), ri = rinv[i];
    for (int l = 0; l < L; ++l) {
      const i64 o = base + static_cast<i64>(l) * D;
      dx[o] = ri * (dy[o] - y[o] * mean);
    }
  }
};

// ---- SwiGLU: gu [rows, 2*inter] = (gate | up); item (r, j) ------------------------------------
struct SwigluFwdItem {
  const float* gu;
  float* act;
  int inter;
  TRM_HD void operator()(i64 i) const {
    const i64 r = i / inter, j = i % inter;
    const float g = gu[r * 2 * inter + j], u = gu[r * 2 * inter + inter + j];
    act[i] = g * sigmoidf_(g) * u;
  }
};
struct SwigluBwdItem {
  const float *gu, *dact;
  float* dgu;
  int inter;
  TRM_HD void operator()(i64 i) const {
    const i64 r = i / inter, j = i % inter;
    const float g = gu[r * 2 * inter + j], u = gu[r * 2 * inter + inter + j], da = dact[i];
    const float s = sigmoidf_(g);
    dgu[r * 2 * inter + j] = da * u * (s + g * s * (1.0f - s));
    dgu[r * 2 * inter + inter + j] = da * g * s;
  }
};

// ---- RoPE (rotate-half) on the Q and K heads of qkv rows; item (row, head, i < half) ----------
struct RopeItem {
  float* qkv;
  const float *cos_t, *sin_t;
  int L, heads2, head_dim, row_stride;
  float sign;
  TRM_HD void operator()(i64 i) const {
    const int half = head_dim / 2;
    const i64 r = i / (static_cast<i64>(heads2) * half);
    const int rem = static_cast<int>(i % (static_cast<i64>(heads2) * half));
    const int h = rem / half, k = rem % half;
    const int t = static_cast<int>(r % L);
    float* v = qkv + r * row_stride + static_cast<i64>(h) * head_dim;
    const float c = cos_t[static_cast<i64>(t) * head_dim + k], s = sign * sin_t[static_cast<i64>(t) * head_dim + k];
    const float a = v[k], b = v[k + half];
    v[k] = a * c - b * s;
    v[k + half] = b * c + a * s;
  }
};

// ---- attention: qkv [batch*L, 3*H*hd] (Q heads | K heads | V heads), out [batch*L, H*hd] -------
struct AttnShape {
  int L, heads, head_dim;
  float scale;  // 1/sqrt(head_dim)
  TRM_HD i64 ld() const { return 3LL * heads * head_dim; }
  // Item t of a [batch, heads, L] launch: its sample, head and row.
  TRM_HD void decode(i64 t, i64& b, int& h, i64& row) const {
    const i64 bh = t / L;
    row = t % L;
    b = bh / heads;
    h = static_cast<int>(bh % heads);
  }
  TRM_HD const float* q(const float* qkv, i64 b, int h, i64 i) const { return qkv + (b * L + i) * ld() + static_cast<i64>(h) * head_dim; }
  TRM_HD const float* k(const float* qkv, i64 b, int h, i64 j) const { return q(qkv, b, h, j) + static_cast<i64>(heads) * head_dim; }
  TRM_HD const float* v(const float* qkv, i64 b, int h, i64 j) const { return q(qkv, b, h, j) + 2LL * heads * head_dim; }
  TRM_HD i64 orow(i64 b, int h, i64 i) const { return (b * L + i) * heads * head_dim + static_cast<i64>(h) * head_dim; }
  // The softmax backward's terms of one (query i, key j) pair: P_ij rebuilt from lse_i, and
  // dS_ij = P_ij (dO_i . v_j - delta_i).
  TRM_HD void grad_terms(const float* qkv, const float* dO, float lse_i, float delta_i, i64 b, int h, i64 i, i64 j,
                         float& p, float& ds) const {
    p = expf(score(qkv, b, h, i, j) - lse_i);
    const float* vj = v(qkv, b, h, j);
    float dp = 0;
    for (int c = 0; c < head_dim; ++c) dp += dO[c] * vj[c];
    ds = p * (dp - delta_i);
  }
  TRM_HD float score(const float* qkv, i64 b, int h, i64 i, i64 j) const {
    const float* qi = q(qkv, b, h, i);
    const float* kj = k(qkv, b, h, j);
    float s = 0;
    for (int c = 0; c < head_dim; ++c) s += qi[c] * kj[c];
    return s * scale;
  }
};
// Item (b, h, i): one query row against every key with an online softmax; keeps lse[b,h,i].
struct AttnFwdItem {
  const float* qkv;
  float *out, *lse;
  AttnShape sh;
  TRM_HD void operator()(i64 t) const {
    i64 b, i;
    int h;
    sh.decode(t, b, h, i);
    float acc[kMaxHeadDim];
    for (int c = 0; c < sh.head_dim; ++c) acc[c] = 0;
    float m = -INFINITY, l = 0;
    for (i64 j = 0; j < sh.L; ++j) {
      const float s = sh.score(qkv, b, h, i, j);
      const float m2 = s > m ? s : m;
      const float corr = expf(m - m2), p = expf(s - m2);
      l = l * corr + p;
      const float* vj = sh.v(qkv, b, h, j);
      for (int c = 0; c < sh.head_dim; ++c) acc[c] = acc[c] * corr + p * vj[c];
      m = m2;
    }
    float* o = out + sh.orow(b, h, i);
    for (int c = 0; c < sh.head_dim; ++c) o[c] = acc[c] / l;
    lse[t] = m + logf(l);
  }
};
// delta[b,h,i] = dout_i . out_i, the softmax backward's row term.
struct AttnDeltaItem {
  const float *out, *dout;
  float* delta;
  AttnShape sh;
  TRM_HD void operator()(i64 t) const {
    i64 b, i;
    int h;
    sh.decode(t, b, h, i);
    const i64 o = sh.orow(b, h, i);
    float d = 0;
    for (int c = 0; c < sh.head_dim; ++c) d += dout[o + c] * out[o + c];
    delta[t] = d;
  }
};
// Item (b, h, i): dq_i = scale * sum_j P_ij (dP_ij - delta_i) k_j, with P rebuilt from lse.
struct AttnBwdQItem {
  const float *qkv, *dout, *lse, *delta;
  float* dqkv;
  AttnShape sh;
  TRM_HD void operator()(i64 t) const {
    i64 b, i;
    int h;
    sh.decode(t, b, h, i);
    const float* dO = dout + sh.orow(b, h, i);
    float acc[kMaxHeadDim];
    for (int c = 0; c < sh.head_dim; ++c) acc[c] = 0;
    for (i64 j = 0; j < sh.L; ++j) {
      float p, ds;
      sh.grad_terms(qkv, dO, lse[t], delta[t], b, h, i, j, p, ds);
      const float* kj = sh.k(qkv, b, h, j);
      for (int c = 0; c < sh.head_dim; ++c) acc[c] += ds * kj[c];
    }
    float* dq = dqkv + (b * sh.L + i) * sh.ld() + static_cast<i64>(h) * sh.head_dim;
    for (int c = 0; c < sh.head_dim; ++c) dq[c] = sh.scale * acc[c];
  }
};
// Item (b, h, j): dv_j = sum_i P_ij dout_i;  dk_j = scale * sum_i P_ij (dP_ij - delta_i) q_i.
struct AttnBwdKVItem {
  const float *qkv, *dout, *lse, *delta;
  float* dqkv;
  AttnShape sh;
  TRM_HD void operator()(i64 t) const {
    i64 b, j;
    int h;
    sh.decode(t, b, h, j);
    float dk[kMaxHeadDim], dv[kMaxHeadDim];
    for (int c = 0; c < sh.head_dim; ++c) dk[c] = dv[c] = 0;
    for (i64 i = 0; i < sh.L; ++i) {
      const i64 row = t - j + i;  // (b, h, i) in the same [batch, heads, L] layout as t
      const float* dO = dout + sh.orow(b, h, i);
      float p, ds;
      sh.grad_terms(qkv, dO, lse[row], delta[row], b, h, i, j, p, ds);
      for (int c = 0; c < sh.head_dim; ++c) dv[c] += p * dO[c];
      const float* qi = sh.q(qkv, b, h, i);
      for (int c = 0; c < sh.head_dim; ++c) dk[c] += ds * qi[c];
    }
    float* base = dqkv + (b * sh.L + j) * sh.ld() + static_cast<i64>(h) * sh.head_dim;
    float* dkp = base + static_cast<i64>(sh.heads) * sh.head_dim;
    float* dvp = base + 2LL * sh.heads * sh.head_dim;
    for (int c = 0; c < sh.head_dim; ++c) {
      dkp[c] = sh.scale * dk[c];
      dvp[c] = dv[c];
    }
  }
};

// ---- input embedding: x [batch, P+S, D]; item (b, l, d) ---------------------------------------
struct EmbedFwdItem {
  const std::int32_t* tokens;  // device copy [batch, S]
  const float *tok_table, *puz, *pos;
  float* x;
  int S, P, D, ndim;
  float k;  // scale * pos_scale
  TRM_HD void operator()(i64 i) const {
    const i64 L = S + P, d = i % D, l = (i / D) % L, b = i / (L * D);
    float v;
    if (l < P) {
      const i64 f = l * D + d;
      v = (puz && f < ndim) ? puz[b * ndim + f] : 0.0f;
    } else {
      v = tok_table[static_cast<i64>(tokens[b * S + (l - P)]) * D + d];
    }
    x[i] = pos ? k * (v + pos[l * D + d]) : k * v;
  }
};
// dpuz[b, f] = k * dx[b, f] for f < ndim (the puzzle row occupies the first ndim values).
struct EmbedPuzBwdItem {
  const float* dx;
  float* dpuz;
  int L, D, ndim;
  float k;
  TRM_HD void operator()(i64 i) const { dpuz[i] = k * dx[(i / ndim) * L * D + i % ndim]; }
};
// Token-table row v, column d: += k * the dx rows of every position holding token v, in the
// order of the host-built list (positions[starts[v] .. starts[v+1]) as b*S+s).
struct EmbedTokBwdItem {
  const float* dx;
  float* dtok;
  const std::int32_t *starts, *positions;
  int S, P, D;
  float k;
  TRM_HD void operator()(i64 i) const {
    const i64 v = i / D, d = i % D;
    float s = 0;
    for (std::int32_t e = starts[v]; e < starts[v + 1]; ++e) {
      const i64 bs = positions[e], b = bs / S, t = bs % S;
      s += dx[(b * (S + P) + P + t) * D + d];
    }
    dtok[i] += k * s;
  }
};
// dpos[l, d] += k * sum over the batch of dx[b, l, d].
struct EmbedPosBwdItem {
  const float* dx;
  float* dpos;
  int batch;
  i64 LD;
  float k;
  TRM_HD void operator()(i64 i) const {
    float s = 0;
    for (int b = 0; b < batch; ++b) s += dx[b * LD + i];
    dpos[i] += k * s;
  }
};

// ---- stablemax cross-entropy; item = one (b, t) token row of V logits -------------------------
// Writes its loss term (double), whether it is valid and correct, and its dlogits row
// (weight[b] * d loss_t / d logits); the host sums the per-token terms per sequence in order.
struct StablemaxCeItem {
  const float* logits;
  const std::int32_t* labels;
  const double* weight;  // device copy [batch], or null when dlogits is null
  float* dlogits;
  double* loss;           // [batch*S]
  std::int32_t* flags;    // [batch*S]: bit 0 valid, bit 1 correct
  int S, V;
  TRM_HD void operator()(i64 row) const {
    const float* x = logits + row * V;
    float* dx = dlogits ? dlogits + row * V : nullptr;
    const std::int32_t y = labels[row];
    if (y < 0) {
      if (dx)
        for (int v = 0; v < V; ++v) dx[v] = 0;
      loss[row] = 0;
      flags[row] = 0;
      return;
    }
    int argmax = 0;
    for (int v = 1; v < V; ++v)
      if (x[v] > x[argmax]) argmax = v;
    double sum = 0;
    for (int v = 0; v < V; ++v) sum += stablemax_s(x[v]);
    const double sy = stablemax_s(x[y]);
    loss[row] = -(log(sy) - log(sum));
    flags[row] = 1 | (argmax == y ? 2 : 0);
    if (dx) {
      const double wb = weight[row / S];
      for (int v = 0; v < V; ++v) {
        double g = stablemax_ds(x[v]) / sum;
        if (v == y) g -= stablemax_ds(x[y]) / sy;
        dx[v] = static_cast<float>(wb * g);
      }
    }
  }
};

// ---- optimizers -------------------------------------------------------------------------------
// AdamATan2 as the CPU kernel states it (decoupled decay first; atan2 of the uncorrected first
// moment over the corrected second); bc1-derived step_size, bc2_sqrt and decay come from the host.
struct AdamAtan2Item {
  float *theta, *m, *v;
  const float* g;
  float beta1, beta2, step_size, bc2_sqrt, decay;
  TRM_HD void operator()(i64 i) const {
    float p = theta[i] * decay;
    const float gi = g[i];
    const float mi = m[i] + (1.0f - beta1) * (gi - m[i]);
    const float vi = v[i] + (1.0f - beta2) * (gi * gi - v[i]);
    m[i] = mi;
    v[i] = vi;
    p -= step_size * atan2f(mi, sqrtf(vi) / bc2_sqrt);
    theta[i] = p;
  }
};
struct EmaItem {
  float* e;
  const float* theta;
  float rate;
  TRM_HD void operator()(i64 i) const { e[i] = rate * e[i] + (1.0f - rate) * theta[i]; }
};
// Distinct id u (host-grouped, first-seen order), column c: sum its gradient rows in order, then
// row <- row * decay - lr * sign(sum).
struct SparseSignSgdItem {
  float* table;
  const float* grad_rows;
  const std::int32_t *uniq, *starts, *members;
  int width;
  float lr, decay;
  TRM_HD void operator()(i64 i) const {
    const i64 u = i / width, c = i % width;
    float s = 0;
    for (std::int32_t e = starts[u]; e < starts[u + 1]; ++e) s += grad_rows[static_cast<i64>(members[e]) * width + c];
    float* row = table + static_cast<i64>(uniq[u]) * width;
    const float sgn = static_cast<float>((s > 0) - (s < 0));
    row[c] = row[c] * decay - lr * sgn;
  }
};

}  // namespace trm::gpu
