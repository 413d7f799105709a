"""The report's figures as base64 PNG data URIs, drawn with matplotlib's Agg canvas (no pyplot, no display)."""
from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

__all__ = ["item_plot", "participant_qc_plot", "ratings_plot", "rt_plot"]

PAIN_COLOURS = {"pain": "#c0392b", "neutral": "#2e86c1"}


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _label(name: str) -> str:
    return name.removeprefix("rating_").replace("_", " ")


def ratings_plot(trials: pd.DataFrame, measures: list[str], factors: dict) -> str:
    """Each participant's cell mean (points) with the mean and 95% CI per cell, one panel per rating.

    ``factors`` maps each measure to the design factors of its cells.
    """
    from .descriptives import cell_descriptives, participant_means

    fig = _figure(11, 3.6 * len(measures))
    axes = fig.subplots(len(measures), 1, squeeze=False)[:, 0]
    rng = np.random.default_rng(0)
    for ax, measure in zip(axes, measures):
        cells = [f for f in ("perspective", "group", "stimulus_type") if f in factors[measure]]
        used = trials[trials[f"use_{measure}"]]
        if used.empty:
            ax.set_title(f"{_label(measure)}: no kept answers", fontsize=10)
            continue
        keys = (["pain"] if "pain" in factors[measure] else []) + cells
        if not keys:
            continue
        means = participant_means(used, measure, keys)
        desc = cell_descriptives(used, measure, keys)
        labels = desc[cells].astype(str).agg("\n".join, axis=1) if cells else pd.Series([""] * len(desc))
        order = list(dict.fromkeys(labels))
        xs, ys, colours, centre, mean, lo, hi = [], [], [], [], [], [], []
        for (_, row), label in zip(desc.iterrows(), labels):
            x = order.index(label) + (0.18 if row.get("pain") == "pain" else -0.18)
            mask = np.ones(len(means), bool)
            for k in keys:
                mask &= (means[k] == row[k]).to_numpy()
            pts = means.loc[mask, measure].to_numpy(float)
            xs.append(x + rng.uniform(-0.06, 0.06, len(pts)))
            ys.append(pts)
            colours += [PAIN_COLOURS.get(row.get("pain"), "#555555")] * len(pts)
            centre.append(x)
            mean.append(row["mean"])
            lo.append(row["mean"] - row["ci_low"])
            hi.append(row["ci_high"] - row["mean"])
        ax.scatter(np.concatenate(xs), np.concatenate(ys), s=10, alpha=0.45, c=colours, lw=0)
        ax.errorbar(centre, mean, yerr=[np.nan_to_num(lo), np.nan_to_num(hi)], fmt="o", color="black", ms=5,
                    capsize=3)
        ax.set_xticks(range(len(order)), order, fontsize=8)
        ax.set_ylabel(_label(measure))
        ax.set_title(f"{_label(measure)}: participant means (red pain, blue neutral), mean ± 95% CI", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    return _uri(fig)


def rt_plot(trials: pd.DataFrame, measures: list[str]) -> str:
    """Histograms of the response times of kept trials, on a log axis, one panel per measure."""
    fig = _figure(11, 2.8)
    axes = fig.subplots(1, len(measures), squeeze=False)[0]
    for ax, measure in zip(axes, measures):
        rt = trials.loc[trials[f"use_{measure}"], f"{measure}_rt_s"].dropna()
        rt = rt[rt > 0]
        if len(rt):
            log = np.log10(rt)
            bins = np.linspace(log.min(), log.max(), 40) if log.max() > log.min() else 10
            for level, colour in PAIN_COLOURS.items():
                part = log[trials.loc[rt.index, "pain"] == level]
                ax.hist(part, bins=bins, alpha=0.55, color=colour, label=level, histtype="stepfilled")
            ticks = [t for t in (0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10, 20) if rt.min() / 1.5 <= t <= rt.max() * 1.5]
            ax.set_xticks(np.log10(ticks), [f"{t:g}" for t in ticks])
            ax.legend(fontsize=8)
        ax.set_xlabel("RT (s, log axis)")
        ax.set_title(f"{_label(measure)} RT", fontsize=10)
    return _uri(fig)


def item_plot(trials: pd.DataFrame, measures: list[str]) -> str:
    """Each stimulus's mean rating over participants, sorted, coloured by pain."""
    fig = _figure(11, 2.8 * len(measures))
    axes = fig.subplots(len(measures), 1, squeeze=False)[:, 0]
    for ax, measure in zip(axes, measures):
        used = trials[trials[f"use_{measure}"] & (trials["stimulus_id"].astype(str) != "")]
        items = used.groupby("stimulus_id").agg(mean=(measure, "mean"), pain=("pain", "first")).sort_values("mean")
        colours = [PAIN_COLOURS.get(p, "#555555") for p in items["pain"]]
        ax.scatter(range(len(items)), items["mean"], c=colours, s=14)
        ax.set_xlabel(f"stimuli, sorted by mean rating (n = {len(items)})")
        ax.set_ylabel(_label(measure))
        ax.set_xticks([])
        ax.set_title(f"{_label(measure)}: mean per stimulus (red pain, blue neutral)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    return _uri(fig)


def participant_qc_plot(participants: pd.DataFrame, max_missing: float, min_accuracy: float) -> str:
    """Missing-trial rate (and judgement accuracy, when there is one) per participant with the thresholds."""
    has_acc = participants["accuracy"].notna().any()
    fig = _figure(11, 2.6 * (2 if has_acc else 1))
    axes = fig.subplots(2 if has_acc else 1, 1, squeeze=False)[:, 0]
    x = np.arange(len(participants))
    colours = ["#c0392b" if e else "#7f8c8d" for e in participants["excluded"]]
    axes[0].bar(x, participants["missing_rate"] * 100, color=colours)
    axes[0].axhline(max_missing * 100, color="black", ls="--", lw=1)
    axes[0].set_ylabel("missing trials (%)")
    axes[0].set_title("missing trials per participant (red: excluded; dashed: threshold)", fontsize=10)
    if has_acc:
        axes[1].bar(x, participants["accuracy"] * 100, color=colours)
        axes[1].axhline(min_accuracy * 100, color="black", ls="--", lw=1)
        axes[1].set_ylabel("judgement accuracy (%)")
        axes[1].set_ylim(0, 100)
    small = len(participants) <= 40
    axes[-1].set_xticks(x if small else [], [str(p)[:12] for p in participants["participant"]] if small else [],
                        rotation=90, fontsize=7)
    return _uri(fig)
