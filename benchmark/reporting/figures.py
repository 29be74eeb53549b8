"""Figures people would rather look at than read, drawn from the records (PNG and PDF)."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from benchmark.harness.record import Record, write_atomic
from benchmark.reporting.leaderboard import task_setting


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for p in paths:  # no creation date in the PDF: regenerating unchanged records leaves the file unchanged
        buffer = io.BytesIO()
        fig.savefig(buffer, format=p.suffix[1:], dpi=120, bbox_inches="tight",
                    metadata={"CreationDate": None} if p.suffix == ".pdf" else None)
        write_atomic(p, buffer.getvalue())
    _plt().close(fig)
    return paths


@dataclass
class Horizon:
    """The memory-horizon figure's data: per model label, the test main scores at each lag; the sequence
    length at each lag; the task version and the score."""

    points: dict[str, dict[int, list[float]]]
    lengths: dict[int, int | None]  # None where the records do not say
    version: str
    main: str

    def tick(self, lag: int) -> str:
        """The lag, and the sequence length where it is not the one most lags have (a longer lag may need
        longer sequences: such a point is other data, and the axis says so)."""
        usual = Counter(self.lengths.values()).most_common(1)[0][0]
        length = self.lengths.get(lag)
        return f"{lag:,}" if length in (None, usual) else f"{lag:,}\n(length {length:,})"


def horizon_points(records: Iterable[Record], task: str = "synth-affect") -> Horizon:
    """For ``memory_horizon``: the one group of records (task version and options other than the lag and the
    sequence length) that spans the most lags, models seen at two lags or more. Where one lag was run at
    more than one length, the length with the most records stands for it."""
    settings: dict[tuple[str, str], dict[tuple[int, int | None], dict[str, list[float]]]] = \
        defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    main = None
    for r in records:
        if not r.completed or r.task.name != task:
            continue
        options = (r.config.get("task") or {}).get("options") or {}
        if options.get("lag") is None:
            continue
        main = r.task.main_score
        setting = task_setting(r.task, ignore=("lag", "length"))
        at = (int(options["lag"]), options.get("length"))
        settings[setting][at][r.label].append(r.scores["test"][main])
    if not settings:
        return Horizon({}, {}, "", "")
    chosen = max(settings, key=lambda k: (len({lag for lag, _ in settings[k]}),
                                          sum(len(v) for by in settings[k].values() for v in by.values())))
    group = settings[chosen]
    lengths: dict[int, int | None] = {}
    for lag in sorted({lag for lag, _ in group}):
        size = lambda n: sum(len(v) for v in group[(lag, n)].values())  # noqa: E731 - records at that length
        lengths[lag] = max((n for at, n in group if at == lag), key=lambda n: (size(n), -(n or 0)))
    by_model: dict[str, dict[int, list[float]]] = defaultdict(dict)
    for lag, length in lengths.items():
        for label, scores in group[(lag, length)].items():
            by_model[label][lag] = scores
    # a model run at one lag only (a variant beside the study) has no line to draw: it would only crowd the legend
    points = {label: by_lag for label, by_lag in by_model.items() if len(by_lag) >= 2}
    return Horizon(points, lengths, chosen[1], main)


def memory_horizon(records: Iterable[Record], out: Path, task: str = "synth-affect") -> list[Path]:
    """Test main score against the dependency lag, one line per model (mean over seeds, ± std). Records
    are grouped by their task version and options other than the lag and the length; the group that spans
    the most lags is drawn, so studies at other sizes or task versions in the same folder do not mix into it.
    A lag run at another sequence length than most is labelled with it on the axis."""
    horizon = horizon_points(records, task)
    if not horizon.points:
        return []
    plt = _plt()
    from matplotlib.ticker import NullLocator

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (model, by_lag) in enumerate(sorted(horizon.points.items())):
        lags = sorted(by_lag)
        mean = [np.mean(by_lag[x]) for x in lags]
        std = [np.std(by_lag[x]) for x in lags]
        ax.errorbar(lags, mean, yerr=std, capsize=3, label=model, alpha=0.85, **line_style(i))
    ax.set_xscale("log")
    ticks = sorted({lag for by in horizon.points.values() for lag in by})
    ax.set_xticks(ticks)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([horizon.tick(lag) for lag in ticks])
    ax.set_xlabel("dependency lag (segments)")
    ax.set_ylabel(f"test {horizon.main}")
    ax.set_title(f"Memory horizon on {task} v{horizon.version}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: the lines fill the whole axes
    return _save(fig, out, f"memory_horizon_{task}")


def training_curves(records: Sequence[tuple[str, Record]], out: Path, name: str, title: str) -> list[Path]:
    """The validation score against optimizer updates, one line per label (records come with the label of the
    line they belong to; each line the mean over the seeds and
    folds that reached each evaluation), with the checkpoint each run selected marked and runs that ended
    still improving drawn hollow: what the selected scores alone hide (a policy that got worse, a model
    stopped by the cap)."""
    curves: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    critic: dict[str, dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    chosen: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    key = None
    for label, r in records:
        if not r.completed or not r.history:
            continue
        key = next((k for k in r.history[0] if k.startswith("val_")), None)
        if key is None or "update" not in r.history[0]:
            continue
        for row in r.history:
            curves[label][int(row["update"])].append(row[key])
            if "critic_cos" in row:
                critic[label][int(row["update"])].append((row["critic_cos"], row["critic_cos_top"]))
        if r.selection is not None and r.selection.update:
            chosen[label].append((int(r.selection.update), r.still_improving))
    if not curves:
        return []
    plt = _plt()
    if critic:  # rlmem's critic diagnostic under the curves it explains
        fig, (ax, lower) = plt.subplots(2, 1, figsize=(7, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
        _critic_panel(lower, critic, list(curves), title)
    else:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (label, by_update) in enumerate(curves.items()):
        xs = sorted(by_update)
        mean = np.array([np.mean(by_update[x]) for x in xs])
        (line,) = ax.plot(xs, mean, label=label, linewidth=1.2, markersize=3, markevery=max(1, len(xs) // 8),
                          **line_style(i))
        for update, unfinished in chosen[label]:
            j = int(np.searchsorted(xs, update))
            if j < len(xs):
                ax.plot(xs[j], mean[j], marker="o", markersize=5, color=line.get_color(),
                        markerfacecolor="none" if unfinished else line.get_color())
    higher = any(r.selection is not None and r.selection.higher_is_better for _, r in records)
    if not higher and all(v > 0 for by_update in curves.values() for vs in by_update.values() for v in vs):
        _log_errors(ax)
    ax.set_xlabel("optimizer updates")
    ax.set_ylabel(f"validation {key[4:]}")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, title="dot: selected checkpoint (hollow: still improving)", title_fontsize=7)
    return _save(fig, out, name)


def _critic_panel(ax, critic: dict, labels: list[str], title: str) -> None:
    """Cosine between the critic's action gradient and the true K-step return gradient (rlmem.diagnostics):
    solid over all sampled steps, dashed over the tenth with the largest true gradient."""
    for i, label in enumerate(labels):
        if label not in critic:
            continue
        xs = sorted(critic[label])
        overall = [np.mean([c for c, _ in critic[label][x]]) for x in xs]
        top = [np.mean([t for _, t in critic[label][x]]) for x in xs]
        style = line_style(i)
        (line,) = ax.plot(xs, overall, marker=style["marker"], markersize=3, markevery=max(1, len(xs) // 8),
                          linewidth=1.1, label=label, color=style["color"])
        ax.plot(xs, top, linestyle="--", linewidth=1.0, color=line.get_color())
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.set_ylim(-1, 1)
    ax.set_xlabel("optimizer updates")
    ax.set_ylabel("cos(dV/da, dG_K/da)")
    ax.set_title(f"{title.split(':')[0]}: critic's action gradient against the true return's "
                 "(dashed: steps that matter most)", fontsize=9)


MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">")
LINESTYLES = ("-", "--", "-.", ":")  # with the markers, lines that lie on top of each other stay apart


def line_style(i: int) -> dict[str, str]:
    """The i-th line's colour, marker and dash. Ten colours and ten markers would repeat together every ten
    lines (the eleventh line drawn exactly as the first); the marker is shifted by one for each ten, so no
    two of the first hundred lines share both colour and marker."""
    return {"color": f"C{i % 10}", "marker": MARKERS[(i + i // 10) % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def _log_errors(ax) -> None:
    """A log y axis for errors (a blow-up should not flatten the differences that matter), labelled in
    plain numbers; within a decade the 1x, 2x and 5x ticks would leave one label or none, so evenly spaced
    ones are labelled instead."""
    from matplotlib.ticker import MaxNLocator, NullFormatter

    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    low, high = ax.get_ylim()
    if high / low < 10:
        ax.yaxis.set_major_locator(MaxNLocator(6))
        ax.yaxis.set_minor_formatter(NullFormatter())


def _plain_log_ticks(axis) -> None:
    """Log-scale ticks written as 0.11, not 1.1x10^-1; of the minor ticks only 2x and 5x are labelled, so the
    labels do not run into each other."""
    from matplotlib.ticker import FuncFormatter

    def minor(v: float, _) -> str:
        mantissa = round(v / 10 ** np.floor(np.log10(v)), 6) if v > 0 else 0
        return f"{v:.3g}" if mantissa in (2.0, 5.0) else ""

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    axis.set_minor_formatter(FuncFormatter(minor))


def memory_trace(record: Record, out: Path) -> list[Path]:
    """From a record made with ``record_memory=true``: predicted vs true targets along the sequence, the
    memory slots over time, and each slot's correlation with the first target (valence)."""
    trace = record.diagnostics.get("memory_trace")
    if not trace:
        return []
    slots = np.asarray(trace["slot_mean"])  # [S, N]
    targets, preds = np.asarray(trace["targets"]), np.asarray(trace["predictions"])
    corr = [np.corrcoef(slots[:, i], targets[:, 0])[0, 1] if slots[:, i].std() > 0 else 0.0
            for i in range(slots.shape[1])]
    plt = _plt()
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), gridspec_kw={"height_ratios": [2, 2, 1.2]})
    names = ("valence", "arousal")
    task, model = record.task.name, record.model.name
    for j in range(targets.shape[1]):
        axes[0].plot(targets[:, j], label=f"true {names[j] if j < 2 else j}", lw=1)
        axes[0].plot(preds[:, j], label=f"predicted {names[j] if j < 2 else j}", lw=1, ls="--")
    axes[0].set_title(f"{model} on {task}, sequence {trace.get('sequence')}: predicted vs true")
    axes[0].set_xlabel("segment")
    axes[0].set_ylabel("value")
    axes[0].legend(fontsize=7, ncol=2)
    im = axes[1].imshow(slots.T, aspect="auto", cmap="coolwarm", interpolation="nearest")
    axes[1].set_title(f"{model} on {task}: mean of each memory slot over time")
    axes[1].set_ylabel("memory slot")
    axes[1].set_xlabel("segment")
    fig.colorbar(im, ax=axes[1], fraction=0.02, label="slot mean")
    axes[2].bar(range(len(corr)), corr)
    axes[2].set_title(f"{model} on {task}: each slot's correlation with valence")
    axes[2].set_xlabel("memory slot")
    axes[2].set_ylabel("corr. with valence")
    fig.tight_layout()
    return _save(fig, out, f"memory_trace_{task}_{model}_seed{record.seed}")


def prediction_trace(record: Record, out: Path) -> list[Path]:
    """From a record made with ``--trace``: predictions against the truth along one test sequence. For
    summarization, predicted importance against the annotators' (mean and quartiles, rescaled to [0, 1])."""
    trace = record.trace
    if not trace:
        return []
    preds, targets = np.asarray(trace["predictions"]), np.asarray(trace["targets"])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    name = f"{record.model.name} on {record.task.name}, sequence {trace['sequence']}"
    if "user_scores" in trace:
        users = np.asarray(trace["user_scores"])
        lo, hi = users.min(), users.max()
        scaled = (users - lo) / (hi - lo) if hi > lo else users * 0
        steps = np.arange(scaled.shape[1])
        q25, q75 = np.percentile(scaled, [25, 75], axis=0)
        ax.fill_between(steps, q25, q75, color="0.85", label="annotators (25-75 %)")
        ax.plot(steps, scaled.mean(0), color="0.3", lw=1, label="annotators (mean)")
        p = preds[:, 0]
        p = (p - p.min()) / (p.max() - p.min()) if p.max() > p.min() else p * 0
        ax.plot(steps, p, color="C3", lw=1.2, label="predicted importance (rescaled)")
        ax.set_ylabel("importance")
        stem = "importance_trace"
    else:
        names = ("valence", "arousal")
        for j in range(targets.shape[1]):
            label = names[j] if targets.shape[1] == 2 else f"target {j}"
            ax.plot(targets[:, j], lw=1, color=f"C{j}", label=f"true {label}")
            ax.plot(preds[:, j], lw=1, ls="--", color=f"C{j}", label=f"predicted {label}")
        ax.set_ylabel("value")
        stem = "prediction_trace"
    ax.set_xlabel("step")
    ax.set_title(name)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, out, f"{stem}_{record.task.name}_{record.model.name}_seed{record.seed}")


def validation_curves(records: Sequence[Record], out: Path) -> list[Path]:
    """One figure per task setting (task, overrides and version, as the tables group them): every trained
    model's validation curve, so a reader sees whether a comparison is between models that had finished
    learning."""
    settings, stems = curve_settings(records)
    written = []
    for (label, version), recs in sorted(settings.items()):
        written += training_curves(recs, out, stems[label, version],
                                   f"{label} (v{version}): validation score while training")
    return written


def curve_settings(records: Iterable[Record]) -> tuple[dict[tuple[str, str], list[tuple[str, Record]]],
                                                        dict[tuple[str, str], str]]:
    """The records of each task setting (label, version) that have a validation curve, and the file stem
    of its figure."""
    settings: dict[tuple[str, str], list[tuple[str, Record]]] = defaultdict(list)
    for r in records:
        # per-epoch records of the earlier budget have no update axis: they draw nothing, name nothing
        if r.completed and r.history and "update" in r.history[0] and r.is_run:
            settings[task_setting(r.task)].append((r.label, r))
    versions = Counter(label for label, _ in settings)  # task versions per label in this folder
    stems = {}
    for label, version in settings:
        # the version joins the file name only where one folder holds several, so today's names stay
        name = label if versions[label] == 1 else f"{label}_v{version}"
        stems[label, version] = "curves_" + "".join(ch if ch.isalnum() or ch in "-_=," else "_"
                                                    for ch in name).strip("_")
    return settings, stems


def all_figures(records: Sequence[Record], out: Path) -> list[Path]:
    records = [r for r in records if r.is_run]  # tuning trials hold no test scores
    written = memory_horizon(records, out) + validation_curves(records, out)
    for r in records:
        written += memory_trace(r, out) + prediction_trace(r, out)
    return written
