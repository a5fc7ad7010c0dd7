#!/usr/bin/env python3
"""Runs an ONNX model written by `bsn export onnx` in ONNX Runtime and compares
its logits with bsn's on the same images. Used by Tests/EndToEnd/ONNXTests.swift;
the product itself has no Python.

    onnx_check.py MODEL.onnx INPUT.f32 N,C,H,W BSN_LOGITS.f32 classification|segmentation

INPUT.f32 holds the normalised images (NCHW) and BSN_LOGITS.f32 bsn's logits
(N, classes) or (N, H, W, classes), both little-endian float32. Prints one
JSON line; exits 0 when they agree: classification within 1e-4 of the
largest logit; segmentation with every pixel's argmax agreeing on at least
99.9% of the pixels (and the same tolerance reported).
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime


def main():
    model_path, input_path, shape, logits_path, task = sys.argv[1:6]
    n, c, h, w = (int(v) for v in shape.split(","))
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    images = np.fromfile(input_path, dtype="<f4").reshape(n, c, h, w)
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    (theirs,) = session.run(["logits"], {"image": images})
    ours = np.fromfile(logits_path, dtype="<f4")
    if task == "segmentation":
        ours = ours.reshape(n, h, w, -1).transpose(0, 3, 1, 2)      # bsn computes NHWC
    else:
        ours = ours.reshape(n, -1)
    report = {
        "model": model_path,
        "nodes": len(model.graph.node),
        "opset": model.opset_import[0].version,
        "images": n,
        "shape": list(theirs.shape),
        "max_abs_difference": float(np.abs(theirs - ours).max()),
        "largest_logit": float(np.abs(ours).max()),
    }
    report["relative_difference"] = report["max_abs_difference"] / max(report["largest_logit"], 1e-30)
    if theirs.shape != ours.shape:
        report["error"] = f"shapes differ: ONNX Runtime {list(theirs.shape)}, bsn {list(ours.shape)}"
        ok = False
    elif task == "segmentation":
        agree = float((theirs.argmax(axis=1) == ours.argmax(axis=1)).mean())
        report["argmax_agreement"] = agree
        ok = agree >= 0.999
    else:
        report["argmax_agreement"] = float((theirs.argmax(axis=1) == ours.argmax(axis=1)).mean())
        ok = report["relative_difference"] <= 1e-4
    report["ok"] = ok
    print(json.dumps(report))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
