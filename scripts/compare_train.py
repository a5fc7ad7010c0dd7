#!/usr/bin/env python3
"""Medians of interleaved `bsn bench train --json` passes and cnf_peer.py passes
(best of NCHW and channels-last within each pass), and the ratios the
super-network issue asks about.

    for i in 1 2 3; do
      .build/release/bsn bench train --json > /tmp/fb_$i.json
      for c in cnf_c32_b64 cnf_c64_b64 cnf_c128_b32 resnet20_b64; do
        python3 ../shared/bench/cnf_peer.py --config $c --threads 2 --json /tmp/fp_$i.jsonl
        python3 ../shared/bench/cnf_peer.py --config $c --threads 2 --channels-last --json /tmp/fp_$i.jsonl
      done
    done
    python3 scripts/compare_train.py '/tmp/fb_*.json' '/tmp/fp_*.jsonl'
"""
import glob, json, statistics, sys

ours = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1]))]
peer_passes = []
for f in sorted(glob.glob(sys.argv[2])):
    best = {}
    for line in open(f):
        d = json.loads(line)
        b = best.setdefault(d["config"], {"train": 0, "infer": 0, "peak": float("inf")})
        b["train"] = max(b["train"], d["train_img_s"])
        b["infer"] = max(b["infer"], d["infer_img_s"])
        b["peak"] = min(b["peak"], d["peak_rss_mb"])
    peer_passes.append(best)

def med(values): return statistics.median(values) if values else float("nan")
rows = {}
for run in ours:
    for r in run["rows"]:
        k = (r["config"], r["mode"], r["gates_on"])
        rows.setdefault(k, []).append(r)
peer = {c: {m: med([p[c][m] for p in peer_passes if c in p]) for m in ("train", "infer", "peak")}
        for c in set().union(*[p.keys() for p in peer_passes])}

print(f"{len(ours)} passes of bsn, {len(peer_passes)} of the peer (best layout per pass); medians; sgemm ceilings "
      f"{[round(r['sgemm_gflops'], 1) for r in ours]}")
print(f"{'config':<14}{'mode':<11}{'gates':<7}{'modules':>8}{'train':>9}{'infer':>9}{'peak MB':>9} | "
      f"{'peer train':>11}{'infer':>8}{'peak':>7} | {'train x':>8}{'infer x':>8}{'memory':>8}")
for (config, mode, gates), rs in sorted(rows.items()):
    t, i, m = med([r["train_images_per_s"] for r in rs]), med([r["infer_images_per_s"] for r in rs]), med([r["peak_rss_mb"] for r in rs])
    a = med([r["active_modules"] for r in rs])
    p = peer.get(config, {})
    print(f"{config:<14}{mode:<11}{gates:<7}{100 * a:>7.0f}%{t:>9.1f}{i:>9.1f}{m:>9.0f} | "
          f"{p.get('train', float('nan')):>11.1f}{p.get('infer', float('nan')):>8.1f}{p.get('peak', float('nan')):>7.0f} | "
          f"{t / p.get('train', float('nan')):>7.2f}x{i / p.get('infer', float('nan')):>7.2f}x{m / p.get('peak', float('nan')):>7.0%}")
