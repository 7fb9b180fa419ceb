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


def main():
    ours, anchors = load(sys.argv[1]), load(sys.argv[2])
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
        if r['kernel'] == 'decode_step':
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

    print('\n| decode step B H (K=V=128) | ours µs | ours GB/s | % of copy | fla fused_recurrent µs (Python) '
          '| torch step µs | ratio fla / ours |')
    print('|---|---|---|---|---|---|---|')
    for r in ours:
        if r['kernel'] != 'decode_step':
            continue
        B, H = int(r['B']), int(r['H'])
        us, gbps = float(r['median_ms']) * 1e3, float(r['gbps'])
        fla = [float(a['ms']) * 1e3 for a in anchors if a['kind'] == 'decode' and a['name'].startswith('fla')
               and int(a['B']) == B and int(a['H']) == H]
        tst = [float(a['ms']) * 1e3 for a in anchors if a['kind'] == 'decode' and a['name'] == 'torch step'
               and int(a['B']) == B and int(a['H']) == H]
        f = f'{fla[0]:.1f}' if fla else '–'
        t = f'{tst[0]:.1f}' if tst else '–'
        ratio = f'{fla[0] / us:.2f}' if fla else '–'
        print(f'| {B} {H} | {us:.1f} | {gbps:.0f} | {100 * gbps / copy_gbps:.0f}% | {f} | {t} | {ratio} |')


if __name__ == '__main__':
    main()
