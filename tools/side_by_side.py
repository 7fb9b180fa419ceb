#!/usr/bin/env python3
"""Puts `retnet bench --device cuda --csv` rows beside tools/gpu_anchors.py's anchors.csv from the same
run: one Markdown table for the sequence forms, one for the decode step, each row with the ratio
anchor time / our time (above 1: we are faster) and our fraction of the machine's ceilings.

Usage: side_by_side.py BENCH_CSV ANCHORS_CSV
"""
import csv
import sys


def load(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def main(bench_csv=None, anchors_csv=None):
    ours, anchors = load(bench_csv or sys.argv[1]), load(anchors_csv or sys.argv[2])
    ceiling = {r['name']: float(r['value']) for r in anchors if r['kind'] == 'ceiling'}
    copy_gbps, fma_tflops = ceiling.get('device copy', float('nan')), ceiling.get('fp32 matmul (no tf32)', float('nan'))
    print(f'Ceilings measured in this run: device copy {copy_gbps:.0f} GB/s, fp32 matmul {fma_tflops:.1f} TFLOP/s\n')

    def anchor_ms(name, B, T, H, K, V, dtype='float32'):
        for r in anchors:
            if (r['kind'] == 'sequence' and r['name'] == name and r['dtype'] == dtype and r['ms'] and
                    (int(r['B']), int(r['T']), int(r['H']), int(r['K']), int(r['V'])) == (B, T, H, K, V)):
                return float(r['ms']), r.get('rel_err', '')
        return None, ''

    print('| ours | B T H K V | ours ms | ours TFLOP/s (credited) | % of fp32 FMA | fla chunk ms | fla parallel ms '
          '| fla fused_recurrent ms | torch parallel ms | fla chunk / ours | fla parallel / ours '
          '| fla fused_recurrent / ours | fla chunk rel. err |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for r in ours:
        if r['kernel'].startswith('decode'):
            continue
        B, T, H, K, V = (int(r[c]) for c in 'BTHKV')
        ms, tflops = float(r['median_ms']), float(r['gflops']) / 1e3
        chunk, err = anchor_ms('fla chunk', B, T, H, K, V)
        par, _ = anchor_ms('fla parallel', B, T, H, K, V)
        tp, _ = anchor_ms('torch parallel', B, T, H, K, V)
        fr, _ = anchor_ms('fla fused_recurrent', B, T, H, K, V)
        fmt = lambda x: f'{x:.3f}' if x is not None else '–'
        ratio = lambda x: f'{x / ms:.3f}' if x is not None else '–'
        err_s = f'{float(err):.1e}' if err else '–'
        print(f"| {r['kernel']} | {B} {T} {H} {K} {V} | {ms:.3f} | {tflops:.2f} | {100 * tflops / fma_tflops:.1f}% "
              f"| {fmt(chunk)} | {fmt(par)} | {fmt(fr)} | {fmt(tp)} | {ratio(chunk)} | {ratio(par)} | {ratio(fr)} | {err_s} |")

    print('\n| decode step B H (K=V=128) | ours µs (synchronised) | ours µs (queued) | ours GB/s | % of copy '
          '| fla fused_recurrent µs (Python) | torch step µs | fla / ours | torch / ours |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in ours:
        if r['kernel'] != 'decode_step':
            continue
        B, H = int(r['B']), int(r['H'])
        us, gbps = float(r['median_ms']) * 1e3, float(r['gbps'])
        queued = [float(q['median_ms']) * 1e3 for q in ours if q['kernel'] == 'decode_queue'
                  and int(q['B']) == B and int(q['H']) == H]
        fla = [float(a['ms']) * 1e3 for a in anchors if a['kind'] == 'decode' and a['name'].startswith('fla')
               and int(a['B']) == B and int(a['H']) == H]
        tst = [float(a['ms']) * 1e3 for a in anchors if a['kind'] == 'decode' and a['name'] == 'torch step'
               and int(a['B']) == B and int(a['H']) == H]
        cell = lambda xs: f'{xs[0]:.1f}' if xs else '–'
        ratio = lambda xs: f'{xs[0] / us:.2f}' if xs else '–'
        print(f'| {B} {H} | {us:.1f} | {cell(queued)} | {gbps:.0f} | {100 * gbps / copy_gbps:.0f}% | {cell(fla)} '
              f'| {cell(tst)} | {ratio(fla)} | {ratio(tst)} |')

    # The bf16 gap: fla on bf16 tensor cores against our fastest fp32 form at the same shape.
    print('\n| bf16 gap: B T H K V | fla chunk bf16 ms | fla parallel bf16 ms | our best fp32 ms (form) | ours / fla chunk bf16 |')
    print('|---|---|---|---|---|')
    for a in anchors:
        if a['kind'] != 'sequence' or a['dtype'] != 'bfloat16' or a['name'] != 'fla chunk' or not a['ms']:
            continue
        shape = tuple(int(a[c]) for c in 'BTHKV')
        mine = [(float(r['median_ms']), r['kernel']) for r in ours if not r['kernel'].startswith('decode')
                and tuple(int(r[c]) for c in 'BTHKV') == shape]
        par, _ = anchor_ms('fla parallel', *shape, dtype='bfloat16')
        if not mine:
            continue
        best = min(mine)
        print(f"| {' '.join(map(str, shape))} | {float(a['ms']):.3f} | {'–' if par is None else f'{par:.3f}'} "
              f"| {best[0]:.3f} ({best[1]}) | {best[0] / float(a['ms']):.1f}× slower |")

if __name__ == '__main__':
    main()
