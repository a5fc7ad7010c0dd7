#!/usr/bin/env python3
"""PyTorch peer for `bsn bench conv`: the same conv shapes (3x3, C->C, batch 64),
forward and forward+backward, NCHW and channels-last, 2 threads; medians.

    pip install torch && python3 scripts/torch_conv_peer.py [--channels 32 64 128] [--json]
"""
import argparse, json, statistics, time
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--channels", type=int, nargs="+", default=[32, 64, 128])
p.add_argument("--sizes", type=int, nargs="+", default=[32, 16, 8, 4, 2, 1])
p.add_argument("--batch", type=int, default=64)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seconds", type=float, default=0.3)
p.add_argument("--json", action="store_true")
args = p.parse_args()
torch.set_num_threads(args.threads)

def median_time(fn):
    fn()
    samples, start = [], time.perf_counter()
    while len(samples) < 3 or time.perf_counter() - start < args.seconds:
        t0 = time.perf_counter(); fn(); samples.append(time.perf_counter() - t0)
    return statistics.median(samples)

rows = []
for c in args.channels:
    for size in args.sizes:
        cases = [("same", size, 1)]
        if size * 2 <= max(args.sizes): cases.append(("down", size * 2, 2))
        if size >= 2: cases.append(("up", size // 2, 1))
        for kind, insize, stride in cases:
            best = {}
            for layout in ("nchw", "channels_last"):
                fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
                conv = torch.nn.Conv2d(c, c, 3, stride=stride, padding=1).to(memory_format=fmt)
                x = torch.randn(args.batch, c, insize, insize).to(memory_format=fmt).requires_grad_()
                def fwd():
                    with torch.no_grad():
                        h = F.interpolate(x, scale_factor=2, mode="nearest") if kind == "up" else x
                        conv(h)
                def both():
                    h = F.interpolate(x, scale_factor=2, mode="nearest") if kind == "up" else x
                    conv(h).backward(dy)
                with torch.no_grad():
                    h = F.interpolate(x, scale_factor=2, mode="nearest") if kind == "up" else x
                    dy = torch.randn_like(conv(h))
                hw = h.shape[2] * h.shape[3] // (stride * stride)
                flops = 2 * args.batch * hw * 9 * c * c
                for op, fn, work in (("forward", fwd, flops), ("forward+backward", both, 3 * flops)):
                    t = median_time(fn)
                    if op not in best or t < best[op][0]: best[op] = (t, work, layout)
            for op, (t, work, layout) in best.items():
                rows.append(dict(channels=c, size=size, kind=kind, op=op, ms=t * 1e3, gflops=work / t / 1e9, layout=layout))
if args.json:
    print(json.dumps(dict(torch=torch.__version__, threads=args.threads, rows=rows)))
else:
    print(f"PyTorch {torch.__version__}, {args.threads} threads, batch {args.batch}, best of NCHW / channels-last")
    for r in rows:
        print(f"{r['channels']:<5}{str(r['size'])+'x'+str(r['size']):<7}{r['kind']:<6}{r['op']:<18}{r['ms']:<10.3f}{r['gflops']:<9.1f}{r['layout']}")
    for c in args.channels:
        for op in ("forward", "forward+backward"):
            sel = [r for r in rows if r["channels"] == c and r["op"] == op]
            work = sum(r["gflops"] * r["ms"] for r in sel); t = sum(r["ms"] for r in sel)
            print(f"C={c} all shapes, {op}: {work / t:.1f} GFLOP/s")
