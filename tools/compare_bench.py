#!/usr/bin/env python3
"""Compare two or more CSV files written by `retnet bench --csv` or `retnet bench-model --csv`.

The first file is the baseline. Rows are matched by their shape columns (bench: kernel, B, T, H, K,
V, C; bench-model: model, phase, B, T, or in older files form, B, T, layers, d, heads, vocab). The
table shows each file's time and, for every file after the first, the speedup against the baseline
(baseline time / that file's time: above 1 means faster). Rows found in some files only are flagged,
and a geometric-mean speedup per file ends the output.

    python3 tools/compare_bench.py BASELINE.csv OTHER.csv [MORE.csv ...]
    python3 tools/compare_bench.py --metric min_ms --labels before,after a.csv b.csv
    python3 tools/compare_bench.py --format text --threshold 5 a.csv b.csv
    python3 tools/compare_bench.py --metric gflops a.csv b.csv     # a rate: speedup = file / baseline

Per-run columns such as `commit`, `machine`, `device`, `target` or `weights` are shown above the
table instead of in it; one whose value changes within a file is matched on like a shape column.
Columns a file lacks are left out of the match and named on stderr; other extra columns are
ignored. Lines starting with '#' are comments.
Standard library only; any python3.
"""
import argparse
import csv
import math
import os
import sys

# Columns that say which row it is, in display order. Any of them that every file has is used.
KEY_COLUMNS = ['kernel', 'model', 'phase', 'form', 'dtype', 'B', 'T', 'H', 'K', 'V', 'C', 'layers', 'd', 'heads',
               'value_dim', 'ffn_dim', 'vocab']
# Columns that describe the run rather than the row: shown in the header, matched on only where
# they change within a file.
RUN_COLUMNS = ['commit', 'machine', 'device', 'target', 'weights', 'host', 'date', 'threads', 'tool_version']
# Time columns, in order of preference when --metric is not given.
TIME_COLUMNS = ['median_ms', 'ms', 'min_ms']


class Table(object):
    def __init__(self, path, label):
        self.path = path
        self.label = label
        self.columns = []
        self.rows = []


def read_table(path, label):
    table = Table(path, label)
    try:
        with open(path, newline='') as f:
            lines = [line for line in f if line.strip() and not line.lstrip().startswith('#')]
    except (IOError, OSError) as e:
        raise SystemExit('compare_bench: {}: {}'.format(path, e.strerror or e))
    if not lines:
        raise SystemExit('compare_bench: {}: no header line (empty file?)'.format(path))
    reader = csv.DictReader(lines)
    table.columns = [c.strip() for c in (reader.fieldnames or [])]
    for raw in reader:
        row = {}
        for k, v in raw.items():
            if k is None:  # more cells than header columns
                continue
            row[k.strip()] = (v or '').strip()
        table.rows.append(row)
    return table


def number(text):
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def format_value(x):
    if x is None:
        return '-'
    if x >= 1000:
        return '{:.1f}'.format(x)
    if x >= 1:
        return '{:.3f}'.format(x)
    return '{:.4f}'.format(x)


def kind_of(table):
    if 'kernel' in table.columns:
        return 'retnet bench'
    if 'phase' in table.columns:
        return 'retnet bench-model'
    if 'form' in table.columns:
        return 'retnet bench-model, older columns'
    return 'unknown'


def run_values(table, column):
    seen = []
    for row in table.rows:
        v = row.get(column, '')
        if v and v not in seen:
            seen.append(v)
    return seen


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Compare CSV files of `retnet bench --csv` / `retnet bench-model --csv`; the first is the baseline.')
    parser.add_argument('files', nargs='+', metavar='CSV', help='baseline first, then the files to compare with it')
    parser.add_argument('--metric', help='column to compare: a time (default: median_ms, else ms, else min_ms) or a rate such as gflops or gbps')
    parser.add_argument('--labels', help='comma-separated names for the files (default: the file names)')
    parser.add_argument('--format', choices=['md', 'text', 'csv'], default='md',
                        help='Markdown table (default), aligned plain text, or CSV')
    parser.add_argument('--threshold', type=float, default=0.0, metavar='PCT',
                        help='mark speedups beyond +/-PCT percent with "faster"/"slower" (default 0: no marks)')
    parser.add_argument('--common-only', action='store_true', help='leave out rows that are not in every file')
    args = parser.parse_args(argv)

    if len(args.files) < 2:
        parser.error('expected at least two CSV files (the baseline first), got {}'.format(len(args.files)))
    labels = [os.path.basename(p) for p in args.files]
    if args.labels:
        given = [s.strip() for s in args.labels.split(',')]
        if len(given) != len(args.files):
            parser.error('--labels: expected {} names, got {}'.format(len(args.files), len(given)))
        labels = given
    tables = [read_table(p, l) for p, l in zip(args.files, labels)]

    # The time column: the one asked for, else the first preferred one that every file has.
    metric = args.metric
    if metric is None:
        for c in TIME_COLUMNS:
            if all(c in t.columns for t in tables):
                metric = c
                break
        if metric is None:
            raise SystemExit('compare_bench: no time column common to every file (looked for {}); columns: {}'.format(
                ', '.join(TIME_COLUMNS), '; '.join('{}: {}'.format(t.label, ','.join(t.columns)) for t in tables)))
    for t in tables:
        if metric not in t.columns:
            raise SystemExit('compare_bench: {}: no column "{}" (it has: {})'.format(t.path, metric, ', '.join(t.columns)))

    # A time (median_ms, min_ms, ms: lower is better) or a rate (gflops, gbps: higher is better).
    is_time = metric == 'ms' or metric.endswith('_ms')
    unit = 'ms' if is_time else metric

    # bench and bench-model files have different row kinds: refuse to mix them.
    kinds = [kind_of(t) for t in tables]
    if len(set(kinds)) > 1:
        raise SystemExit('compare_bench: the files hold different kinds of rows: {}'.format(
            ', '.join('{} ({})'.format(t.label, k) for t, k in zip(tables, kinds))))

    present = [c for c in KEY_COLUMNS if any(c in t.columns for t in tables)]
    keys = [c for c in present if all(c in t.columns for t in tables)]
    # A run column whose value changes within a file (two devices in one CSV, say) tells rows apart.
    varying = [c for c in RUN_COLUMNS if all(c in t.columns for t in tables) and
               any(len(run_values(t, c)) > 1 for t in tables)]
    keys = varying + keys
    for c in present:
        if c not in keys:
            missing = [t.label for t in tables if c not in t.columns]
            sys.stderr.write('compare_bench: column "{}" is missing from {}: rows are matched without it\n'.format(
                c, ', '.join(missing)))
    if not keys:
        raise SystemExit('compare_bench: no shape column common to every file (looked for {})'.format(', '.join(KEY_COLUMNS)))

    # Rows by key; a key repeated within a file (the same shape timed twice) is matched by occurrence.
    order = []
    values = []
    duplicates = 0
    for t in tables:
        found = {}
        counts = {}
        for row in t.rows:
            base = tuple(row.get(c, '') for c in keys)
            counts[base] = counts.get(base, 0) + 1
            key = base + (counts[base],)
            if counts[base] > 1:
                duplicates += 1
            found[key] = number(row.get(metric))
            if key not in order:
                order.append(key)
        values.append(found)
    if duplicates:
        sys.stderr.write('compare_bench: {} row(s) repeat a shape within a file; repeats are matched in order '
                         '(marked #2, #3, ...)\n'.format(duplicates))

    # Header: each file, with its run columns (commit, target, ...) where it has them.
    out = sys.stdout
    run_cols = [c for c in RUN_COLUMNS if any(c in t.columns for t in tables) and c not in keys]
    if is_time:
        out.write('metric: {} (ms); speedup = [0] / file: above 1 is faster than the baseline\n'.format(metric))
    else:
        out.write('metric: {} (a rate); speedup = file / [0]: above 1 is faster than the baseline\n'.format(metric))
    for i, t in enumerate(tables):
        extra = []
        for c in run_cols:
            vals = run_values(t, c)
            if vals:
                extra.append('{} {}'.format(c, ', '.join(vals[:4]) + (', ...' if len(vals) > 4 else '')))
        out.write('  [{}] {}{}{}\n'.format(i, t.label, ' (baseline)' if i == 0 else '',
                                           ': ' + '; '.join(extra) if extra else ''))
    out.write('\n')

    header = list(keys)
    for i in range(len(labels)):
        header.append('[{}] {}'.format(i, unit))
        if i > 0:
            header.append('speedup [{}]'.format(i))
    header.append('note')

    body = []
    only_counts = [0] * len(tables)
    ratios = [[] for _ in tables]
    for key in order:
        here = [key in v for v in values]
        if args.common_only and not all(here):
            continue
        cells = list(key[:-1])
        if key[-1] > 1:
            cells[0] = '{} #{}'.format(cells[0], key[-1])
        base = values[0].get(key) if here[0] else None
        marks = []
        for i, v in enumerate(values):
            x = v.get(key) if here[i] else None
            cells.append(format_value(x))
            if i == 0:
                continue
            if base is not None and x is not None and x > 0 and base > 0:
                r = base / x if is_time else x / base
                ratios[i].append(r)
                cells.append('{:.2f}'.format(r))
                if args.threshold > 0:
                    if r > 1 + args.threshold / 100.0:
                        marks.append('faster in [{}]'.format(i))
                    elif r < 1 / (1 + args.threshold / 100.0):
                        marks.append('slower in [{}]'.format(i))
            else:
                cells.append('-')
        if not all(here):
            in_files = [str(i) for i, h in enumerate(here) if h]
            marks.insert(0, 'only in [{}]'.format(','.join(in_files)))
            if sum(here) == 1:
                only_counts[here.index(True)] += 1
        cells.append('; '.join(marks))
        body.append(cells)

    if not any(row[-1] for row in body):  # no notes at all: drop the column
        header.pop()
        body = [row[:-1] for row in body]
    numeric = set(range(len(keys), len(header)))
    if 'note' in header:
        numeric.discard(len(header) - 1)
    for c in ('B', 'T', 'H', 'K', 'V', 'C', 'layers', 'd', 'heads', 'value_dim', 'ffn_dim', 'vocab'):
        if c in keys:
            numeric.add(keys.index(c))
    write_table(out, header, body, numeric, args.format)

    out.write('\n')
    for i in range(1, len(tables)):
        r = ratios[i]
        if r:
            geo = math.exp(sum(math.log(x) for x in r) / len(r))
            out.write('[{}] {}: {} row(s) in common with the baseline, speedup geometric mean {:.3f}, '
                      'range {:.2f}-{:.2f}\n'.format(i, labels[i], len(r), geo, min(r), max(r)))
        else:
            out.write('[{}] {}: no row in common with the baseline\n'.format(i, labels[i]))
    for i, n in enumerate(only_counts):
        if n:
            out.write('{} row(s) only in [{}] {}\n'.format(n, i, labels[i]))
    return 0


def write_table(out, header, body, numeric, fmt):
    if fmt == 'csv':
        w = csv.writer(out, lineterminator='\n')
        w.writerow(header)
        w.writerows(body)
        return
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]

    def line(cells):
        parts = []
        for i, c in enumerate(cells):
            parts.append(c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]))
        if fmt == 'md':
            return '| ' + ' | '.join(parts) + ' |\n'
        return '  '.join(parts).rstrip() + '\n'

    out.write(line(header))
    if fmt == 'md':
        out.write('|' + '|'.join((('-' * (widths[i] + 1)) + ':') if i in numeric else ('-' * (widths[i] + 2))
                                 for i in range(len(header))) + '|\n')
    else:
        out.write('  '.join('-' * w for w in widths) + '\n')
    for row in body:
        out.write(line(row))


if __name__ == '__main__':
    sys.exit(main())
