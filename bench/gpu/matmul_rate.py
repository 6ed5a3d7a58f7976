# The device's bf16 matmul rate as torch (cuBLAS) reaches it: the best of
# 20 timed 8192x8192x8192 products after a warm-up, in TFLOP/s. zamba2-bench
# takes it as --matmul-tflops for the prefill floor.
import torch
n = 8192
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
for _ in range(3):
    a @ b
torch.cuda.synchronize()
best = float("inf")
for _ in range(20):
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record(); a @ b; e.record(); e.synchronize()
    best = min(best, s.elapsed_time(e) / 1e3)
print(f"{2 * n ** 3 / best / 1e12:.0f}")
