#!/usr/bin/env python3
"""Issue 7's benchmark, in one command: our kernels beside the anchors and the machine's ceilings,
measured in the same run, printed as Markdown tables with ratios and fractions of the ceilings.
A benchmark, not a test.

  --device cpu   (the dev/CI machine; Debian's interpreter with python3-torch and python3-numpy)
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/bench_side_by_side.py --device cpu
      `retnet bench` against PyTorch 1.13 running docs/SEMANTICS.md's formulas, OpenBLAS sgemm and a
      256 MB copy (tools/cpu_side_by_side.py).
  --device cuda  (the GPU machine, after scripts/gpu_bundle.sh here; fla in an ignored folder)
      python3 tools/bench_side_by_side.py --device cuda --retnet .device/bin/retnet --fla-dir .anchors
      `retnet bench --device cuda` (all docs/ANCHORS.md shapes, the decode step synchronised and queued),
      then fla and plain PyTorch on the same shapes, the device copy and fp32 matmul ceilings
      (tools/gpu_anchors.py), then the tables (tools/side_by_side.py). CSVs go to --out.
"""
import argparse
import os
import subprocess
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)


def run_cuda(args):
    os.makedirs(args.out, exist_ok=True)
    bench_csv = os.path.join(args.out, 'bench_cuda.csv')
    subprocess.run([args.retnet, 'bench', '--device', 'cuda', '--csv', bench_csv], check=True)
    subprocess.run([sys.executable, os.path.join(TOOLS, 'gpu_anchors.py'), '--fla-dir', args.fla_dir,
                    '--out', args.out], check=True)
    import side_by_side
    print()
    side_by_side.main(bench_csv, os.path.join(args.out, 'anchors.csv'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], required=True)
    parser.add_argument('--retnet', default='build/apps/retnet', help='the retnet binary')
    parser.add_argument('--fla-dir', default='.anchors', help='cuda: folder holding a copy of fla/')
    parser.add_argument('--out', default=os.environ.get('OUT', 'bench-out'), help='cuda: where the CSVs go')
    args = parser.parse_args()
    if args.device == 'cuda':
        run_cuda(args)
    else:
        import cpu_side_by_side
        cpu_side_by_side.main(args.retnet)


if __name__ == '__main__':
    main()
