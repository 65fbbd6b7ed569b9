"""Turns bench/run's raw measurements into the markdown report: medians, ratios, targets."""
import statistics
import sys
from collections import defaultdict

raw, repeat, peer_repeat, cores = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
runs = defaultdict(list)
order = []
for line in open(raw):
    table, label, *fields = line.split()
    if (table, label) not in runs:
        order.append((table, label))
    wall, cpu, hwm, anon, csv_bytes, gz, rows = fields
    runs[(table, label)].append(
        dict(wall=float(wall), cpu=float(cpu), hwm=int(hwm), anon=int(anon), csv=int(csv_bytes), gz=int(gz), rows=int(rows))
    )


def med(key, field):
    return statistics.median(r[field] for r in runs[key])


def top(key, field):
    return max(r[field] for r in runs[key])


def codec_of(label):
    """'ours-zstd3' -> 'zstd'."""
    return label.split("-", 1)[1].rstrip("0123456789")


print(f"# Export benchmark: median of {repeat} runs ({peer_repeat} for manual, sling and load), {cores} cores\n")
print(
    "| table | what | rows | wall s | × floor | manual ÷ ours | sling ÷ ours | MB/s CSV | rows/s | compressed MB | CPU s "
    "| backend VmHWM MiB | backend private growth MiB |"
)
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for table, label in order:
    key = (table, label)
    wall, cpu = med(key, "wall"), med(key, "cpu")
    rows, csv_bytes = runs[key][0]["rows"], runs[key][0]["csv"]
    gz = med(key, "gz")
    floor = med((table, "floor"), "wall") if (table, "floor") in runs else None
    times_floor = f"{wall / floor:.2f}" if floor and label != "load" else ""
    versus_manual = versus_sling = ""
    if label.startswith("ours"):
        manual = (table, label.replace("ours", "manual"))
        if manual in runs:
            versus_manual = f"{med(manual, 'wall') / wall:.2f}"
        sling = (table, f"sling-{codec_of(label)}")
        if sling in runs:
            versus_sling = f"{med(sling, 'wall') / wall:.2f}"
    backend = label == "floor" or label.startswith("ours")
    hwm = f"{top(key, 'hwm') / 1024:.0f}" if backend else ""
    anon = f"{top(key, 'anon') / 1024:.1f}" if backend else ""
    print(
        f"| {table} | {label} | {rows} | {wall:.2f} | {times_floor} | {versus_manual} | {versus_sling} | {csv_bytes / 1e6 / wall:.0f} "
        f"| {rows / wall:.0f} | {f'{gz / 1e6:.1f}' if gz else ''} | {cpu:.2f} | {hwm} | {anon} |"
    )
print(
    "\n- **floor**: `COPY t TO '/dev/null' CSV` in the server. **ours-CODECN**: `redshift_export(t, compression => CODEC, "
    "CODEC_level => N)` to the local S3 server. **manual-CODECN**: `psql -c '\\copy t TO STDOUT CSV' | gzip -N | aws s3 cp -` "
    "(`zstd -N` for zstd). **sling-CODEC**: `sling run` from the same server to the same S3 server as CSV with its default "
    "level (compare its size with the manual rows to see which level that is: gzip -1 and zstd -3 in the run of 2026-12-07). **load**: `redshift-load load` of one "
    "export into the Redshift emulator."
)
print(
    "- MB/s: CSV bytes as the export writes them, per wall second. CPU s: the backend with the export's threads "
    "(floor, ours); the client processes for manual and sling (the server's share not counted). VmHWM counts the shared "
    "buffers the scan touched; private growth is the peak of RssAnon over its value before the statement (sampled every "
    "10 ms), which is what the export itself holds. The sling ÷ ours column compares with sling's run of the same codec, "
    "whatever its level."
)
