"""The onion-service counts chart, one picture for the CLI and the web app.

`series_of` turns stats rows into labelled series once; `svg` draws them as a small
server-side SVG (no JavaScript, no inline CSS, so it renders under the web app's
Content-Security-Policy, inline or as a standalone .svg) and `png` draws the same series
with matplotlib for `onionwatch stats onions --format png` (no display needed).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any, Sequence

from markupsafe import Markup, escape

METRICS = ("known", "alive", "new", "gone")

PALETTE = ("#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
DASHES = ("", "8 4", "2 3", "10 3 2 3")  # overlapping series stay tellable apart
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 60, 180, 40, 60
LABEL_WIDTH = 80  # px per x-axis label (a date at 11 px)


def _ticks(top: float, count: int = 5) -> list[float]:
    """Round y-axis ticks from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks, v = [], 0.0
    while v < top + step:
        ticks.append(v)
        v += step
    return ticks


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _wrap(text: str, width: int = 150) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


def line_chart(labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str, x_label: str,
               y_label: str, width: int = 900, height: int = 360,
               right: dict[str, Sequence[float | None]] | None = None, right_label: str = "",
               caption: Sequence[str] = ()) -> Markup:
    """An SVG document (safe Markup) with axes, labels, a legend and one line per series;
    ``right`` series get their own scale on a second y-axis (gaps where a value is None),
    ``caption`` lines are printed under the chart (the method, for a cited figure)."""
    caption_lines = [wrapped for c in caption for wrapped in _wrap(c)]
    extra = 80 if right else 0  # room for the second axis between the plot and the legend
    width += extra
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT - extra
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    chart_h = height
    height += 15 * len(caption_lines) + (10 if caption_lines else 0)
    top = max([float(v) for vals in series.values() for v in vals] or [0.0])
    ticks = _ticks(top)
    y_max = ticks[-1]
    n = len(labels)

    def x(i: int) -> float:
        return MARGIN_LEFT + (plot_w * (i / (n - 1)) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return MARGIN_TOP + plot_h - plot_h * (float(v) / y_max)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" role="img" aria-label="{escape(title)}" class="chart">',
           f"<title>{escape(title)}</title>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{width / 2 - MARGIN_RIGHT / 2:.0f}" y="22" text-anchor="middle" font-size="15" '
           f'font-weight="bold" fill="#222">{escape(title)}</text>']
    for t in ticks:
        ty = y(t)
        out.append(f'<line x1="{MARGIN_LEFT}" y1="{ty:.1f}" x2="{MARGIN_LEFT + plot_w}" y2="{ty:.1f}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{MARGIN_LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" fill="#444">{_num(t)}</text>')
    out.append(f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP + plot_h}" x2="{MARGIN_LEFT + plot_w}" '
               f'y2="{MARGIN_TOP + plot_h}" stroke="#333"/>')
    out.append(f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{MARGIN_TOP + plot_h}" stroke="#333"/>')
    every = max(1, math.ceil(n / max(1, plot_w // LABEL_WIDTH)))
    for i, label in enumerate(labels):
        if (n - 1 - i) % every == 0:  # always label the latest interval
            out.append(f'<text x="{x(i):.1f}" y="{MARGIN_TOP + plot_h + 16}" text-anchor="middle" font-size="11" '
                       f'fill="#444">{escape(label)}</text>')
    out.append(f'<text x="{MARGIN_LEFT + plot_w / 2:.0f}" y="{chart_h - 12}" text-anchor="middle" font-size="12" '
               f'fill="#222">{escape(x_label)}</text>')
    out.append(f'<text x="14" y="{MARGIN_TOP + plot_h / 2:.0f}" text-anchor="middle" font-size="12" fill="#222" '
               f'transform="rotate(-90 14 {MARGIN_TOP + plot_h / 2:.0f})">{escape(y_label)}</text>')
    for k, (name, values) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        dash = DASHES[k % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        out.append(f'<polyline class="series" data-series="{escape(name)}" fill="none" stroke="{color}" '
                   f'stroke-width="2"{dash_attr} points="{points}"/>')
        for i, v in enumerate(values):
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"/>')
        ly = MARGIN_TOP + 10 + 18 * k
        lx = MARGIN_LEFT + plot_w + 14 + extra
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{color}" stroke-width="3"{dash_attr}/>')
        out.append(f'<text x="{lx + 24}" y="{ly + 4}" font-size="12" fill="#222">{escape(name)}</text>')
    if right:
        out += _right_axis(right, right_label, x, plot_w, plot_h, len(series), extra)
    base = chart_h + 8
    for k, line in enumerate(caption_lines):
        out.append(f'<text class="caption" x="10" y="{base + 15 * k}" font-size="10.5" fill="#333">'
                   f'{escape(line)}</text>')
    out.append("</svg>")
    return Markup("\n".join(out))


RIGHT_COLOURS = ("#555555", "#b8860b")


def _right_axis(right: dict[str, Sequence[float | None]], label: str, x: Any, plot_w: float,
                plot_h: float, offset: int, extra: int) -> list[str]:
    """A second y-axis at the plot's right edge with its own ticks (another scale)."""
    top = max([float(v) for vals in right.values() for v in vals if v is not None] or [0.0])
    ticks = _ticks(top)
    y_max = ticks[-1]
    edge = MARGIN_LEFT + plot_w

    def y(v: float) -> float:
        return MARGIN_TOP + plot_h - plot_h * (float(v) / y_max)

    out = [f'<line x1="{edge}" y1="{MARGIN_TOP}" x2="{edge}" y2="{MARGIN_TOP + plot_h}" stroke="#777"/>']
    for t in ticks:
        out.append(f'<text x="{edge + 4}" y="{y(t) + 4:.1f}" font-size="10" fill="#555">{_num(t)}</text>')
    out.append(f'<text x="{edge + 58}" y="{MARGIN_TOP + plot_h / 2:.0f}" text-anchor="middle" font-size="11" '
               f'fill="#555" transform="rotate(90 {edge + 58} {MARGIN_TOP + plot_h / 2:.0f})">{escape(label)}</text>')
    for k, (name, values) in enumerate(right.items()):
        color = RIGHT_COLOURS[k % len(RIGHT_COLOURS)]
        segments: list[list[str]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                segments.append([])
            else:
                segments[-1].append(f"{x(i):.1f},{y(v):.1f}")
                out.append(f'<rect x="{x(i) - 2.5:.1f}" y="{y(v) - 2.5:.1f}" width="5" height="5" fill="{color}"/>')
        for seg in (s for s in segments if s):
            out.append(f'<polyline class="series right" data-series="{escape(name)}" fill="none" stroke="{color}" '
                       f'stroke-width="2" stroke-dasharray="1 3" points="{" ".join(seg)}"/>')
        ly = MARGIN_TOP + 10 + 18 * (offset + k)
        lx = MARGIN_LEFT + plot_w + 14 + extra
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{color}" stroke-width="3" '
                   f'stroke-dasharray="1 3"/>')
        out.append(f'<text x="{lx + 24}" y="{ly + 4}" font-size="12" fill="#222">{escape(name)}</text>')
    return out


def series_of(rows: Sequence[dict[str, Any]], by_category: bool) -> tuple[list[str], dict[str, list[float]]]:
    """Chart labels (interval start dates) and one series per metric; split by category,
    one per metric and category except `known` (a category's known count is not a new
    fact next to its alive/new/gone, and 12 lines stop being readable)."""
    labels = sorted({str(r["start"])[:10] for r in rows})
    pos = {label: i for i, label in enumerate(labels)}
    series: dict[str, list[float]] = {}
    for r in rows:
        for m in METRICS:
            if m not in r or (by_category and m == "known"):
                continue
            name = f"{m} ({r['category']})" if by_category and r.get("category") else m
            series.setdefault(name, [0.0] * len(labels))[pos[str(r["start"])[:10]]] = float(r[m] or 0)
    return labels, series


def title(interval: str, by_category: bool) -> str:
    return f"Onion services per {interval}" + (" by category" if by_category else "")


def svg(rows: Sequence[dict[str, Any]], *, interval: str, by_category: bool) -> Markup:
    """The counts chart as an SVG document (safe Markup)."""
    labels, series = series_of(rows, by_category)
    return line_chart(labels, series, title=title(interval, by_category), x_label=interval, y_label="onion services")


def png(rows: Sequence[dict[str, Any]], path: str | Path, *, interval: str, by_category: bool) -> Path:
    """The same chart as `svg` (same series, colours and dashes) written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    labels, series = series_of(rows, by_category)
    x = [date.fromisoformat(label) for label in labels]
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=100)
    for k, (name, values) in enumerate(series.items()):
        dash = DASHES[k % len(DASHES)]
        style = {"dashes": [float(d) for d in dash.split()]} if dash else {}
        ax.plot(x, values, marker="o", markersize=4, linewidth=2, color=PALETTE[k % len(PALETTE)], label=name,
                **style)
    ax.set_title(title(interval, by_category))
    ax.set_xlabel(f"{interval} starting (UTC)")
    ax.set_ylabel("onion services")
    ax.set_xticks(x[::max(1, math.ceil(len(x) / 12))])  # interval starts, as the SVG labels them
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


# -- counts by address or site, with Tor Metrics beside them (onionwatch.counts results) ------

COUNT_METRICS = ("known", "alive", "new", "gone", "seized", "clones")


def counts_series(result: dict[str, Any]) -> tuple[list[str], dict[str, list[float]], dict[str, list[float | None]]]:
    """Labels, left-axis series (our counts) and right-axis series (Tor Metrics) of a
    ``onionwatch.counts.onion_stats`` result; split rows leave out ``known`` as ``series_of`` does."""
    rows = result["rows"]
    split = bool(result.get("by"))
    labels = sorted({str(r["start"])[:10] for r in rows})
    pos = {label: i for i, label in enumerate(labels)}
    left: dict[str, list[float]] = {}
    tor: list[float | None] = [None] * len(labels)
    for r in rows:
        i = pos[str(r["start"])[:10]]
        for m in COUNT_METRICS:
            if m not in r or (split and m in ("known", "clones")):
                continue
            name = f"{m} ({r['category']})" if split and r.get("category") else m
            left.setdefault(name, [0.0] * len(labels))[i] = float(r[m] or 0)
        if r.get("tor_onions") is not None:
            tor[i] = float(r["tor_onions"])
    right = {}
    if any(v is not None for v in tor):
        series = ", ".join(sorted({s["series"] for s in result.get("tor_sources") or []})) or "v3"
        right[f"Tor Metrics {series} estimate"] = tor
    return labels, left, right


def counts_title(result: dict[str, Any]) -> str:
    by = f" by {result['by']}" if result.get("by") else ""
    return f"Onion {'sites' if result.get('unit') == 'sites' else 'addresses'} per {result['interval']}{by}"


def counts_svg(result: dict[str, Any]) -> Markup:
    """The counts chart (our counts on the left axis, Tor Metrics on the right) with its caption."""
    labels, left, right = counts_series(result)
    return line_chart(labels, left, title=counts_title(result), x_label=result["interval"],
                      y_label="onion sites" if result.get("unit") == "sites" else "onion addresses",
                      right=right, right_label="Tor Metrics: unique .onion addresses", caption=result["caption"])


def counts_svg_file(result: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(str(counts_svg(result)), encoding="utf-8")
    return path


def counts_png(result: dict[str, Any], path: str | Path) -> Path:
    """The same chart as `counts_svg`, drawn with matplotlib: Tor Metrics on a second axis
    (twinx), the caption under the plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    labels, left, right = counts_series(result)
    x = [date.fromisoformat(label) for label in labels]
    caption = [wrapped for c in result["caption"] for wrapped in _wrap(c, 170)]
    fig, ax = plt.subplots(figsize=(11, 5.5 + 0.2 * len(caption)), dpi=100)
    for k, (name, values) in enumerate(left.items()):
        dash = DASHES[k % len(DASHES)]
        style = {"dashes": [float(d) for d in dash.split()]} if dash else {}
        ax.plot(x, values, marker="o", markersize=4, linewidth=2, color=PALETTE[k % len(PALETTE)], label=name,
                **style)
    handles, names = ax.get_legend_handles_labels()
    if right:
        ax2 = ax.twinx()
        for k, (name, values) in enumerate(right.items()):
            pts = [(xi, v) for xi, v in zip(x, values, strict=True) if v is not None]
            ax2.plot([p[0] for p in pts], [p[1] for p in pts], marker="s", markersize=4, linestyle=":",
                     linewidth=2, color=RIGHT_COLOURS[k % len(RIGHT_COLOURS)], label=name)
        ax2.set_ylabel("Tor Metrics: unique .onion addresses")
        ax2.set_ylim(bottom=0)
        h2, n2 = ax2.get_legend_handles_labels()
        handles, names = handles + h2, names + n2
    ax.set_title(counts_title(result))
    ax.set_xlabel(f"{result['interval']} starting (UTC)")
    ax.set_ylabel("onion sites" if result.get("unit") == "sites" else "onion addresses")
    ax.set_xticks(x[::max(1, math.ceil(len(x) / 12))])
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.14 if right else 1.01, 1.0), fontsize="small")
    fig.autofmt_xdate()
    fig.text(0.01, 0.01, "\n".join(caption), fontsize=7.5, va="bottom", ha="left", wrap=False)
    fig.tight_layout(rect=(0, 0.03 * len(caption) / 2 + 0.04, 1, 1))
    path = Path(path)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
