// Host-side arithmetic the model does itself rather than through its Backend: small, run once
// per model or once per batch, and shared by every backend. Templated like the kernels so that
// the finite-difference tests can run them in double.
#pragma once
#include <cstdint>

namespace trm::host {

// RoPE tables cos/sin [L, head_dim] = cat(freqs, freqs), freqs[t, i] = t / theta^(2i / head_dim).
template <class T>
void rope_tables(T* cos_t, T* sin_t, int L, int head_dim, double theta);

// Sum over i < n of BCE-with-logits(q[i * q_stride], target[i]), computed in double;
// if dq is non-null, dq[i * q_stride] = coeff * (sigmoid(q) - target).
template <class T>
double bce_with_logits(const T* q, int q_stride, const double* target, int n, T* dq, double coeff);

}  // namespace trm::host
