// CPU compute kernels, forward and backward. Templated on the scalar type so that the same code
// runs in float (training, inference) and in double (finite-difference tests of every backward).
// All tensors are dense and row-major; shapes are given in the comments as [rows, cols].
// Kernels take their scratch from the caller; the only exceptions are two thread_local buffers
// sized on first use in each thread and reused after (the MLP-t column sums in norm.cpp, the
// per-id row sum of sparse_signsgd in optim.cpp), so a warmed-up step allocates nothing.
#pragma once
#include <cstdint>

// The kernels are compiled once per x86 level in portable builds (TRM_NATIVE=OFF: base, x86_64_v3,
// x86_64_v4) and the CPU backend of the best level this CPU runs is picked at start
// (src/backend/cpu_variants.cpp, docs/LIBRARY.md "Portable builds"). Each compilation names its
// own inline namespace, so the copies never clash and code that includes this header without a
// level (the tests, the native build) gets `base`.
#ifndef TRM_KERNEL_ISA
#define TRM_KERNEL_ISA base
#endif

namespace trm::kernels::inline TRM_KERNEL_ISA {

// ---- GEMM (CBLAS) -----------------------------------------------------------------------------
// C[M,N] = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T. Leading dimensions as in CBLAS.
template <class T>
void gemm(bool trans_a, bool trans_b, int M, int N, int K, T alpha, const T* A, int lda, const T* B,
          int ldb, T beta, T* C, int ldc);

// Linear layer y[R,out] = x[R,in] W^T, W is [out,in] (PyTorch layout); ldx/ldy are the row
// strides of x and y (>= in, >= out), so a layer can read or write a column block of a wider array.
template <class T>
void linear_fwd(const T* x, int ldx, const T* W, T* y, int ldy, int rows, int in, int out);
// dx[R,in] (= or += when accumulate) dy W;  dW[out,in] += dy^T x. Either output may be null.
template <class T>
void linear_bwd(const T* x, int ldx, const T* W, const T* dy, int lddy, T* dx, int lddx, T* dW, int rows,
                int in, int out, bool accumulate_dx);
// Dense forms (row strides equal to the widths).
template <class T>
void linear_fwd(const T* x, const T* W, T* y, int rows, int in, int out) {
  linear_fwd(x, in, W, y, out, rows, in, out);
}
template <class T>
void linear_bwd(const T* x, const T* W, const T* dy, T* dx, T* dW, int rows, int in, int out,
                bool accumulate_dx) {
  linear_bwd(x, in, W, dy, out, dx, in, dW, rows, in, out, accumulate_dx);
}
// The same layer applied to `batch` row blocks that start x_stride / y_stride elements apart
// (the logits head reads the S answer rows of every sample, skipping the puzzle prefix).
template <class T>
void linear_fwd_batched(const T* x, int ldx, std::int64_t x_stride, const T* W, T* y, int ldy,
                        std::int64_t y_stride, int batch, int rows, int in, int out);
template <class T>
void linear_bwd_batched(const T* x, int ldx, std::int64_t x_stride, const T* W, const T* dy, int lddy,
                        std::int64_t dy_stride, T* dx, int lddx, std::int64_t dx_stride, T* dW, int batch,
                        int rows, int in, int out, bool accumulate_dx);
// Weight on the left, shared across the batch (MLP-t sequence mixing): y_b[M,N] = W[M,K] x_b[K,N]
// with x_b = x + b*K*N, y_b = y + b*M*N.
template <class T>
void left_linear_fwd(const T* W, const T* x, T* y, int batch, int M, int K, int N);
// dx_b (=) W^T dy_b (dx may be null); dW += sum_b dy_b x_b^T (dW may be null).
template <class T>
void left_linear_bwd(const T* W, const T* x, const T* dy, T* dx, T* dW, int batch, int M, int K, int N);
// y[r, :] += bias for every row;  dbias += sum over rows of dy.
template <class T>
void bias_add(T* y, const T* bias, int rows, int cols);
template <class T>
void bias_grad(const T* dy, T* dbias, int rows, int cols);

// ---- rows -------------------------------------------------------------------------------------
template <class T>
void fill(T* p, T value, std::int64_t n);
// The number of NaN and +-Inf among x[0..n) (float only: the trainer's finiteness guard).
std::int64_t count_nonfinite(const float* x, std::int64_t n);
// out[i, :] = table[ids[i], :] for i < n (ids are host values, already range-checked).
template <class T>
void gather_rows(const T* table, const std::int32_t* ids, T* out, int n, int width);
// For every group g < groups with mask == null or mask[g] != 0: each of its rows_per_group rows
// of dst (group g starts at row g * rows_per_group) becomes `row` [width]. The ACT carry's reset
// and refill: every position of a slot restarts from H_init / L_init in one call.
template <class T>
void broadcast_rows(const T* row, T* dst, const std::uint8_t* mask, int groups, std::int64_t rows_per_group,
                    int width);

// ---- elementwise ------------------------------------------------------------------------------
template <class T>
void add(const T* a, const T* b, T* y, std::int64_t n);  // y = a + b (y may alias a or b)
template <class T>
void add3(const T* a, const T* b, const T* c, T* y, std::int64_t n);  // y = a + b + c
template <class T>
void accumulate(T* y, const T* x, std::int64_t n);  // y += x

// ---- RMSNorm without weight (post-norm) ------------------------------------------------------
// y = rms(a + b) over the last axis of [rows, cols]; rinv[r] = 1/sqrt(mean((a+b)^2) + eps).
// b may be null (plain norm). y may alias a or b.
template <class T>
void add_rmsnorm_fwd(const T* a, const T* b, T* y, T* rinv, int rows, int cols, T eps);
// Backward through y = x * rinv given the saved output y: dx = rinv * (dy - y * mean(dy*y)).
// dx may alias dy.
template <class T>
void rmsnorm_bwd(const T* y, const T* rinv, const T* dy, T* dx, int rows, int cols);

// The same norm over the SEQUENCE axis of [batch, L, D] (MLP-t variant): every (b, d) column of
// L values is normalized; rinv is [batch, D].
template <class T>
void add_rmsnorm_seq_fwd(const T* a, const T* b, T* y, T* rinv, int batch, int L, int D, T eps);
template <class T>
void rmsnorm_seq_bwd(const T* y, const T* rinv, const T* dy, T* dx, int batch, int L, int D);

// ---- SwiGLU gate ------------------------------------------------------------------------------
// gu is [rows, 2*inter]: the first half of each row is the gate, the second half "up".
// act[rows, inter] = silu(gate) * up.
template <class T>
void swiglu_fwd(const T* gu, T* act, int rows, int inter);
template <class T>
void swiglu_bwd(const T* gu, const T* dact, T* dgu, int rows, int inter);

// ---- RoPE (rotate-half) -----------------------------------------------------------------------
// The cos/sin tables come from the model (src/model/host_math.h: rope_tables).
// Rotates, in place, the first 2*heads heads (Q then K) of every row of qkv [batch*L, row_stride]
// (each head is head_dim wide). inverse=true applies the transpose rotation, which is the
// backward of the forward rotation.
template <class T>
void rope_apply(T* qkv, int batch, int L, int heads, int head_dim, int row_stride, const T* cos_t,
                const T* sin_t, bool inverse);

// ---- non-causal multi-head attention ---------------------------------------------------------
// qkv [batch*L, 3*heads*head_dim] holds Q heads, then K heads, then V heads. out [batch*L,
// heads*head_dim] (heads concatenated). lse [batch, heads, L] keeps each softmax row's
// log-sum-exp so the backward recomputes probabilities instead of storing L x L per head.
// Work is tiled in blocks of kAttnQueryBlock query rows; scratch: attention_scratch_size(L)
// elements per OpenMP thread (two [block, L] tiles).
inline constexpr int kAttnQueryBlock = 64;
std::int64_t attention_scratch_size(int L);
template <class T>
void attention_fwd(const T* qkv, T* out, T* lse, int batch, int L, int heads, int head_dim,
                   T* scratch);
// dqkv [batch*L, 3*heads*head_dim] is overwritten.
template <class T>
void attention_bwd(const T* qkv, const T* out, const T* lse, const T* dout, T* dqkv, int batch,
                   int L, int heads, int head_dim, T* scratch);

// ---- input embedding --------------------------------------------------------------------------
// x[b, 0:P, :] = the puzzle row puz[b, 0:ndim] zero-padded to P*D and viewed as [P, D];
// x[b, P+s, :] = tok_table[tokens[b,s]]; then x = scale * pos_scale * (x + pos), where pos
// (learned, [L, D]) may be null. The model passes pos_scale = 1/sqrt(2) with learned positions
// and 1 otherwise. puz may be null when ndim == 0.
template <class T>
void embed_fwd(const std::int32_t* tokens, const T* tok_table, const T* puz, const T* pos, T* x,
               int batch, int S, int P, int D, int ndim, T scale, T pos_scale);
// Accumulates into dtok_table [V,D] and dpos [L,D] (if non-null); overwrites dpuz [batch, ndim].
template <class T>
void embed_bwd(const std::int32_t* tokens, const T* dx, T* dtok_table, T* dpuz, T* dpos, int batch,
               int S, int P, int D, int ndim, T scale, T pos_scale);

// ---- losses -----------------------------------------------------------------------------------
// Stablemax cross-entropy, computed in double whatever T is (as the reference does in float64).
// For each sequence b: ce[b] = sum over unmasked t of -log stablemax(logits[b,t,:])[label].
// Labels < 0 are ignored. If dlogits is non-null it receives d(sum_b w[b] * ce[b]) / dlogits.
// correct[b] (if non-null) is set to the count of unmasked positions whose argmax equals the
// label, and valid[b] to the count of unmasked positions.
template <class T>
void stablemax_ce(const T* logits, const std::int32_t* labels, int batch, int S, int V, double* ce,
                  const double* w, T* dlogits, std::int32_t* correct, std::int32_t* valid);

// ---- optimizer updates (element-wise, float state) -------------------------------------------
// AdamATan2 (decay first, scaled by lr; atan2 of the uncorrected first moment).
void adam_atan2_update(float* theta, const float* g, float* m, float* v, std::int64_t n, float lr,
                       float weight_decay, float beta1, float beta2, float step);
// e = rate * e + (1 - rate) * theta
void ema_update(float* ema, const float* theta, std::int64_t n, float rate);
// Sparse SignSGD with decoupled decay on the rows named by ids (duplicates summed first).
void sparse_signsgd(float* table, const std::int32_t* ids, const float* grad_rows, int n, int width, float lr,
                    float weight_decay);

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
