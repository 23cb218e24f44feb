"""Figures from results JSON and study frames: PNG and PDF, deterministic, grayscale-safe.

Every figure is drawn with matplotlib's Agg backend, one fixed font (DejaVu Sans,
shipped with matplotlib) and no timestamps in the files, so two runs on the same
inputs give byte-identical PNG and PDF files.  Series are told apart by line
style and marker, never by colour alone, so the figures read in grayscale.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import pandas as pd  # noqa: E402
from cycler import cycler  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reexport.errors import BadInputError  # noqa: E402
from reexport.models.results import ModelResult  # noqa: E402
from reexport.report.tables import (  # noqa: E402
    describe_variant,
    focus_term,
    term_label,
)
from reexport.store import atomic_write_bytes  # noqa: E402

#: Settings that make output independent of the user's matplotlibrc and of the clock.
RC_PARAMS: Mapping[str, object] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.prop_cycle": cycler(color=["0.0", "0.45", "0.7"]),
    "figure.dpi": 100.0,
    "savefig.dpi": 150.0,
    "svg.hashsalt": "reexport",
    "pdf.fonttype": 42,
    "path.simplify": True,
}

#: Metadata passed to ``savefig`` per format: no creation date, no software version.
METADATA: Mapping[str, Mapping[str, str | None]] = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": "reexport"},
}

FIGURE_FORMATS = ("png", "pdf")


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """Render ``fig`` in ``fmt`` (``png`` or ``pdf``) to bytes without timestamps."""
    if fmt not in FIGURE_FORMATS:
        raise BadInputError(f"unknown figure format {fmt!r} (use png or pdf)")
    buffer = io.BytesIO()
    with matplotlib.rc_context(cast(Any, dict(RC_PARAMS))):
        fig.savefig(buffer, format=fmt, metadata=dict(METADATA[fmt]), bbox_inches=None)
    return buffer.getvalue()


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = FIGURE_FORMATS) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.pdf`` (each atomically)."""
    written = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        atomic_write_bytes(path, figure_bytes(fig, fmt))
        written.append(path)
    return written


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _styled(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a plotting function under :data:`RC_PARAMS` (artists read rcParams when created)."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with matplotlib.rc_context(cast(Any, dict(RC_PARAMS))):
            return func(*args, **kwargs)

    return wrapper


def figure_title(title: str, synthetic: bool, width: int = 80) -> str:
    """The title wrapped to ``width`` characters, the synthetic warning on a line of its own."""
    lines = textwrap.wrap(title, width) or [""]
    if synthetic:
        lines.insert(0, "SYNTHETIC DEMO DATA (not real trade data)")
    return "\n".join(lines)


def _new_figure(width: float, height: float) -> Figure:
    # A bare Figure (not pyplot) is never registered globally, so nothing leaks between plots.
    return Figure(figsize=(width, height), layout="constrained")


# --------------------------------------------------------------------------- time series


@dataclass(frozen=True)
class Annotation:
    """A shaded span of months with a label (e.g. the 2022 Russia-Ukraine spike)."""

    start: str
    end: str
    text: str


def _period_index(frame: pd.DataFrame, column: str = "period") -> pd.PeriodIndex:
    if column not in frame.columns:
        raise BadInputError(f"study frame has no {column!r} column")
    try:
        return pd.PeriodIndex(frame[column].astype(str), freq="M")
    except (ValueError, TypeError) as exc:
        raise BadInputError(f"study frame: bad {column!r} value ({exc})") from None


def _month_numbers(periods: pd.PeriodIndex) -> list[float]:
    """Matplotlib date numbers of the first day of each month."""
    return [float(v) for v in mdates.date2num(periods.to_timestamp().to_pydatetime())]


def lagged(frame: pd.DataFrame, column: str, lag: int) -> pd.Series:
    """``column`` lagged ``lag`` months by the calendar (not by row order), indexed by period."""
    periods = _period_index(frame)
    if column not in frame.columns:
        raise BadInputError(f"study frame has no {column!r} column")
    values = pd.Series(frame[column].to_numpy(dtype=float), index=periods)
    if values.index.has_duplicates:
        raise BadInputError("study frame has repeated periods; expected one row per month")
    return values.reindex(periods - lag).set_axis(periods)


#: The event label: black on an opaque white box, in front of every series, so it stays
#: legible on the near-black bottom band of a stacked share plot as on a white background
#: (a grey label on the band was unreadable).
EVENT_LABEL_STYLE: Mapping[str, Any] = {
    "fontsize": 8.5,
    "color": "0.0",
    "zorder": 6,
    "bbox": {
        "boxstyle": "round,pad=0.25",
        "facecolor": "1.0",
        "edgecolor": "0.0",
        "linewidth": 0.6,
        "alpha": 1.0,
    },
}


def _shade(ax: Any, annotations: Sequence[Annotation], *, label: bool = True) -> None:
    """Shade each annotation's months (inclusive) on ``ax``; the spans carry gid ``event``.

    The shade sits behind the series (it shows on line plots); dashed edges in front mark
    the span where filled areas hide the shade (stacked shares).  The label, when asked
    for, is boxed at the bottom of the span (the tops of the series peak there).
    """
    for note in annotations:
        lo, hi = _month_numbers(
            pd.PeriodIndex([pd.Period(note.start, freq="M"), pd.Period(note.end, freq="M") + 1])
        )
        ax.axvspan(lo, hi, color="0.88", zorder=0, linewidth=0, gid="event")
        for edge in (lo, hi):
            ax.axvline(edge, color="0.0", linestyle="--", linewidth=0.8, zorder=5, gid="event_edge")
        if not label:
            continue
        ax.text(
            lo,
            0.04,
            note.text,
            transform=ax.get_xaxis_transform(),
            va="bottom",
            ha="left",
            gid="event_label",
            **EVENT_LABEL_STYLE,
        )


def _lag_text(label: str, lag: int) -> str:
    return f"{label} (t-{lag})" if lag else label


def _two_axes(
    ax: Any, x: list[float], left: pd.Series, left_label: str, right: pd.Series, right_label: str
) -> list[Any]:
    """``left`` on ``ax`` (solid) and ``right`` on a twin axis (dashed); returns both lines."""
    line1 = ax.plot(x, left.to_numpy(), color="0.0", linestyle="-", linewidth=1.4, label=left_label)
    ax.set_ylabel(left_label)
    twin = ax.twinx()
    line2 = twin.plot(
        x, right.to_numpy(), color="0.4", linestyle="--", linewidth=1.2, label=right_label
    )
    twin.set_ylabel(right_label)
    return [*line1, *line2]


@_styled
def plot_timeseries(
    frame: pd.DataFrame,
    *,
    series: str = "exports_t",
    index: str = "GPR",
    lag: int = 4,
    series_label: str = "Exports (t)",
    index_label: str = "GPR",
    annotations: Sequence[Annotation] = (),
    title: str = "",
    synthetic: bool = False,
) -> Figure:
    """Exports next to the lagged risk index over time, with shaded annotations.

    Parameters
    ----------
    frame
        Study frame with ``period`` (``YYYY-MM``), ``series`` and ``index`` columns.
    series, index
        Column names of the export series (left axis) and of the risk index (right axis).
    lag
        Months by which the index is lagged, by the calendar.
    series_label, index_label
        Axis labels.
    annotations
        Spans to shade and label.
    title
        Figure title (prefixed with a synthetic-data warning when ``synthetic``).
    synthetic
        Whether the frame is the synthetic demo vintage.
    """
    periods = _period_index(frame)
    if series not in frame.columns:
        raise BadInputError(f"study frame has no {series!r} column")
    exports = pd.Series(frame[series].to_numpy(dtype=float), index=periods).sort_index()
    risk = lagged(frame, index, lag).sort_index()
    x = _month_numbers(pd.PeriodIndex(exports.index))
    fig = _new_figure(7.5, 3.8)
    ax = fig.add_subplot()
    _shade(ax, annotations)
    lines = _two_axes(ax, x, exports, series_label, risk, _lag_text(index_label, lag))
    ax.legend(
        lines,
        [str(line.get_label()) for line in lines],
        loc="upper left",
        bbox_to_anchor=(0.0, 0.9),
        frameon=False,
    )
    ax.set_title(figure_title(title, synthetic))
    ax.set_xlabel("Month")
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    return fig


# --------------------------------------------------------------------------- coefficients


@dataclass(frozen=True)
class CoefPoint:
    """One coefficient with its 95% interval, for coefficient plots and curves."""

    label: str
    coef: float
    lo: float
    hi: float
    p: float
    model: ModelResult
    term: str


def coef_points(
    models: Sequence[ModelResult], focus: str, labels: Mapping[str, str], *, by: str = "model"
) -> list[CoefPoint]:
    """The focal coefficient of each model (see :func:`focus_term`) with its stored 95% CI.

    ``by="model"`` labels points by the model (and variant), ``by="term"`` by the term label.
    """
    points = []
    for m in models:
        term = focus_term(m, focus)
        lo, hi = m.ci(term)
        text = describe_variant(m) if by == "model" else term_label(term, labels)
        points.append(CoefPoint(text, m.coef(term), lo, hi, m.p_value(term), m, term))
    return points


@_styled
def plot_coefficients(
    points: Sequence[CoefPoint],
    *,
    title: str,
    xlabel: str,
    references: Sequence[tuple[float, str]] = (),
    synthetic: bool = False,
) -> Figure:
    """Horizontal coefficient plot: point estimates with 95% confidence intervals.

    Parameters
    ----------
    points
        One row each, top to bottom.
    title, xlabel
        Titles.
    references
        Vertical reference lines (value, label), e.g. a published coefficient.
    synthetic
        Whether the estimates come from the synthetic demo vintage.
    """
    if not points:
        raise BadInputError(f"coefficient plot {title!r}: no models to plot")
    fig = _new_figure(7.0, 0.9 + 0.38 * len(points))
    ax = fig.add_subplot()
    ys = list(range(len(points)))[::-1]
    for y, point in zip(ys, points, strict=True):
        significant = math.isfinite(point.p) and point.p < 0.05
        ax.errorbar(
            point.coef,
            y,
            xerr=[[point.coef - point.lo], [point.hi - point.coef]],
            fmt="o",
            color="0.0",
            markerfacecolor="0.0" if significant else "white",
            capsize=3,
            linewidth=1.2,
        )
    ax.axvline(0.0, color="0.5", linewidth=0.8, linestyle=":")
    for value, text in references:
        ax.axvline(value, color="0.3", linewidth=1.0, linestyle="--")
        ax.text(
            value,
            1.0,
            f" {text}",
            transform=ax.get_xaxis_transform(),
            va="bottom",
            ha="left",
            fontsize=8,
        )
    ax.set_yticks(ys, [p.label for p in points])
    ax.set_ylim(-0.7, len(points) - 0.3)
    ax.set_xlabel(f"{xlabel}\nFilled: p<0.05; hollow: not significant. Bars: 95% CI.")
    ax.set_title(figure_title(title, synthetic), pad=14 if references else 6)
    return fig


@_styled
def plot_lag_profile(
    models: Sequence[ModelResult],
    *,
    focus: str,
    title: str,
    ylabel: str,
    highlight: int | None = None,
    synthetic: bool = False,
) -> Figure:
    """The focal coefficient against the lag (``variant["lag"]``) with a 95% band.

    Raises
    ------
    BadInputError
        No models, a model without a ``lag`` in its variant, or repeated lags.
    """
    if not models:
        raise BadInputError(f"lag profile {title!r}: no models")
    rows = []
    for m in models:
        lag = m.variant.get("lag")
        if lag is None:
            raise BadInputError(f"lag profile: model {m.name!r} in {m.source} has no variant lag")
        term = focus_term(m, focus)
        lo, hi = m.ci(term)
        rows.append((int(lag), m.coef(term), lo, hi))
    rows.sort()
    lags = [r[0] for r in rows]
    if len(set(lags)) != len(lags):
        raise BadInputError(f"lag profile {title!r}: repeated lags {lags}")
    fig = _new_figure(6.5, 3.6)
    ax = fig.add_subplot()
    ax.fill_between(
        lags, [r[2] for r in rows], [r[3] for r in rows], color="0.85", linewidth=0, label="95% CI"
    )
    ax.plot(lags, [r[1] for r in rows], color="0.0", marker="o", linewidth=1.3, label="coefficient")
    ax.axhline(0.0, color="0.4", linewidth=0.8, linestyle=":")
    if highlight is not None and highlight in lags:
        ax.axvline(
            highlight, color="0.3", linewidth=0.9, linestyle="--", label=f"lag {highlight} (paper)"
        )
    ax.set_xticks(lags)
    ax.set_xlabel("Lag of the risk index (months)")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, loc="best")
    ax.set_title(figure_title(title, synthetic))
    return fig


@_styled
def plot_spec_curve(
    points: Sequence[CoefPoint],
    *,
    title: str,
    ylabel: str,
    synthetic: bool = False,
    group_labels: Mapping[str, str] | None = None,
) -> Figure:
    """Specification curve: sorted estimates with 95% CIs over an indicator panel of groups.

    Raises
    ------
    BadInputError
        If there are no points (an empty robustness battery).
    """
    if not points:
        raise BadInputError(f"specification curve {title!r}: the robustness battery is empty")
    ordered = sorted(points, key=lambda p: (p.coef, p.label))
    names = group_labels or {}

    def group_of(point: CoefPoint) -> str:
        key = point.model.group or point.model.name
        return names.get(key, key)

    groups = sorted({group_of(p) for p in ordered})
    fig = _new_figure(7.5, 3.2 + 0.22 * len(groups))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, max(1, 0.35 * len(groups))])
    xs = list(range(len(ordered)))
    for x, p in zip(xs, ordered, strict=True):
        significant = math.isfinite(p.p) and p.p < 0.05
        top.errorbar(
            x,
            p.coef,
            yerr=[[p.coef - p.lo], [p.hi - p.coef]],
            fmt="o",
            markersize=4,
            color="0.0",
            markerfacecolor="0.0" if significant else "white",
            elinewidth=0.9,
            capsize=0,
        )
        bottom.plot(
            x,
            groups.index(group_of(p)),
            marker="s",
            markersize=4,
            color="0.0",
            linestyle="none",
        )
    top.axhline(0.0, color="0.4", linewidth=0.8, linestyle=":")
    top.set_ylabel(ylabel)
    top.set_title(figure_title(title, synthetic))
    bottom.set_yticks(range(len(groups)), groups)
    bottom.set_ylim(-0.6, len(groups) - 0.4)
    bottom.invert_yaxis()
    bottom.set_xlabel("Specifications, sorted by estimate (filled: p<0.05)")
    bottom.set_xticks(xs, [""] * len(xs))
    return fig


# --------------------------------------------------------------------------- supplier shares

#: Fills of the stacked supplier areas: grey levels and hatches, so they read in grayscale.
_AREA_GREYS = ("0.15", "0.45", "0.7", "0.9", "0.55", "0.3", "0.8", "0.6")
_AREA_HATCHES = ("", "//", "..", "\\\\", "xx", "--", "++", "oo")
_LINE_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("", "o", "s", "^")


def _products(frame: pd.DataFrame, hs: Sequence[str] | None, what: str) -> list[str]:
    """The HS codes to draw, one panel each (every code of the frame when ``hs`` is None)."""
    if "hs" not in frame.columns:
        if hs:
            raise BadInputError(f"{what}: the frame has no 'hs' column to select {list(hs)}")
        return [""]
    present = sorted(frame["hs"].astype(str).unique())
    chosen = [str(code) for code in hs] if hs else present
    absent = [code for code in chosen if code not in present]
    if absent or not chosen:
        raise BadInputError(f"{what}: no rows for HS {absent or chosen} (the frame has {present})")
    return chosen


def _product_rows(frame: pd.DataFrame, code: str) -> pd.DataFrame:
    rows = frame if code == "" else frame[frame["hs"].astype(str) == code]
    return rows.sort_values("period")


def _column(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    if column not in frame.columns:
        raise BadInputError(f"{what}: the frame has no {column!r} column")
    return pd.Series(frame[column].to_numpy(dtype=float), index=frame.index)


def _year_axis(ax: Any) -> None:
    ax.xaxis.set_major_locator(mdates.YearLocator(2))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))


def _panel_title(code: str, hs_labels: Mapping[str, str]) -> str:
    return hs_labels.get(code, f"HS {code}") if code else ""


@_styled
def plot_partner_shares(
    shares: pd.DataFrame,
    *,
    partners: Sequence[str],
    hs: Sequence[str] | None = None,
    hs_labels: Mapping[str, str] | None = None,
    partner_labels: Mapping[str, str] | None = None,
    events: Sequence[Annotation] = (),
    title: str = "",
    synthetic: bool = False,
) -> Figure:
    """Stacked areas of supplier shares over time, one panel per HS code.

    Parameters
    ----------
    shares
        Output of :func:`reexport.measures.supplier_shares`: ``period``, ``hs`` and
        ``share_<ISO3>`` columns (a group's ``share_<name>`` works too).
    partners
        Partners (or groups) stacked from the bottom, in this order; the rest up to one
        is drawn as "Other".  A missing month leaves a gap.
    hs, hs_labels, partner_labels
        HS codes to draw (default: all) and display names.
    events
        Spans of months to shade, e.g. the 2010 embargo (``Annotation("2010-09",
        "2010-11", "embargo")``); labelled in the first panel only.
    title, synthetic
        Figure title; ``synthetic`` puts the synthetic-data warning above it.
    """
    what = "partner shares plot"
    if not partners:
        raise BadInputError(f"{what}: no partners to stack")
    codes = _products(shares, hs, what)
    names = dict(partner_labels or {})
    fig = _new_figure(7.5, 1.0 + 2.3 * len(codes))
    axes = fig.subplots(len(codes), 1, sharex=True, squeeze=False)[:, 0]
    for k, (ax, code) in enumerate(zip(axes, codes, strict=True)):
        rows = _product_rows(shares, code)
        x = _month_numbers(_period_index(rows))
        layers = [_column(rows, f"share_{p}", what).to_numpy() for p in partners]
        stacked = pd.DataFrame(layers).T
        other = (1.0 - stacked.sum(axis=1, min_count=len(partners))).clip(lower=0.0)
        labels = [names.get(p, p) for p in partners] + ["Other"]
        bottom = pd.Series(0.0, index=stacked.index)
        for j, layer in enumerate([*layers, other.to_numpy()]):
            top = bottom + layer
            ax.fill_between(
                x,
                bottom.to_numpy(),
                top.to_numpy(),
                facecolor=_AREA_GREYS[j % len(_AREA_GREYS)],
                hatch=_AREA_HATCHES[j % len(_AREA_HATCHES)],
                edgecolor="0.0",
                linewidth=0.3,
                label=labels[j] if k == 0 else None,
            )
            bottom = top
        _shade(ax, events, label=k == 0)
        ax.set_ylim(0.0, 1.0)
        ax.set_ylabel("Share of imports")
        ax.set_title(_panel_title(code, hs_labels or {}), fontsize=9, loc="left")
        _year_axis(ax)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    axes[-1].set_xlabel("Month")
    fig.suptitle(figure_title(title, synthetic))
    return fig


@_styled
def plot_hhi(
    shares: pd.DataFrame,
    *,
    hs: Sequence[str] | None = None,
    hs_labels: Mapping[str, str] | None = None,
    column: str = "hhi",
    events: Sequence[Annotation] = (),
    title: str = "",
    synthetic: bool = False,
) -> Figure:
    """The Herfindahl-Hirschman index of suppliers over time, one line per HS code.

    Parameters
    ----------
    shares
        Output of :func:`reexport.measures.supplier_shares` (``period``, ``hs``, ``hhi``
        on the 0-10,000 scale).
    hs, hs_labels
        HS codes to draw (default: all) and their display names.
    column
        The concentration column.
    events, title, synthetic
        As in :func:`plot_partner_shares`.  Dotted lines mark 1,500 and 2,500, the
        thresholds of "moderately" and "highly concentrated" markets in the 2010 US
        Horizontal Merger Guidelines.
    """
    what = "HHI plot"
    codes = _products(shares, hs, what)
    fig = _new_figure(7.5, 3.8)
    ax = fig.add_subplot()
    _shade(ax, events)
    for j, code in enumerate(codes):
        rows = _product_rows(shares, code)
        ax.plot(
            _month_numbers(_period_index(rows)),
            _column(rows, column, what).to_numpy(),
            color="0.0",
            linestyle=_LINE_STYLES[j % len(_LINE_STYLES)],
            marker=_MARKERS[j % len(_MARKERS)],
            markevery=12,
            markersize=3.5,
            linewidth=1.2,
            label=_panel_title(code, hs_labels or {}) or column,
        )
    for level in (1500.0, 2500.0):
        ax.axhline(level, color="0.5", linewidth=0.7, linestyle=":")
    ax.set_ylim(0.0, 10_000.0)
    ax.set_ylabel("HHI of suppliers (0-10,000)")
    ax.set_xlabel("Month")
    # Upper right: the event label sits at the bottom left (the 2010 embargo), and the
    # concentration rarely nears 10,000 late in the window.
    ax.legend(frameon=False, loc="upper right")
    _year_axis(ax)
    ax.set_title(figure_title(title, synthetic))
    return fig


@_styled
def plot_share_vs_index(
    frame: pd.DataFrame,
    *,
    share: str = "share_CHN",
    index: str = "GPRC_JPN",
    lag: int = 0,
    hs: Sequence[str] | None = None,
    hs_labels: Mapping[str, str] | None = None,
    share_label: str = "China's share",
    index_label: str | None = None,
    events: Sequence[Annotation] = (),
    title: str = "",
    synthetic: bool = False,
) -> Figure:
    """A supplier's share (left axis) against a risk index (right axis), one panel per HS.

    Parameters
    ----------
    frame
        Shares joined with the indices by month: ``period``, ``hs``, ``share`` and
        ``index`` columns (one row per month and HS code).
    share, index
        The share column and the index column.
    lag
        Months by which the index is lagged, by the calendar (within each HS code).
    hs, hs_labels, share_label, index_label
        HS codes (default: all) and display names.
    events, title, synthetic
        As in :func:`plot_partner_shares`.
    """
    what = "share against index plot"
    codes = _products(frame, hs, what)
    lag_text = _lag_text(index_label or index, lag)
    fig = _new_figure(7.5, 1.0 + 2.3 * len(codes))
    axes = fig.subplots(len(codes), 1, sharex=True, squeeze=False)[:, 0]
    for k, (ax, code) in enumerate(zip(axes, codes, strict=True)):
        rows = _product_rows(frame, code)
        periods = _period_index(rows)
        x = _month_numbers(periods)
        risk = lagged(rows, index, lag)
        _shade(ax, events, label=k == 0)
        lines = _two_axes(ax, x, _column(rows, share, what), share_label, risk, lag_text)
        ax.set_ylim(0.0, 1.0)
        ax.set_title(_panel_title(code, hs_labels or {}), fontsize=9, loc="left")
        _year_axis(ax)
        if k == 0:
            ax.legend(
                lines, [str(line.get_label()) for line in lines], loc="upper right", frameon=False
            )
    axes[-1].set_xlabel("Month")
    fig.suptitle(figure_title(title, synthetic))
    return fig
