#!/usr/bin/env python3
"""Raw PyTorch baseline for bench/gpu_check.sh, and the model repository it serves.

Writes a TorchScript ResNet-50 (random weights: torchvision's architecture,
nothing downloaded; the figures are speed, not accuracy) as an adaptd model
folder, then times what a plain PyTorch service would run on the same model,
in the same process conditions adaptd gets:

  predict: a pinned float batch -> GPU -> backbone -> L2-normalised features
           -> one bmm over per-row 5-way heads -> softmax -> CPU, one batch at
           a time (images/s);
  adapt:   a 5-way 5-shot support set (25 images) -> GPU -> features ->
           class prototypes -> CPU (p50 / p90 ms), i.e. PROTOTYPE in raw torch.

Each is run for the eager module and the TorchScript module, in fp32 and
under bf16 autocast, and printed as JSON.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def write_repository(repo, meta_learner, log):
    import torchvision

    model = torchvision.models.resnet50(weights=None)
    model.fc = torch.nn.Identity()
    model.eval()
    folder = os.path.join(repo, "resnet50")
    os.makedirs(folder, exist_ok=True)
    with torch.no_grad():
        traced = torch.jit.trace(model, torch.randn(1, 3, 224, 224))
    traced.save(os.path.join(folder, "backbone.pt"))
    lines = [
        'name: "resnet50"',
        'modality: "image"',
        "input_shape: 3",
        "input_shape: 224",
        "input_shape: 224",
        "preprocessing {",
        "  resize_height: 224",
        "  resize_width: 224",
        "  channels: 3",
        "  mean: 0.485",
        "  mean: 0.456",
        "  mean: 0.406",
        "  std: 0.229",
        "  std: 0.224",
        "  std: 0.225",
        "}",
        "feature_dim: 2048",
        'format: "torchscript"',
        'backbone_file: "backbone.pt"',
    ]
    if meta_learner:
        # It must be made for 2048-wide features; its cost, not its
        # accuracy, is measured.
        shutil.copy(meta_learner, os.path.join(folder, "meta_learner.pt"))
        lines.append('meta_learner_file: "meta_learner.pt"')
    with open(os.path.join(folder, "model.pbtxt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    log(f"wrote {folder}")
    return model


def timed(fn, iters, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()  # Ends with a copy to the CPU, so it has finished.
        times.append(time.perf_counter() - start)
    return times


def measure(model, dtype, batch, iters, warmup, ways=5, shots=5):
    dev = torch.device("cuda")
    autocast = torch.autocast("cuda", dtype=dtype, enabled=dtype is not None)
    heads_w = F.normalize(torch.randn(batch, ways, 2048, device=dev), dim=2)
    heads_b = torch.zeros(batch, ways, device=dev)
    x_predict = torch.randn(batch, 3, 224, 224).pin_memory()
    x_support = torch.randn(ways * shots, 3, 224, 224).pin_memory()
    labels = torch.arange(ways).repeat_interleave(shots).to(dev)

    def predict():
        with torch.inference_mode(), autocast:
            f = F.normalize(model(x_predict.to(dev, non_blocking=True)).float(), dim=1)
            logits = 10 * (torch.bmm(heads_w, f.unsqueeze(2)).squeeze(2) + heads_b)
            return logits.softmax(1).cpu()

    def adapt():
        with torch.inference_mode(), autocast:
            f = F.normalize(model(x_support.to(dev, non_blocking=True)).float(), dim=1)
            protos = torch.zeros(ways, f.shape[1], device=dev).index_add_(0, labels, f)
            return F.normalize(protos, dim=1).cpu()

    p = timed(predict, iters, warmup)
    a = timed(adapt, iters, warmup)
    a_ms = sorted(t * 1e3 for t in a)
    return {
        "predict_images_per_s": batch * len(p) / sum(p),
        "predict_batch_ms_p50": statistics.median(p) * 1e3,
        "adapt_ms_p50": statistics.median(a_ms),
        "adapt_ms_p90": a_ms[int(0.9 * (len(a_ms) - 1))],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repository", required=True, help="model repository to write")
    parser.add_argument("--meta_learner", default="",
                        help="meta_learner.pt to put beside the backbone (optional)")
    parser.add_argument("--batch", type=int, default=64, help="predict batch size")
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    def log(msg):
        print(f"gpu_raw_torch: {msg}", file=sys.stderr, flush=True)

    eager = write_repository(args.repository, args.meta_learner, log)
    if not torch.cuda.is_available():
        log("no CUDA device: repository written, nothing timed")
        print(json.dumps({"device": None}))
        return
    dev = torch.device("cuda")
    eager = eager.to(dev)
    script = torch.jit.load(os.path.join(args.repository, "resnet50", "backbone.pt"),
                            map_location=dev).eval()
    results = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "batch": args.batch,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "runs": {},
    }
    for name, model in (("eager", eager), ("torchscript", script)):
        for precision, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
            key = f"{name}_{precision}"
            results["runs"][key] = measure(model, dtype, args.batch, args.iters, args.warmup)
            log(f"{key}: {results['runs'][key]}")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
