"""Figures: byte-identical output, calendar lags, grayscale styling and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from reexport.errors import BadInputError
from reexport.report import plots, tables

FIXTURE = Path(__file__).parent / "golden" / "results_world.json"


def _frame() -> pd.DataFrame:
    periods = pd.period_range("2020-01", "2023-12", freq="M")
    t = np.arange(len(periods), dtype=float)
    return pd.DataFrame(
        {"period": periods.astype(str), "exports_t": 3000 + 20 * t, "GPR": 100 + 10 * np.sin(t)}
    )


def _results() -> tables.Results:
    return tables.load_results(FIXTURE)


def _all_figures() -> dict[str, Figure]:
    res = _results()
    points = plots.coef_points(list(res.models), "(?i)gpr", res.labels)
    return {
        "timeseries": plots.plot_timeseries(
            _frame(),
            annotations=[plots.Annotation("2022-01", "2022-12", "2022")],
            title="t",
        ),
        "coefficients": plots.plot_coefficients(
            points[:3], title="c", xlabel="x", references=[(380.0, "published")]
        ),
        "lag_profile": plots.plot_lag_profile(
            res.group("lag_profile"), focus="(?i)gpr", title="l", ylabel="y", highlight=4
        ),
        "spec_curve": plots.plot_spec_curve(points, title="s", ylabel="y"),
    }


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_figures_are_byte_identical_across_renders(fmt: str) -> None:
    first = {k: plots.figure_bytes(f, fmt) for k, f in _all_figures().items()}
    second = {k: plots.figure_bytes(f, fmt) for k, f in _all_figures().items()}
    for name in first:
        assert first[name] == second[name], name
    assert all(b.startswith(b"\x89PNG" if fmt == "png" else b"%PDF-") for b in first.values())


def test_pdf_has_no_creation_date_and_png_no_software_tag() -> None:
    fig = _all_figures()["lag_profile"]
    pdf = plots.figure_bytes(fig, "pdf")
    assert b"/CreationDate" not in pdf and b"/Producer" not in pdf
    png = plots.figure_bytes(fig, "png")
    assert b"Software" not in png and b"matplotlib" not in png


def test_save_figure_writes_png_and_pdf(tmp_path: Path) -> None:
    written = plots.save_figure(_all_figures()["coefficients"], tmp_path / "f")
    assert [p.name for p in written] == ["f.png", "f.pdf"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_lag_follows_the_calendar_not_row_order() -> None:
    frame = _frame()
    frame = frame[frame["period"] != "2020-06"].iloc[::-1]  # a month missing, rows reversed
    values = frame.set_index("period")["GPR"]
    lagged = plots.lagged(frame, "GPR", 4)
    # 2020-10 needs 2020-06, which is absent: missing, not the value of a neighbouring row.
    assert math.isnan(lagged[pd.Period("2020-10", freq="M")])
    assert lagged[pd.Period("2020-11", freq="M")] == values["2020-07"]
    assert lagged[pd.Period("2023-12", freq="M")] == values["2023-08"]
    assert math.isnan(lagged[pd.Period("2020-04", freq="M")])  # needs 2019-12: before the data


def test_series_are_told_apart_without_colour() -> None:
    fig = _all_figures()["timeseries"]
    axes = fig.axes
    styles = {line.get_linestyle() for ax in axes for line in ax.get_lines()}
    assert {"-", "--"} <= styles
    colours = {line.get_color() for ax in axes for line in ax.get_lines()}
    assert all(isinstance(c, str) and c.replace(".", "").isdigit() for c in colours)  # greys


def test_synthetic_titles_say_so() -> None:
    fig = plots.plot_timeseries(_frame(), title="Exports", synthetic=True)
    assert fig.axes[0].get_title().startswith("SYNTHETIC DEMO DATA")


def test_bad_inputs() -> None:
    res = _results()
    with pytest.raises(BadInputError, match="robustness battery is empty"):
        plots.plot_spec_curve([], title="s", ylabel="y")
    with pytest.raises(BadInputError, match="has no variant lag"):
        plots.plot_lag_profile([res.model("headline")], focus="GPR", title="l", ylabel="y")
    with pytest.raises(BadInputError, match="no models"):
        plots.plot_coefficients([], title="c", xlabel="x")
    with pytest.raises(BadInputError, match="has no term matching"):
        plots.coef_points([res.model("levels")], "GPRT", res.labels)
    with pytest.raises(BadInputError, match="no 'GPRT' column"):
        plots.plot_timeseries(_frame(), index="GPRT")
    doubled = pd.concat([_frame(), _frame()])
    with pytest.raises(BadInputError, match="repeated periods"):
        plots.lagged(doubled, "GPR", 1)
    with pytest.raises(BadInputError, match="unknown figure format"):
        plots.figure_bytes(_all_figures()["spec_curve"], "gif")


# --------------------------------------------------------------------------- supplier shares

EMBARGO = plots.Annotation("2010-09", "2010-11", "2010 embargo")


def _shares() -> pd.DataFrame:
    periods = pd.period_range("2010-01", "2012-12", freq="M").astype(str)
    t = np.arange(len(periods), dtype=float)
    rows = []
    for hs, start in (("2846", 0.6), ("850511", 0.7)):
        china = start - 0.002 * t
        india = 0.1 + 0.001 * t
        rows.append(
            pd.DataFrame(
                {
                    "period": periods,
                    "hs": hs,
                    "share_CHN": china,
                    "share_IND": india,
                    "hhi": 10_000 * (china**2 + india**2),
                    "GPRC_JPN": 0.5 + 0.1 * np.sin(t),
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    frame.loc[5, ["share_CHN", "share_IND", "hhi"]] = np.nan  # a missing month
    return frame


def _event_spans(fig: Figure) -> list[object]:
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == "event"]


def _supplier_figures(synthetic: bool) -> dict[str, Figure]:
    frame = _shares()
    common = {"events": [EMBARGO], "title": "Japan", "synthetic": synthetic}
    return {
        "shares": plots.plot_partner_shares(frame, partners=["CHN", "IND"], **common),  # type: ignore[arg-type]
        "hhi": plots.plot_hhi(frame, **common),  # type: ignore[arg-type]
        "vs_index": plots.plot_share_vs_index(frame, lag=3, **common),  # type: ignore[arg-type]
    }


def _title(fig: Figure) -> str:
    suptitle = fig.get_suptitle()
    return suptitle or fig.axes[0].get_title()


@pytest.mark.parametrize("synthetic", [True, False])
def test_supplier_figures_build_and_mark_synthetic_data(synthetic: bool) -> None:
    for name, fig in _supplier_figures(synthetic).items():
        assert ("SYNTHETIC DEMO DATA" in _title(fig)) is synthetic, name
        assert "Japan" in _title(fig), name
        assert plots.figure_bytes(fig, "png").startswith(b"\x89PNG"), name


def test_supplier_figures_shade_the_event_months() -> None:
    figures = _supplier_figures(False)
    # Two HS panels each for the stacked shares and the index plot, one axis for the HHI.
    assert len(_event_spans(figures["shares"])) == 2
    assert len(_event_spans(figures["vs_index"])) == 2
    (span,) = _event_spans(figures["hhi"])
    lo, hi = plots._month_numbers(pd.PeriodIndex(["2010-09", "2010-12"], freq="M"))
    start, width = span.get_x(), span.get_width()  # type: ignore[attr-defined]
    assert (start, start + width) == (lo, hi)  # September 1 to December 1: Sep..Nov inclusive
    no_events = plots.plot_hhi(_shares(), title="x")
    assert _event_spans(no_events) == []


def _luminance(color: object) -> float:
    """WCAG relative luminance of a matplotlib colour."""
    from matplotlib.colors import to_rgb

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in to_rgb(color))  # type: ignore[arg-type]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_event_labels_are_legible_on_the_stacked_bands_and_edges_mark_the_span() -> None:
    figures = _supplier_figures(False)
    for name, fig in figures.items():
        labels = [a for ax in fig.axes for a in ax.texts if a.get_gid() == "event_label"]
        assert [t.get_text() for t in labels] == ["2010 embargo"], name  # first panel only
        (label,) = labels
        box = label.get_bbox_patch()
        assert box is not None and box.get_alpha() in (None, 1.0), name
        text_l, box_l = _luminance(label.get_color()), _luminance(box.get_facecolor())
        contrast = (max(text_l, box_l) + 0.05) / (min(text_l, box_l) + 0.05)
        assert contrast >= 7.0, (name, contrast)  # WCAG AAA for normal text
        assert label.get_fontsize() >= 8.5, name
        ax = label.axes
        others = [a.get_zorder() for a in ax.get_children() if a is not label]
        assert label.get_zorder() > max(others), name  # nothing is drawn over it
        edges = [line for a in fig.axes for line in a.lines if line.get_gid() == "event_edge"]
        filled = [c.get_zorder() for a in fig.axes for c in a.collections]
        assert len(edges) == 2 * len(_event_spans(fig)), name
        assert all(e.get_zorder() > max(filled, default=0) for e in edges), name


def test_partner_shares_stack_to_one_with_other() -> None:
    fig = plots.plot_partner_shares(_shares(), partners=["CHN", "IND"], hs=["2846"], title="x")
    (ax,) = fig.axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["CHN", "IND", "Other"]
    # The stacked bands are told apart by hatching as well as grey level.
    hatches = {c.get_hatch() for c in ax.collections}
    assert len(hatches) == 3


def test_supplier_figures_are_byte_identical_across_renders() -> None:
    first = {k: plots.figure_bytes(f, "png") for k, f in _supplier_figures(True).items()}
    second = {k: plots.figure_bytes(f, "png") for k, f in _supplier_figures(True).items()}
    assert first == second


def test_supplier_figures_bad_input() -> None:
    frame = _shares()
    with pytest.raises(BadInputError, match="no 'share_VNM' column"):
        plots.plot_partner_shares(frame, partners=["VNM"], title="x")
    with pytest.raises(BadInputError, match="no rows for HS"):
        plots.plot_hhi(frame, hs=["280530"], title="x")
    with pytest.raises(BadInputError, match="no partners"):
        plots.plot_partner_shares(frame, partners=[], title="x")
    with pytest.raises(BadInputError, match="no 'GPRC_CHN' column"):
        plots.plot_share_vs_index(frame, index="GPRC_CHN", title="x")
