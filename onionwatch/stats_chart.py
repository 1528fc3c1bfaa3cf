"""The onion-service counts over time as a PNG (matplotlib, no display needed)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

SERIES = ("known", "alive", "new", "gone")


def _dates(rows: Sequence[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(r["start"].replace("Z", "+00:00")) for r in rows]


def render(rows: Sequence[dict[str, Any]], path: str | Path, *, interval: str, title: str | None = None) -> Path:
    """Draw known/alive as lines and new/gone as bars per interval; with per-category rows
    (``category`` set), one colour per category, alive solid and known dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=100)
    categories = list(dict.fromkeys(r.get("category") for r in rows))
    if categories == [None]:
        x = _dates(rows)
        width = (x[1] - x[0]) * 0.35 if len(x) > 1 else None
        ax.plot(x, [r["known"] for r in rows], marker="o", color="tab:blue", label="known")
        ax.plot(x, [r["alive"] for r in rows], marker="o", color="tab:orange", label="alive (≥1 successful check)")
        bar = {"width": width} if width else {}
        ax.bar(x, [r["new"] for r in rows], alpha=0.4, color="tab:green", label="new (first seen)", align="edge", **bar)
        ax.bar(x, [-r["gone"] for r in rows], alpha=0.4, color="tab:red", label="gone (drawn below zero)", align="edge", **bar)
        ax.axhline(0, color="grey", linewidth=0.8)
    else:
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, cat in enumerate(categories):
            sub = [r for r in rows if r.get("category") == cat]
            x, colour = _dates(sub), colours[i % len(colours)]
            ax.plot(x, [r["alive"] for r in sub], marker="o", color=colour, label=f"{cat}: alive")
            ax.plot(x, [r["known"] for r in sub], linestyle="--", color=colour, label=f"{cat}: known")
    ax.set_title(title or f"Onion services per {interval}")
    ax.set_xlabel(f"{interval} starting (UTC)")
    ax.set_ylabel("onion services")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
