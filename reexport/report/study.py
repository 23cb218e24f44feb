"""``reexport report STUDY``: every table, figure, the scorecard and the report index.

A study folder (e.g. ``analyses/NAME``; format in docs/study_format.md) holds:

``study.toml``
    The declaration: requests, frames, ``[[estimate]]`` specs (:mod:`reexport.study`).
``report.toml``
    What to write: the results files (by key), tables, figures, style and the demo's
    planted effects.
``published_facts.json``
    The published facts the scorecard checks (see :mod:`reexport.report.scorecard`).
``specs/*.toml``
    The model specs that ``reexport estimate STUDY`` turns into the results files.

Everything is first written into a hidden temporary folder inside the output folder;
only when every table, figure and the scorecard have been produced are they moved into
place (``report.md`` last), so bad input leaves the previous outputs untouched and
nothing half-written.  Outputs contain no timestamps: two runs on the same results give
byte-identical files.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import io
import json
import logging
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reexport import __version__
from reexport.errors import BadInputError
from reexport.markup import one_line
from reexport.models.results import ModelResult, ResultsFile
from reexport.report import plots, scorecard, tables
from reexport.report.tables import IndicatorRow
from reexport.store import atomic_write_bytes, atomic_write_text
from reexport.study import DECLARATION, Frame, default_folder
from reexport.study import load_study as load_declaration

log = logging.getLogger("reexport.report")

REPORT_CONFIG = "report.toml"
TABLE_KINDS = ("models", "focus")
FIGURE_KINDS = (
    "timeseries",
    "coefficients",
    "lag_profile",
    "spec_curve",
    "partner_shares",
    "hhi",
    "share_vs_index",
)
#: Figure kinds drawn from one of the study's processed frames (``frame = NAME``), not
#: from a results file: supplier shares, their concentration and a share against an index.
FRAME_FIGURE_KINDS = ("partner_shares", "hhi", "share_vs_index")

#: Top-level names the report owns inside the output folder (``results/`` is not one).
OWNED_OUTPUTS = ("tables", "figures", "scorecard.md", "scorecard.json", "report.html", "report.md")


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ResultsRef:
    """A results file the study reads: its key, spec, path and the columns its data must hold."""

    key: str
    spec: Path
    file: Path
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recipe:
    """How the study's data are obtained (shown in the report index)."""

    commands: tuple[str, ...] = ()
    period: tuple[str, str] | None = None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Style:
    """Presentation settings shared by every table and figure."""

    statistic: tables.Statistic = "se"
    digits: int = 3
    formats: tuple[str, ...] = ("md", "tex", "html", "csv")
    hide: tuple[str, ...] = ()
    focus: str = "(?i)gpr"
    effect_labels: Mapping[str, str] = field(default_factory=dict)
    indicators: tuple[IndicatorRow, ...] = ()
    group_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Planted:
    """An effect planted by the synthetic demo's data-generating process."""

    model: str
    term: str
    value: float


@dataclass(frozen=True)
class StudyConfig:
    """A parsed study folder."""

    folder: Path
    title: str
    citation: str
    facts: scorecard.PublishedFacts
    results: Mapping[str, ResultsRef]
    recipe: Recipe
    style: Style
    planted: tuple[Planted, ...]
    tables: tuple[Mapping[str, Any], ...]
    figures: tuple[Mapping[str, Any], ...]
    #: The frames its ``study.toml`` declares (empty for a folder with a report only):
    #: the data statements describe them instead of assuming one study's series.
    frames: tuple[Frame, ...] = ()


#: Keys allowed in each table of report.toml (typos are errors, not silently ignored).
_SECTION_KEYS = {
    "study": ("title", "citation", "facts"),
    "recipe": ("commands", "period", "sources"),
    "style": (
        "statistic",
        "digits",
        "formats",
        "hide",
        "focus",
        "effect_labels",
        "indicator",
        "group_labels",
    ),
}
_RESULTS_KEYS = ("spec", "file", "columns")


def _known(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise BadInputError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _table(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise BadInputError(f"{where}: [{key}] must be a table")
    if key in _SECTION_KEYS:
        _known(value, _SECTION_KEYS[key], f"{where} [{key}]")
    return value


def _demo_table(raw: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    demo = _table(raw, "demo", where)
    for key in demo:
        if key != "planted":
            raise BadInputError(f"{where} [demo]: unknown key {key!r} (allowed: planted)")
    return demo


def _regex(pattern: str, where: str) -> str:
    """``pattern`` if it compiles as a regular expression, else :class:`BadInputError`."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise BadInputError(f"{where}: bad regular expression {pattern!r} ({exc})") from None
    return pattern


def _int(raw: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadInputError(f"{where}: {key!r} must be a non-negative integer")
    return value


def _str_list(raw: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInputError(f"{where}: {key!r} must be a list of strings")
    return list(value)


def _resolve_planted(raw: Any, where: str) -> tuple[Planted, ...]:
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise BadInputError(f"{where}: [[demo.planted]] must be an array of tables")
    from reexport.sources import demo  # the DGP's constants are the single source of truth

    planted = []
    for i, item in enumerate(raw):
        here = f"{where} demo.planted[{i}]"
        for key in ("model", "term", "constant"):
            if not isinstance(item.get(key), str):
                raise BadInputError(f"{here}: missing {key!r}")
        value = getattr(demo, item["constant"], None)
        if not isinstance(value, int | float):
            raise BadInputError(
                f"{here}: reexport.sources.demo has no numeric constant {item['constant']!r}"
            )
        planted.append(Planted(item["model"], item["term"], float(value)))
    return tuple(planted)


_TOP_KEYS = ("study", "recipe", "results", "style", "demo", "table", "figure")
_LIST_KEYS = ("models", "groups", "columns", "terms", "forms", "partners", "hs")
_INT_KEYS = ("lag", "highlight")
_STR_KEYS = (
    "id",
    "title",
    "kind",
    "results",
    "focus",
    "group",
    "series",
    "series_label",
    "index",
    "index_label",
    "xlabel",
    "ylabel",
    "frame",
    "share",
    "share_label",
)
_ITEM_KEYS = {
    "table": ("id", "title", "kind", "results", "models", "groups", "columns", "terms", "focus"),
    "figure": (
        "id",
        "title",
        "kind",
        "results",
        "models",
        "groups",
        "group",
        "series",
        "series_label",
        "index",
        "index_label",
        "lag",
        "annotations",
        "xlabel",
        "ylabel",
        "references",
        "highlight",
        "forms",
        "focus",
        "frame",
        "partners",
        "hs",
        "hs_labels",
        "events",
        "share",
        "share_label",
    ),
}
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _check_item(item: Any, kind_key: str, here: str) -> None:
    """Validate one ``[[table]]`` / ``[[figure]]`` entry: known keys with the right types."""
    if not isinstance(item, dict):
        raise BadInputError(f"{here}: must be a table")
    for key in item:
        if key not in _ITEM_KEYS[kind_key]:
            allowed = ", ".join(_ITEM_KEYS[kind_key])
            raise BadInputError(f"{here}: unknown key {key!r} (allowed: {allowed})")
    from_frame = kind_key == "figure" and item.get("kind") in FRAME_FIGURE_KINDS
    for key in ("id", "title", "frame" if from_frame else "results"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise BadInputError(f"{here}: needs a string {key!r}")
    for key in ("hs_labels",):
        labels = item.get(key, {})
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise BadInputError(f"{here}: {key!r} must be a table of strings")
    for event in item.get("events", []):
        if not isinstance(event, dict) or not all(
            isinstance(event.get(k), str) for k in ("start", "end", "text")
        ):
            raise BadInputError(f"{here}: each of 'events' needs start, end and text strings")
    if not _SAFE_ID.fullmatch(item["id"]):
        raise BadInputError(f"{here}: id {item['id']!r} must be a plain file name")
    for key, value in item.items():
        if key in _LIST_KEYS and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise BadInputError(f"{here}: {key!r} must be a list of strings")
        if key in _INT_KEYS and (isinstance(value, bool) or not isinstance(value, int)):
            raise BadInputError(f"{here}: {key!r} must be an integer")
        if key in _STR_KEYS and not isinstance(value, str):
            raise BadInputError(f"{here}: {key!r} must be a string")
    for note in item.get("annotations", []):
        if not isinstance(note, dict) or not all(
            isinstance(note.get(k), str) for k in ("start", "end", "text")
        ):
            raise BadInputError(f"{here}: each annotation needs string start, end and text")
    if "focus" in item:
        _regex(item["focus"], here)
    for ref in item.get("references", []):
        if not (
            isinstance(ref, dict)
            and isinstance(ref.get("value"), int | float)
            and isinstance(ref.get("text"), str)
        ):
            raise BadInputError(f"{here}: each reference needs a numeric value and a text")


def load_study(folder: str | Path) -> StudyConfig:
    """Read a study folder's ``report.toml`` and ``published_facts.json``.

    Raises
    ------
    BadInputError
        If the folder, its ``report.toml`` or its published facts are missing or malformed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"study folder {folder} does not exist")
    config_path = folder / REPORT_CONFIG
    frames: tuple[Frame, ...] = ()
    if (folder / DECLARATION).is_file():
        # A study folder: its declaration is checked too and names the recipe.
        declaration = load_declaration(folder)
        config_path = declaration.recipe
        frames = tuple(declaration.frames)
    where = str(config_path)
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"study folder {folder} has no {config_path.name}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{where}: bad TOML: {exc}") from None
    for key in raw:
        if key not in _TOP_KEYS:
            raise BadInputError(f"{where}: unknown key {key!r} (allowed: {', '.join(_TOP_KEYS)})")
    study = _table(raw, "study", where)
    facts = scorecard.load_facts(folder / str(study.get("facts", "published_facts.json")))
    results: dict[str, ResultsRef] = {}
    for key, ref in _table(raw, "results", where).items():
        if not isinstance(ref, dict) or not isinstance(ref.get("file"), str):
            raise BadInputError(f"{where}: [results.{key}] needs a 'file'")
        _known(ref, _RESULTS_KEYS, f"{where} [results.{key}]")
        results[key] = ResultsRef(
            key,
            folder / str(ref.get("spec", "")),
            folder / ref["file"],
            tuple(_str_list(ref, "columns", f"{where} [results.{key}]")),
        )
    if not results:
        raise BadInputError(f"{where}: no [results.*] tables")
    style_raw = _table(raw, "style", where)
    statistic = style_raw.get("statistic", "se")
    if statistic not in ("se", "t"):
        raise BadInputError(f"{where} [style]: statistic must be 'se' or 't', not {statistic!r}")
    formats = tuple(_str_list(style_raw, "formats", where) or tables.FORMATS)
    for fmt in formats:
        if fmt not in tables.FORMATS:
            raise BadInputError(f"{where} [style]: unknown format {fmt!r}")
    indicators = []
    for i, item in enumerate(style_raw.get("indicator", [])):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("label", "pattern")
        ):
            raise BadInputError(f"{where} [[style.indicator]] #{i + 1}: needs label and pattern")
        indicators.append(IndicatorRow(item["label"], _regex(item["pattern"], where)))
    for key in ("effect_labels", "group_labels"):
        labels = style_raw.get(key, {})
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise BadInputError(f"{where} [style]: {key!r} must be a table of strings")
    style = Style(
        statistic=statistic,
        digits=_int(style_raw, "digits", 3, f"{where} [style]"),
        formats=formats,
        hide=tuple(_regex(p, where) for p in _str_list(style_raw, "hide", where)),
        focus=_regex(str(style_raw.get("focus", "(?i)gpr")), where),
        effect_labels=dict(style_raw.get("effect_labels", {})),
        indicators=tuple(indicators),
        group_labels=dict(style_raw.get("group_labels", {})),
    )
    table_list = raw.get("table", [])
    figure_list = raw.get("figure", [])
    ids: list[str] = []
    for kind_key, items, kinds in (
        ("table", table_list, TABLE_KINDS),
        ("figure", figure_list, FIGURE_KINDS),
    ):
        for i, item in enumerate(items):
            here = f"{where} [[{kind_key}]] #{i + 1}"
            _check_item(item, kind_key, here)
            kind = item.get("kind", "models" if kind_key == "table" else None)
            if kind not in kinds:
                raise BadInputError(f"{here}: kind {kind!r} is not one of {', '.join(kinds)}")
            if kind in FRAME_FIGURE_KINDS and "results" not in item:
                pass  # drawn from a processed frame of the study
            elif item.get("results") not in results:
                raise BadInputError(
                    f"{here}: results {item.get('results')!r} is not a [results] key"
                )
            ids.append(item["id"])
    if len(set(ids)) != len(ids):
        raise BadInputError(f"{where}: table and figure ids must be unique")
    recipe_raw = _table(raw, "recipe", where)
    period = _str_list(recipe_raw, "period", f"{where} [recipe]")
    if period and len(period) != 2:
        raise BadInputError(f"{where} [recipe]: period must be [first, last]")
    recipe = Recipe(
        commands=tuple(_str_list(recipe_raw, "commands", f"{where} [recipe]")),
        period=(period[0], period[1]) if period else None,
        sources=tuple(_str_list(recipe_raw, "sources", f"{where} [recipe]")),
    )
    return StudyConfig(
        folder=folder,
        title=str(study.get("title", folder.name)),
        citation=str(study.get("citation", facts.citation)),
        facts=facts,
        results=results,
        recipe=recipe,
        style=style,
        planted=_resolve_planted(_demo_table(raw, where).get("planted"), where),
        tables=tuple(table_list),
        figures=tuple(figure_list),
        frames=frames,
    )


def parse_results_option(option: str | None, study: StudyConfig) -> dict[str, Path]:
    """Results files from ``--results``: ``KEY=PATH[,KEY=PATH]``, a folder of ``KEY.json``, or one file.

    Keys not given keep the study's default path.
    """
    paths = {key: ref.file for key, ref in study.results.items()}
    if not option:
        return paths
    if "=" in option:
        for pair in option.split(","):
            key, _, value = pair.partition("=")
            key = key.strip()
            if key not in paths or not value.strip():
                raise BadInputError(
                    f"--results {option!r}: {key!r} is not a results key of {study.folder} "
                    f"({', '.join(paths)})"
                )
            paths[key] = Path(value.strip())
        return paths
    candidate = Path(option)
    if candidate.is_dir():
        return {key: candidate / f"{key}.json" for key in paths}
    if len(paths) == 1:
        return {next(iter(paths)): candidate}
    raise BadInputError(
        f"--results {option!r}: this study reads {len(paths)} results files "
        f"({', '.join(paths)}); give KEY=PATH pairs or a folder holding KEY.json files"
    )


# --------------------------------------------------------------------------- data frames


@dataclass(frozen=True)
class StudyData:
    """The data a results file was estimated on, re-read for figures and cross-checks."""

    frame: pd.DataFrame
    path: Path
    meta: Mapping[str, Any]


def _meta_for(path: Path) -> dict[str, Any]:
    for candidate in (path.with_suffix(".meta.json"), path.with_name(path.name + ".meta.json")):
        if candidate.is_file():
            try:
                content = json.loads(candidate.read_text(encoding="utf-8"))
            except ValueError:
                raise BadInputError(f"{candidate}: unreadable metadata sidecar") from None
            return content if isinstance(content, dict) else {}
    return {}


def load_study_data(results: ResultsFile, columns: Sequence[str] = ()) -> StudyData:
    """Read the data file a results file names and check it is the one estimated on.

    Raises
    ------
    BadInputError
        If the data file is missing or its sha256 differs from the one recorded at
        estimation time (the report would then describe other data than the estimates).
    """
    raw_path = (results.data or {}).get("path")
    if not raw_path:
        raise BadInputError(f"results file {results.path} does not name its data file")
    path = Path(str(raw_path))
    if not path.is_file():
        raise BadInputError(
            f"data file {path} named by {results.path} does not exist (run `reexport build`)"
        )
    content = path.read_bytes()
    recorded = (results.data or {}).get("sha256")
    actual = hashlib.sha256(content).hexdigest()
    if recorded and recorded != actual:
        raise BadInputError(
            f"data file {path} changed since {results.path} was estimated "
            f"(sha256 {actual[:12]} != {str(recorded)[:12]}): re-run `reexport estimate`"
        )
    from reexport import tables_io

    try:
        if tables_io.is_parquet(path):
            frame = tables_io.read_table(path)
        else:
            frame = pd.read_csv(io.BytesIO(content), dtype={"period": str})
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise BadInputError(f"data file {path} cannot be read: {one_line(str(exc))}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BadInputError(
            f"data file {path} lacks the column(s) the study needs: {', '.join(missing)}"
        )
    return StudyData(frame=frame, path=path, meta=_meta_for(path))


def unbuilt_optional_frame(frames: Sequence[Frame], spec_path: Path) -> str | None:
    """The optional frame a spec estimates on when ``reexport build`` did not write it.

    A frame declared ``required = false`` (e.g. Porcher's by-destination frame, built only
    when the by-partner vintage is stored) is skipped by the build; the spec on it then
    has no data.  That is a known, stated gap, not an error -- unlike a missing required
    frame, which stays an error where the data are read.  ``None`` otherwise (including
    specs that do not read a ``processed:STUDY/NAME`` frame of this study).
    """
    from reexport.models.spec import load_spec

    data = load_spec(spec_path).data
    if data.processed is None or data.path.is_file():
        return None
    name = data.processed.rsplit("/", 1)[-1]
    for frame in frames:
        if frame.name == name and not frame.required:
            return name
    return None


def estimated_frames(study: StudyConfig, data: Mapping[str, StudyData]) -> tuple[Frame, ...]:
    """The declared frames the results were estimated on, in results order, each once.

    A results file's data is ``processed/<study>/<frame>.csv``, so the file stem names the
    frame; data from elsewhere (``--results`` over a hand-made file) matches no frame.
    """
    declared = {f.name: f for f in study.frames}
    found: dict[str, Frame] = {}
    for item in data.values():
        frame = declared.get(item.path.stem)
        if frame is not None:
            found.setdefault(frame.name, frame)
    return tuple(found.values())


def describe_coverage(data: Mapping[str, StudyData]) -> dict[str, str]:
    """``first..last (N months)`` of each study frame's ``period`` column."""
    spans = {}
    for key, item in data.items():
        if "period" not in item.frame.columns or item.frame.empty:
            continue
        periods = sorted(set(item.frame["period"].astype(str)))
        spans[key] = f"{periods[0]}..{periods[-1]} ({len(periods)} months)"
    return spans


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Output:
    """One table or figure written: what it is, its files and what produced it."""

    id: str
    kind: str
    title: str
    files: tuple[str, ...]
    results_key: str
    models: tuple[str, ...]


def _group_key(model: ModelResult) -> str:
    return model.group or model.name


def select_models(res: ResultsFile, item: Mapping[str, Any], where: str) -> list[ModelResult]:
    """Models named in a table/figure entry: ``models`` by name, then whole ``groups``."""
    chosen = [res.model(name) for name in item.get("models", [])]
    for group in item.get("groups", []):
        members = res.group(group)
        if not members:
            raise BadInputError(
                f"{where}: results file {res.path} has no models in group {group!r}"
            )
        chosen.extend(m for m in members if m not in chosen)
    return chosen


def _write_table(table: tables.Table, stem: Path, formats: Sequence[str]) -> list[Path]:
    written = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        atomic_write_text(path, tables.render(table, fmt))
        written.append(path)
    return written


def build_tables(
    study: StudyConfig, results: Mapping[str, ResultsFile], folder: Path
) -> list[Output]:
    """Write every ``[[table]]`` of the study into ``folder/tables``."""
    style = study.style
    outputs = []
    for item in study.tables:
        where = f"{study.folder / REPORT_CONFIG} table {item['id']!r}"
        res = results[item["results"]]
        models = select_models(res, item, where)
        labels = {**style.effect_labels, **res.labels}
        if item.get("kind", "models") == "focus":
            if not models:
                raise BadInputError(f"{where}: the robustness battery is empty")
            table = tables.build_focus_table(
                models,
                labels=labels,
                title=item["title"],
                focus=str(item.get("focus", style.focus)),
                statistic=style.statistic,
                synthetic=res.synthetic,
                digits=style.digits,
                group_labels=style.group_labels,
            )
        else:
            table = tables.build_table(
                models,
                labels=labels,
                title=item["title"],
                terms=item.get("terms"),
                hide=style.hide,
                indicators=style.indicators,
                column_titles=item.get("columns"),
                statistic=style.statistic,
                synthetic=res.synthetic,
                digits=style.digits,
            )
        files = _write_table(table, folder / "tables" / item["id"], style.formats)
        outputs.append(
            Output(
                item["id"],
                "table",
                table.title,
                tuple(str(p.relative_to(folder)) for p in files),
                item["results"],
                tuple(m.name for m in models),
            )
        )
    return outputs


def _figure(
    item: Mapping[str, Any],
    study: StudyConfig,
    res: ResultsFile,
    data: StudyData | None,
    where: str,
) -> tuple[Any, list[ModelResult]]:
    style = study.style
    kind = item["kind"]
    title = item["title"]
    focus = str(item.get("focus", style.focus))
    if kind == "timeseries":
        if data is None:
            raise BadInputError(f"{where}: needs the study frame")
        fig = plots.plot_timeseries(
            data.frame,
            series=str(item.get("series", "exports_t")),
            index=str(item.get("index", "GPR")),
            lag=int(item.get("lag", 4)),
            series_label=str(item.get("series_label", "Exports (t)")),
            index_label=str(item.get("index_label", item.get("index", "GPR"))),
            annotations=[
                plots.Annotation(str(a["start"]), str(a["end"]), str(a["text"]))
                for a in item.get("annotations", [])
            ],
            title=title,
            synthetic=res.synthetic,
        )
        return fig, []
    models = select_models(res, item, where)
    if kind == "lag_profile":
        group = res.group(str(item.get("group", "lag_profile")))
        if not group:
            raise BadInputError(
                f"{where}: results file {res.path} has no models in group {item.get('group')!r}"
            )
        fig = plots.plot_lag_profile(
            group,
            focus=focus,
            title=title,
            ylabel=str(item.get("ylabel", "Coefficient")),
            highlight=item.get("highlight"),
            synthetic=res.synthetic,
        )
        return fig, list(group)
    forms = item.get("forms")
    if forms:
        models = [
            m for m in models if scorecard.functional_form(m, tables.focus_term(m, focus)) in forms
        ]
    points = plots.coef_points(models, focus, res.labels)
    if kind == "coefficients":
        fig = plots.plot_coefficients(
            points,
            title=title,
            xlabel=str(item.get("xlabel", "Coefficient")),
            references=[(float(r["value"]), str(r["text"])) for r in item.get("references", [])],
            synthetic=res.synthetic,
        )
    else:
        fig = plots.plot_spec_curve(
            points,
            title=title,
            ylabel=str(item.get("ylabel", "Coefficient")),
            synthetic=res.synthetic,
            group_labels=style.group_labels,
        )
    return fig, models


def build_figures(
    study: StudyConfig,
    results: Mapping[str, ResultsFile],
    data: Mapping[str, StudyData],
    folder: Path,
) -> list[Output]:
    """Write every ``[[figure]]`` of the study into ``folder/figures`` as PNG and PDF."""
    outputs = []
    for item in study.figures:
        where = f"{study.folder / REPORT_CONFIG} figure {item['id']!r}"
        if item["kind"] in FRAME_FIGURE_KINDS:
            fig, synthetic = _frame_figure(item, study, where)
            models: list[ModelResult] = []
        else:
            res = results[item["results"]]
            fig, models = _figure(item, study, res, data.get(item["results"]), where)
            synthetic = res.synthetic
        files = plots.save_figure(fig, folder / "figures" / item["id"])
        outputs.append(
            Output(
                item["id"],
                "figure",
                tables.synthetic_title(item["title"], synthetic),
                tuple(str(p.relative_to(folder)) for p in files),
                str(item.get("results", item.get("frame", ""))),
                tuple(m.name for m in models),
            )
        )
    return outputs


def _frame_figure(item: Mapping[str, Any], study: StudyConfig, where: str) -> tuple[Any, bool]:
    """A figure of one of the study's processed frames (``frame = NAME``).

    The frame is ``<data_root>/processed/<study name>/<NAME>.csv`` (or ``.parquet``
    after ``reexport build --format parquet``) as ``reexport build STUDY`` wrote it;
    whether it is synthetic is read from its own ``synthetic`` column.
    """
    from reexport import tables_io
    from reexport.panel import study_processed_dir
    from reexport.study import load_study

    stem = study_processed_dir(load_study(study.folder)) / str(item["frame"])
    path = tables_io.resolve_table(stem)
    if not path.is_file():
        raise BadInputError(
            f"{where}: frame {item['frame']!r} has no {path} (run `reexport build "
            f"{study.folder}` first)"
        )
    frame = tables_io.read_table(path)
    synthetic = bool(frame["synthetic"].astype(bool).any()) if "synthetic" in frame else False
    events = [
        plots.Annotation(str(e["start"]), str(e["end"]), str(e["text"]))
        for e in item.get("events", [])
    ]
    common: dict[str, Any] = {
        "hs": item.get("hs"),
        "hs_labels": dict(item.get("hs_labels", {})),
        "events": events,
        "title": item["title"],
        "synthetic": synthetic,
    }
    kind = item["kind"]
    needed = {
        "partner_shares": [f"share_{p}" for p in item.get("partners", [])],
        "hhi": ["hhi"],
        "share_vs_index": [str(item.get("share", "share_CHN")), str(item.get("index", "GPRC_JPN"))],
    }[kind]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise BadInputError(f"{where}: frame {item['frame']!r} has no column {missing[0]!r}")
    if kind == "partner_shares":
        if not item.get("partners"):
            raise BadInputError(f"{where}: partner_shares needs 'partners'")
        return plots.plot_partner_shares(frame, partners=item["partners"], **common), synthetic
    if kind == "hhi":
        return plots.plot_hhi(frame, **common), synthetic
    return (
        plots.plot_share_vs_index(
            frame,
            share=str(item.get("share", "share_CHN")),
            index=str(item.get("index", "GPRC_JPN")),
            lag=int(item.get("lag", 0)),
            share_label=str(item.get("share_label", "China's share")),
            index_label=item.get("index_label"),
            **common,
        ),
        synthetic,
    )


# --------------------------------------------------------------------------- the index


def _command_lines(
    study: StudyConfig, key: str, results_paths: Mapping[str, Path], output: Path
) -> list[str]:
    """The commands that produce one output, as they were (or would be) run.

    ``key`` is a results key, or the name of a processed frame for the figures drawn
    from a frame (made by ``reexport build STUDY``).
    """
    report = f"reexport report {study.folder}"
    if output != study.folder / "output":
        report += f" --output {output}"
    if any(results_paths[k] != r.file for k, r in study.results.items()):
        report += " --results " + ",".join(f"{k}={p}" for k, p in results_paths.items())
    if key not in study.results:
        return [f"reexport build {study.folder}", report]
    ref = study.results[key]
    return [f"reexport estimate {ref.spec} --output {results_paths[key]}", report]


def without_unbuilt_frames(study: StudyConfig) -> tuple[StudyConfig, dict[str, str]]:
    """The study without the results, tables and figures of optional frames not built.

    Returns the reduced study and, for the report, one line per omitted output saying why.
    The first ``[results.*]`` (the scorecard's frame) is never dropped: without it there
    is nothing to report, and reading it fails with its own message.
    """
    frames = {f.name: f for f in study.frames if not f.required}
    if not frames:
        return study, {}
    first = next(iter(study.results))
    unbuilt: dict[str, str] = {}
    for key, ref in study.results.items():
        frame = None if key == first else unbuilt_optional_frame(study.frames, ref.spec)
        if frame is not None:
            unbuilt[key] = frame
    from reexport.panel import study_processed_dir

    processed = study_processed_dir(load_declaration(study.folder))
    missing_frames = {name for name in frames if not (processed / f"{name}.csv").is_file()}
    omitted: dict[str, str] = {}
    for key, frame in unbuilt.items():
        omitted[f"results {key}"] = f"the optional frame {frame!r} was not built"
    kept_tables = []
    for item in study.tables:
        if item.get("results") in unbuilt:
            omitted[f"table {item['id']}"] = f"needs results {item['results']}"
        else:
            kept_tables.append(item)
    kept_figures = []
    for item in study.figures:
        if item.get("results") in unbuilt:
            omitted[f"figure {item['id']}"] = f"needs results {item['results']}"
        elif item.get("kind") in FRAME_FIGURE_KINDS and item.get("frame") in missing_frames:
            omitted[f"figure {item['id']}"] = f"the optional frame {item['frame']!r} was not built"
        else:
            kept_figures.append(item)
    reduced = dataclasses.replace(
        study,
        results={k: v for k, v in study.results.items() if k not in unbuilt},
        tables=tuple(kept_tables),
        figures=tuple(kept_figures),
    )
    return reduced, omitted


def _omitted_lines(omitted: Mapping[str, str]) -> list[str]:
    return [f"not produced: {what} ({why})" for what, why in omitted.items()]


def _study_arg(study: StudyConfig) -> str:
    """The study folder as a command line names it: relative to the working directory if inside."""
    try:
        return str(study.folder.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(study.folder)


def _real_data_hint(study: StudyConfig) -> str:
    """How to get real data: ``reexport data STUDY``, and a user series the frames prefer."""
    hint = f"`reexport data {_study_arg(study)}`"
    codes = sorted({c for f in study.frames if f.prefer is not None for c in f.prefer.hs})
    if codes:
        hint += f", or `reexport import-series` for a series of code {', '.join(codes)}"
    return hint


def _coverage_lines(study: StudyConfig, coverage: Mapping[str, str]) -> list[str]:
    """``KEY data cover SPAN (the study's period: A..B)`` for each study frame (plain text)."""
    period = study.recipe.period
    wanted = "" if period is None else f" (the study's period: {period[0]}..{period[1]})"
    return [f"{key} data cover {span}{wanted}" for key, span in sorted(coverage.items())]


def _item_provenance(
    study: StudyConfig, item: Output, results_paths: Mapping[str, Path], output: Path
) -> tuple[str, str, str]:
    """``(spec, results file, produced-by commands)`` of one table or figure (plain text)."""
    commands = " && ".join(_command_lines(study, item.results_key, results_paths, output))
    if item.results_key not in study.results:  # a figure of a processed frame
        return (
            f"{study.folder / 'study.toml'} [[frame]] {item.results_key}",
            f"processed frame {item.results_key}",
            commands,
        )
    ref = study.results[item.results_key]
    return str(ref.spec), str(results_paths[item.results_key]), commands


def report_markdown(
    study: StudyConfig,
    outputs: Sequence[Output],
    card: Mapping[str, Any],
    results_paths: Mapping[str, Path],
    output: Path,
    coverage: Mapping[str, str] | None = None,
    omitted: Mapping[str, str] | None = None,
) -> str:
    """The report index: status, data, and every table and figure with its command and spec."""
    esc = tables.markdown_escape
    prose = tables.markdown_text
    code = tables.markdown_code
    coverage = coverage or {}
    synthetic = bool(card["synthetic"])
    out = [f"# {prose(tables.synthetic_title(study.title, synthetic))}", ""]
    out.append(f"Replication of {prose(study.citation)}, written by reexport {__version__}.")
    out.append("")
    if synthetic:
        out.append(
            "**SYNTHETIC DEMO DATA.** Every table, figure and the scorecard below were "
            "computed from the seeded synthetic demo vintage, not from real trade data. "
            "They show that the pipeline recovers effects planted in made-up data; they are "
            "not a replication. For the real replication, fetch the real data with network "
            f"access ({_real_data_hint(study)}) and run "
            f"`make reproduce STUDY={_study_arg(study)}` again."
        )
        out.append("")
    out.append("## Data")
    out.append("")
    for paragraph in scorecard.statement_paragraphs(card["data"]["series_statement"]):
        out.append(prose(paragraph))
        out.append("")
    recipe = study.recipe
    if recipe.commands:
        out.append("Recipe: " + " && ".join(code(c) for c in recipe.commands) + ".")
        out.append("")
    out.extend(f"- source: {prose(source)}" for source in recipe.sources)
    out.extend(f"- {esc(line)}" for line in _coverage_lines(study, coverage))
    out.extend(f"- {esc(line)}" for line in _omitted_lines(omitted or {}))
    out.append("")
    out.append("## Scorecard")
    out.append("")
    counts = ", ".join(f"{k}: {v}" for k, v in card["verdict_counts"].items() if v)
    out.append(f"[scorecard.md](scorecard.md) ([JSON](scorecard.json)); verdicts: {esc(counts)}.")
    out.append("")
    recovery = card.get("parameter_recovery") or []
    if recovery:
        hits = sum(1 for row in recovery if row["recovered"])
        out.append(
            f"Parameter recovery (synthetic demo): {hits} of {len(recovery)} planted effects "
            "lie inside the 95% confidence interval of their estimate."
        )
        out.append("")
    for kind, heading in (("table", "Tables"), ("figure", "Figures")):
        out.append(f"## {heading}")
        out.append("")
        for item in outputs:
            if item.kind != kind:
                continue
            links = ", ".join(f"[{Path(f).suffix[1:]}]({f})" for f in item.files)
            spec, results_file, commands = _item_provenance(study, item, results_paths, output)
            out.append(f"### {esc(item.id)}: {prose(item.title)}")
            out.append("")
            out.append(f"- files: {links}")
            out.append(f"- spec: {code(spec)} (results {code(results_file)})")
            if item.models:
                shown = ", ".join(item.models)
                out.append(f"- models: {esc(shown)}")
            out.append(f"- produced by: {code(commands)}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _cells(tag: str, values: Sequence[str]) -> str:
    return "<tr>" + "".join(f"<{tag}>{html.escape(str(v))}</{tag}>" for v in values) + "</tr>"


def _html_code(text: str) -> str:
    """Escaped text with its Markdown code spans (`...`) shown as ``<code>``."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _scorecard_html(card: Mapping[str, Any]) -> str:
    """The scorecard tables, with the same columns as ``scorecard.md``."""
    rows = []
    for fact in card["facts"]:
        pub = fact["published"]
        published, reproduced, verdict = scorecard.fact_cells(fact)
        rows.append(
            _cells(
                "td",
                (
                    f"{fact['id']}: {fact['statement']}",
                    fact["reading"],
                    published,
                    f"{pub['model']} / {pub['term']}",
                    reproduced,
                    verdict,
                    fact["detail"],
                ),
            )
        )
    head = (
        "Fact",
        "Reading",
        "Published",
        "Model / term",
        "Reproduced (95% CI)",
        "Verdict",
        "Why",
    )
    page = (
        '<table class="reexport-table"><caption>Replication scorecard</caption>'
        f"<thead>{_cells('th', head)}</thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    recovery = card.get("parameter_recovery") or []
    if recovery:
        cells = [
            _cells("td", (row["model"], row["term"], *scorecard.recovery_cells(row)))
            for row in recovery
        ]
        recovery_head = ("Model", "Term", "Planted", "Estimate (95% CI)", "Recovered")
        page += (
            '<table class="reexport-table"><caption>Parameter recovery on the synthetic demo '
            f"data</caption><thead>{_cells('th', recovery_head)}</thead><tbody>"
            + "".join(cells)
            + "</tbody></table>"
        )
    return page


def _data_html(
    study: StudyConfig,
    card: Mapping[str, Any],
    coverage: Mapping[str, str],
    omitted: Mapping[str, str] | None = None,
) -> str:
    """The Data section: series statement, recipe, sources, coverage, results and vintages."""
    parts = [
        f"<p>{_html_code(paragraph)}</p>"
        for paragraph in scorecard.statement_paragraphs(card["data"]["series_statement"])
    ]
    recipe = study.recipe
    if recipe.commands:
        commands = " &amp;&amp; ".join(f"<code>{html.escape(c)}</code>" for c in recipe.commands)
        parts.append(f"<p>Recipe: {commands}.</p>")
    items = [f"source: {_html_code(source)}" for source in recipe.sources]
    items += [html.escape(line) for line in _coverage_lines(study, coverage)]
    items += [html.escape(line) for line in _omitted_lines(omitted or {})]
    for res in card["data"]["results"]:
        items.append(
            f"results <code>{html.escape(str(res['file']))}</code>: data "
            f"{html.escape(str(res['data_path']))}, sha256 "
            f"<code>{html.escape(str(res['data_sha256'] or '-')[:16])}</code>, synthetic: "
            f"{str(res['synthetic']).lower()}"
        )
    vintages = card["data"].get("vintages")
    if vintages:
        items.append(f"vintages: <code>{html.escape(json.dumps(vintages, sort_keys=True))}</code>")
    if items:
        parts.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
    return "\n".join(parts)


def _item_html(
    study: StudyConfig, item: Output, results_paths: Mapping[str, Path], output: Path
) -> str:
    """Files, spec, models and the producing command of one table or figure."""
    spec, results_file, commands = _item_provenance(study, item, results_paths, output)
    files = ", ".join(f'<a href="{html.escape(f)}">{html.escape(f)}</a>' for f in item.files)
    lines = [
        f"files: {files}",
        f"spec: <code>{html.escape(spec)}</code> (results <code>{html.escape(results_file)}"
        "</code>)",
    ]
    if item.models:
        lines.append(f"models: {html.escape(', '.join(item.models))}")
    lines.append(f"produced by: <code>{html.escape(commands)}</code>")
    return "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"


def report_html(
    study: StudyConfig,
    outputs: Sequence[Output],
    card: Mapping[str, Any],
    folder: Path,
    results_paths: Mapping[str, Path],
    output: Path,
    coverage: Mapping[str, str] | None = None,
    omitted: Mapping[str, str] | None = None,
) -> str:
    """A self-contained HTML report: tables inline, figures embedded as PNG data URIs.

    It says what ``report.md`` says -- the data (recipe, sources, coverage, results files
    and vintages), and for every table and figure its files, spec, models and the
    command that produced it -- plus the scorecard with all of ``scorecard.md``'s columns.
    """
    synthetic = bool(card["synthetic"])
    title = html.escape(tables.synthetic_title(study.title, synthetic))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{padding:2px 8px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}tr.rule{border-top:1px solid #000}"
        "thead{border-bottom:1px solid #000}caption{font-weight:bold;text-align:left}"
        ".synthetic{border:3px solid #000;padding:0.5em;font-weight:bold}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>Replication of {html.escape(study.citation)}, written by reexport "
        f"{html.escape(__version__)}.</p>",
    ]
    if synthetic:
        parts.append(
            '<p class="synthetic">SYNTHETIC DEMO DATA: every table, figure and the scorecard '
            "were computed from the seeded synthetic demo vintage, not from real trade data. "
            "This is a parameter recovery check, not a replication.</p>"
        )
    parts.append("<h2>Data</h2>")
    parts.append(_data_html(study, card, coverage or {}, omitted))
    parts.append("<h2>Scorecard</h2>")
    parts.append(_scorecard_html(card))
    parts.append("<h2>Tables</h2>")
    for item in outputs:
        if item.kind != "table":
            continue
        parts.append(
            f'<h3 id="{html.escape(item.id)}">{html.escape(item.id)}: {html.escape(item.title)}</h3>'
        )
        html_file = next((f for f in item.files if f.endswith(".html")), None)
        if html_file is not None:
            parts.append((folder / html_file).read_text(encoding="utf-8"))
        parts.append(_item_html(study, item, results_paths, output))
    parts.append("<h2>Figures</h2>")
    for item in outputs:
        if item.kind != "figure":
            continue
        parts.append(
            f'<h3 id="{html.escape(item.id)}">{html.escape(item.id)}: {html.escape(item.title)}</h3>'
        )
        png = next((f for f in item.files if f.endswith(".png")), None)
        if png is not None:
            encoded = base64.b64encode((folder / png).read_bytes()).decode("ascii")
            parts.append(
                f'<img alt="{html.escape(item.title)}" src="data:image/png;base64,{encoded}">'
            )
        parts.append(_item_html(study, item, results_paths, output))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- orchestration


def _move_into_place(staging: Path, output: Path) -> None:
    """Replace the report's outputs in ``output`` by those in ``staging``; ``report.md`` last."""
    trash = Path(tempfile.mkdtemp(prefix=".report-old-", dir=output))
    try:
        for name in OWNED_OUTPUTS:
            source = staging / name
            target = output / name
            if not source.exists():
                continue
            if source.is_dir():
                if target.exists():
                    os.replace(target, trash / name)
                os.replace(source, target)
            else:
                os.replace(source, target)
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def _synthetic_marker(data: StudyData) -> str | None:
    """What in a study frame says it is the synthetic demo, in words; ``None`` if nothing does.

    ``reexport build`` marks a demo build twice: ``"synthetic": true`` in the sidecar and a
    ``synthetic`` column of True in the CSV itself (so a copied CSV still says so).
    """
    if data.meta.get("synthetic"):
        return f"the metadata sidecar of {data.path}"
    column = data.frame.get("synthetic")
    if column is not None and column.astype(str).str.strip().str.lower().eq("true").any():
        return f"the synthetic column of {data.path}"
    return None


def _results_kind(res: ResultsFile) -> str:
    """What a results file says about its data, in words, e.g. ``real data (data.synthetic = false)``."""
    flag = (res.data or {}).get("synthetic")
    recorded = "not recorded" if flag is None else str(bool(flag)).lower()
    kind = "synthetic demo data" if res.synthetic else "real data"
    return f"{kind} (data.synthetic = {recorded})"


def refuse_mixed_data(results: Mapping[str, ResultsFile], kinds: Mapping[str, str]) -> None:
    """Refuse a report whose results files mix the synthetic demo vintage with real data.

    A report is either a replication on real data or a parameter-recovery check on the
    demo; a real table inside a report headed SYNTHETIC (or the reverse) would mislabel it.

    Parameters
    ----------
    results
        The loaded results files by key.
    kinds
        Key -> what the file's data are, in words (shown in the message).

    Raises
    ------
    BadInputError
        Naming one synthetic and one real results file, with their kinds.
    """
    synthetic = [key for key, res in results.items() if res.synthetic]
    real = [key for key, res in results.items() if not res.synthetic]
    if not synthetic or not real:
        return
    demo_key, real_key = synthetic[0], real[0]
    raise BadInputError(
        "results files mix synthetic demo and real data: "
        f"{demo_key}={results[demo_key].path} is {kinds[demo_key]}, "
        f"{real_key}={results[real_key].path} is {kinds[real_key]}; "
        "estimate every spec on data built from the same kind of vintage "
        "(`reexport build`, then `reexport estimate`)"
    )


@dataclass(frozen=True)
class ReportSummary:
    """What :func:`run_report` wrote."""

    output: Path
    outputs: tuple[Output, ...]
    synthetic: bool
    verdict_counts: Mapping[str, int]


def run_report(
    study_folder: str | Path,
    *,
    results: str | None = None,
    output: str | Path | None = None,
) -> ReportSummary:
    """Write the study's tables, figures, scorecard and report index.

    Parameters
    ----------
    study_folder
        The study folder (holding ``report.toml`` and ``published_facts.json``).
    results
        Optional override of the results files (see :func:`parse_results_option`).
    output
        Output folder (default ``STUDY/output``).

    Returns
    -------
    ReportSummary

    Raises
    ------
    BadInputError
        A missing or older-schema results file, results files that mix the synthetic demo
        vintage with real data, a model without a requested term, a study without published
        facts, an empty robustness battery, or data that changed since estimation.  Nothing is moved into the output folder in that case.
    """
    study = load_study(study_folder)
    out_dir = Path(output) if output is not None else study.folder / "output"
    study, omitted = without_unbuilt_frames(study)
    paths = parse_results_option(results, study)
    loaded = {key: ResultsFile.load(path) for key, path in paths.items()}
    kinds = {key: _results_kind(res) for key, res in loaded.items()}
    refuse_mixed_data(loaded, kinds)
    data = {key: load_study_data(res, study.results[key].columns) for key, res in loaded.items()}
    for key, frame_data in data.items():
        # A synthetic sidecar or `synthetic` column marks the estimates synthetic even if
        # the results file did not record the flag: demo data must never pass for real data.
        marked_by = _synthetic_marker(frame_data)
        if marked_by and not loaded[key].synthetic:
            res = loaded[key]
            loaded[key] = dataclasses.replace(res, data={**(res.data or {}), "synthetic": True})
            kinds[key] = f"synthetic demo data ({marked_by})"
    refuse_mixed_data(loaded, kinds)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".report-tmp-", dir=out_dir))
    try:
        outputs = build_tables(study, loaded, staging)
        outputs += build_figures(study, loaded, data, staging)
        world_key = next(iter(study.results))
        world = data.get(world_key)
        planted = {(p.model, p.term): p.value for p in study.planted}
        card = scorecard.build_scorecard(
            study.facts,
            list(loaded.values()),
            frame=None if world is None else world.frame,
            data_meta=None if world is None else world.meta,
            planted=planted,
            frames=estimated_frames(study, data),
        )
        atomic_write_text(staging / "scorecard.json", scorecard.scorecard_json(card))
        atomic_write_text(staging / "scorecard.md", scorecard.scorecard_markdown(card))
        coverage = describe_coverage(data)
        atomic_write_text(
            staging / "report.html",
            report_html(study, outputs, card, staging, paths, out_dir, coverage, omitted),
        )
        atomic_write_bytes(
            staging / "report.md",
            report_markdown(study, outputs, card, paths, out_dir, coverage, omitted).encode(
                "utf-8"
            ),
        )
        _move_into_place(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("report for %s written to %s", study.folder, out_dir)
    return ReportSummary(
        output=out_dir,
        outputs=tuple(outputs),
        synthetic=bool(card["synthetic"]),
        verdict_counts=dict(card["verdict_counts"]),
    )


def report_cli(
    study: str | None = None, results: str | None = None, output: str | None = None
) -> int:
    """``reexport report [STUDY] [--results ...] [--output DIR]``: print what was written."""
    summary = run_report(
        study if study is not None else default_folder(), results=results, output=output
    )
    if summary.synthetic:
        print(
            "SYNTHETIC DEMO DATA: the report shows a parameter recovery check, not a replication."
        )
    for item in summary.outputs:
        print(f"{item.kind} {item.id}: {', '.join(item.files)}")
    counts = ", ".join(f"{k}: {v}" for k, v in summary.verdict_counts.items() if v)
    print(f"scorecard: {summary.output / 'scorecard.md'} ({counts})")
    print(f"report: {summary.output / 'report.md'} and report.html")
    return 0


def estimate_cli(
    spec: str | None = None,
    output: str | None = None,
    diagnostics: bool = False,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> int:
    """``reexport estimate SPEC|STUDY [--output FILE|DIR] [--diagnostics] [--jobs N | --scheduler]``.

    A TOML file is one model spec (:func:`reexport.models.run.estimate_cli`).  A study
    folder (holding ``study.toml``), or nothing (the default study), estimates every
    ``[[estimate]]`` of its declaration into ``DIR/<name>.json`` (default
    ``STUDY/output/results``).  ``jobs`` / ``scheduler`` choose the executor of each
    spec's models (:func:`reexport.models.battery.open_battery`).

    Returns
    -------
    int
        0 on success.
    """
    from reexport.models import run

    target = Path(spec) if spec is not None else None
    if target is not None and not target.is_dir() and target.name != DECLARATION:
        return run.estimate_cli(
            str(target), output=output, diagnostics=diagnostics, jobs=jobs, scheduler=scheduler
        )
    declared = load_declaration(target)
    if not declared.estimates:
        raise BadInputError(f"{declared.path}: no [[estimate]] tables (what should be estimated?)")
    out_dir = Path(output) if output is not None else declared.folder / "output" / "results"
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"--output {out_dir}: for a study folder, a folder of results files")
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in declared.estimates:
        target_file = out_dir / f"{item.name}.json"
        frame = unbuilt_optional_frame(declared.frames, item.spec)
        if frame is not None:
            # A results file left from a build that had the frame would describe data
            # that no longer exist: the report would refuse it, so it goes too.
            stale = target_file.is_file()
            target_file.unlink(missing_ok=True)
            print(
                f"estimate {item.name}: skipped: the optional frame {frame!r} was not built "
                f"(see build_report.json)" + (f"; removed the stale {target_file}" if stale else "")
            )
            continue
        run.estimate_cli(
            str(item.spec),
            output=str(target_file),
            diagnostics=diagnostics,
            jobs=jobs,
            scheduler=scheduler,
        )
    return 0
