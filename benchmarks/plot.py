"""The plot of the latency race: throughput against concurrency, for store and retrieve, per client."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_latency(results: dict[str, dict], opts: Any, target: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=False)
    for ax, operation in zip(axes, ("store", "retrieve"), strict=True):
        for rtt, style in ((0, "-"), (opts.latency_ms, "--")):
            clients: dict[str, list[tuple[int, float]]] = {}
            for n in opts.concurrency:
                for client, r in results.get(f"{operation} {rtt:g} ms x{n}", {}).items():
                    clients.setdefault(client, []).append(
                        (n, r["bytes"] / r["wall"] / 1e6 if r["wall"] else 0)
                    )
            for client, points in clients.items():
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, marker="o", label=f"{client}, {rtt:g} ms")
        ax.set_title(f"{operation} (Orthanc, {opts.latency_size_mib} MiB)")
        ax.set_xlabel("concurrency (requests or series at once)")
        ax.set_ylabel("MB/s")
        ax.set_xscale("log", base=2)
        ax.set_xticks(opts.concurrency, [str(n) for n in opts.concurrency])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    return target


def plot_scale(results: dict[str, dict[str, dict[str, dict]]], target: Path) -> Path:
    """The scaling benchmark: per-instance wall time, requests, CPU and peak RSS against N, per shape and
    operation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("wall_ms", "wall ms per instance"),
        ("requests_per_instance", "HTTP requests per instance"),
        ("cpu_ms", "client CPU ms per instance"),
        ("rss_peak", "client peak RSS (MiB)"),
    )
    figure, axes = plt.subplots(2, 2, figsize=(12, 8))
    styles = {"one study": "-", "1-instance studies": "--"}
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        for shape, by_count in results.items():
            lines: dict[str, list[tuple[int, float]]] = {}
            for count, rows in by_count.items():
                for label, r in rows.items():
                    lines.setdefault(label, []).append((int(count), r[key]))
            for label, points in lines.items():
                xs, ys = zip(*sorted(points), strict=True)
                ax.plot(xs, ys, styles.get(shape, ":"), marker="o", label=f"{label}, {shape}")
        ax.set_title(title)
        ax.set_xlabel("N instances")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=7)
    figure.tight_layout(rect=(0, 0.16, 1, 1))
    figure.savefig(target, dpi=100)
    return target
