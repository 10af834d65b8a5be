// The kernels behind the choice of BLAS (docs/experiments/blas.md), timed
// on random weights: a 28x28 Conv4 at batch 1 (LibTorch's own kernels, on
// BLAS) and 64 (oneDNN), a training step of it, a pretraining head's
// matmuls, the meta-learner's network over a 5-way and a 20-way head's
// coordinates, and a 256x256 matmul. Not part of the build; the BLAS is
// picked with LD_LIBRARY_PATH:
//
//   g++ -O2 -std=c++17 bench/blas_micro.cc -o /tmp/blas_micro \
//     -I/usr/include/torch/csrc/api/include -ltorch -ltorch_cpu -lc10
//   for b in blas blis-serial openblas-serial; do
//     LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/$b /tmp/blas_micro; done
//
// Argument: intra-op threads (1).
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <torch/torch.h>

namespace {

template <class F>
double Milliseconds(F f, int reps) {
  f();
  f();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
             .count() /
         reps;
}

torch::nn::Conv2d Conv3x3(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
}

}  // namespace

int main(int argc, char** argv) {
  at::set_num_threads(argc > 1 ? std::atoi(argv[1]) : 1);
  torch::NoGradGuard no_grad;

  torch::nn::Sequential conv4;
  for (int64_t in : {1, 64, 64, 64}) {
    conv4->push_back(Conv3x3(in, 64));
    conv4->push_back(torch::nn::BatchNorm2d(64));
    conv4->push_back(torch::nn::ReLU());
    conv4->push_back(torch::nn::MaxPool2d(2));
  }
  conv4->eval();
  for (int batch : {1, 64}) {
    auto x = torch::randn({batch, 1, 28, 28});
    const double ms = Milliseconds([&] { conv4->forward(x); }, 20);
    std::printf("conv4 28x28 batch %2d: %8.3f ms, %.3f ms per image\n", batch, ms, ms / batch);
  }

  {
    // A pretraining step's forward and backward (batch 64; Adam's update aside).
    c10::AutoGradMode grad(true);
    conv4->train();
    auto x = torch::randn({64, 1, 28, 28});
    const double ms = Milliseconds(
        [&] {
          conv4->zero_grad();
          conv4->forward(x).sum().backward();
        },
        10);
    std::printf("conv4 training step batch 64: %8.3f ms, %.0f images/s\n", ms, 64e3 / ms);
    conv4->eval();
  }

  {
    // Pretraining's cosine head over 3,683 classes: forward and both grads.
    auto features = torch::randn({64, 64}), weights = torch::randn({3683, 64});
    auto grad = torch::randn({64, 3683});
    const double ms = Milliseconds(
        [&] {
          torch::mm(features, weights.t()), torch::mm(grad, weights),
              torch::mm(grad.t(), features);
        },
        50);
    std::printf("pretraining head matmuls: %.3f ms\n", ms);
  }

  torch::nn::Sequential mlp(torch::nn::Linear(11, 32), torch::nn::Tanh(),
                            torch::nn::Linear(32, 32), torch::nn::Tanh(),
                            torch::nn::Linear(32, 1));
  for (int coordinates : {325, 1300}) {
    auto x = torch::randn({coordinates, 11});
    std::printf("meta-learner network, %4d coordinates: %.3f ms\n", coordinates,
                Milliseconds([&] { mlp->forward(x); }, 500));
  }
  auto a = torch::randn({256, 256}), b = torch::randn({256, 256});
  const double ms = Milliseconds([&] { torch::mm(a, b); }, 50);
  std::printf("matmul 256x256: %.3f ms, %.1f GFLOP/s\n", ms, 2.0 * 256 * 256 * 256 / ms / 1e6);
  return 0;
}
