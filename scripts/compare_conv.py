#!/usr/bin/env python3
"""Medians of interleaved `bsn bench conv --json` and `torch_conv_peer.py --json`
passes, side by side.

    for i in 1 2 3; do
      .build/release/bsn bench conv --json > /tmp/bsn_conv_$i.json
      python3 scripts/torch_conv_peer.py --json > /tmp/torch_conv_$i.json
    done
    python3 scripts/compare_conv.py '/tmp/bsn_conv_*.json' '/tmp/torch_conv_*.json'
"""
import glob, json, statistics, sys

bsn = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1]))]
torch = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[2]))]
ceiling = statistics.median(r["sgemm_gflops"] for r in bsn)
print(f"sgemm ceiling per pass: {[round(r['sgemm_gflops'], 1) for r in bsn]}, median {ceiling:.1f} GFLOP/s; "
      f"OpenBLAS core {bsn[0]['blas_core']}; conv algorithm {bsn[0].get('conv_algorithm')}; {len(bsn)} passes")

def key(r): return (r["channels"], r["size"], r["kind"], r["op"])
def medians(runs):
    times = {}
    for run in runs:
        for r in run["rows"]: times.setdefault(key(r), []).append(r["ms"])
    return {k: statistics.median(v) for k, v in times.items()}

mb, mt = medians(bsn), medians(torch)
work = {key(r): r["gflops"] * r["ms"] for r in bsn[0]["rows"]}      # GFLOP·ms
print(f"{'C':<5}{'out':<7}{'conv':<6}{'op':<18}{'bsn ms':>9}{'GFLOP/s':>9}{'of sgemm':>9}{'torch ms':>10}{'GFLOP/s':>9}{'bsn/torch':>10}")
for k in sorted(mb, key=lambda k: (k[0], -k[1], k[2], k[3])):
    if k not in mt: continue
    print(f"{k[0]:<5}{f'{k[1]}x{k[1]}':<7}{k[2]:<6}{k[3]:<18}{mb[k]:>9.3f}{work[k] / mb[k]:>9.1f}{100 * work[k] / mb[k] / ceiling:>8.0f}%"
          f"{mt[k]:>10.3f}{work[k] / mt[k]:>9.1f}{mt[k] / mb[k]:>9.2f}x")
for c in sorted({k[0] for k in mb}):
    for op in ("forward", "forward+backward"):
        ks = [k for k in mb if k[0] == c and k[3] == op and k in mt]
        w, tb, tt = sum(work[k] for k in ks), sum(mb[k] for k in ks), sum(mt[k] for k in ks)
        print(f"C={c:<4} all shapes, {op:<17} bsn {w / tb:6.1f} GFLOP/s ({100 * w / tb / ceiling:3.0f}% of sgemm), "
              f"PyTorch {w / tt:6.1f}: {tt / tb:.2f}x")
