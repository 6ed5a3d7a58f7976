# transformers' eager Zamba2 forward on the same synthesized checkpoint, bf16,
# batch 1: decode ms/token from generate() of 33 vs 1 new tokens (medians).
import statistics, sys, time, torch
from transformers import AutoModelForCausalLM
m = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.bfloat16).cuda().eval()
ids = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]], device="cuda")
def gen(n):
    torch.cuda.synchronize(); t = time.perf_counter()
    with torch.no_grad():
        m.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
    torch.cuda.synchronize(); return time.perf_counter() - t
gen(4)
t1 = statistics.median(gen(1) for _ in range(3))
t33 = statistics.median(gen(33) for _ in range(3))
print(f"transformers eager bf16 batch 1: decode {(t33 - t1) / 32 * 1e3:.1f} ms/token")
