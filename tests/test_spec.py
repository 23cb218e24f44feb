"""Spec TOML: validation, defaults, variant expansion, processed datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reexport.errors import BadInputError
from reexport.models.spec import CovSpec, SampleSpec, StudySpec, load_spec

DATA = """
[data]
path = "panel.csv"
entity = "firm"
time = "period"
"""


def _write(tmp_path: Path, body: str, data: str = DATA) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(data + body, encoding="utf-8")
    return path


def _load(tmp_path: Path, body: str, data: str = DATA) -> StudySpec:
    return load_spec(_write(tmp_path, body, data))


def _error(tmp_path: Path, body: str, data: str = DATA) -> str:
    with pytest.raises(BadInputError) as info:
        _load(tmp_path, body, data)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_minimal_model_gets_documented_defaults(tmp_path: Path) -> None:
    spec = _load(tmp_path, '[[model]]\nname = "m"\nformula = "y ~ x"\n')
    (model,) = spec.models
    assert model.estimator == "ols"
    assert model.effects == ()
    assert model.cov == CovSpec(type="nonrobust")
    assert (model.entity, model.time) == ("firm", "period")
    assert model.group is None and dict(model.variant) == {}
    assert model.where == f"{tmp_path / 'spec.toml'} [model m]"
    assert spec.data.path == tmp_path / "panel.csv"
    assert dict(spec.labels) == {}


def test_full_model(tmp_path: Path) -> None:
    spec = _load(
        tmp_path,
        """
[labels]
"L(GPR, 4)" = "GPR (t-4)"

[[model]]
name = "twfe"
label = "Two-way FE"
formula = "y ~ L(GPR, 4)"
estimator = "panel"
effects = ["time", "entity"]
cov = { type = "cluster", by = ["firm", "period"], small_sample = false }
sample = { start = "2017-01", end = "2021-12", exclude_years = [2020] }

[[model]]
name = "dk"
formula = "y ~ x"
cov = { type = "driscoll-kraay", lags = 0, kernel = "parzen" }
""",
    )
    twfe, dk = spec.models
    assert twfe.effects == ("entity", "time")  # canonical order
    assert twfe.cov == CovSpec(type="cluster", by=("firm", "period"), small_sample=False)
    assert twfe.sample == SampleSpec(start="2017-01", end="2021-12", exclude_years=(2020,))
    assert twfe.label == "Two-way FE"
    assert dk.cov == CovSpec(type="driscoll-kraay", lags=0, kernel="parzen")
    assert dict(spec.labels) == {"L(GPR, 4)": "GPR (t-4)"}


def test_cluster_by_a_single_name(tmp_path: Path) -> None:
    spec = _load(
        tmp_path,
        '[[model]]\nname = "m"\nformula = "y ~ x"\ncov = { type = "cluster", by = "firm" }\n',
    )
    assert spec.models[0].cov.by == ("firm",)


# --- variants -------------------------------------------------------------------------


def test_lag_profile_expands_to_one_model_per_lag(tmp_path: Path) -> None:
    spec = _load(
        tmp_path,
        """
[[model]]
name = "lag{lag}"
formula = "np.log(y) ~ np.log(L(GPR, {lag}))"
cov = { type = "hac", lags = 4 }
[model.vary]
lag = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
""",
    )
    assert [m.name for m in spec.models] == [f"lag{k}" for k in range(13)]
    assert spec.models[4].formula == "np.log(y) ~ np.log(L(GPR, 4))"
    assert {m.group for m in spec.models} == {"lag{lag}"}
    assert [dict(m.variant) for m in spec.models] == [{"lag": k} for k in range(13)]
    assert spec.models[4].where.endswith("[model lag4]")


def test_variants_are_a_cartesian_product_and_unnamed_keys_become_a_suffix(
    tmp_path: Path,
) -> None:
    spec = _load(
        tmp_path,
        """
[[model]]
name = "idx_{index}"
formula = "y ~ L({index}, {lag})"
cov = { type = "driscoll-kraay", lags = 4 }
[model.vary]
index = ["GPR", "GPRT", "GPRA"]
lag = [1, 4]
sample = [{start = "2017-01", end = "2021-12"}, {exclude_years = [2022], label = "no2022"}]
cov_lags = [2, 6]
""",
    )
    assert len(spec.models) == 3 * 2 * 2 * 2
    names = [m.name for m in spec.models]
    assert len(set(names)) == len(names)
    first = spec.models[0]
    assert first.name == "idx_GPR[lag=1, sample=2017-01..2021-12, cov_lags=2]"
    assert first.formula == "y ~ L(GPR, 1)"
    assert first.sample == SampleSpec(start="2017-01", end="2021-12")
    assert first.cov == CovSpec(type="driscoll-kraay", lags=2)
    assert dict(first.variant) == {
        "index": "GPR",
        "lag": 1,
        "sample": {"start": "2017-01", "end": "2021-12"},
        "cov_lags": 2,
    }
    last = spec.models[-1]
    assert last.name == "idx_GPRA[lag=4, sample=no2022, cov_lags=6]"
    assert last.sample == SampleSpec(exclude_years=(2022,), label="no2022")
    assert last.cov.lags == 6


def test_alternative_covariances_as_variants(tmp_path: Path) -> None:
    spec = _load(
        tmp_path,
        """
[[model]]
name = "se"
formula = "y ~ x"
[model.vary]
cov = [{type = "robust"}, {type = "hac", lags = 3}]
""",
    )
    assert [m.name for m in spec.models] == ["se[cov=robust]", "se[cov=hac(3)]"]
    assert spec.models[1].cov == CovSpec(type="hac", lags=3)


def test_formulaic_braces_survive_placeholder_substitution(tmp_path: Path) -> None:
    spec = _load(
        tmp_path,
        '[[model]]\nname = "m{k}"\nformula = "y ~ {x**2} + L(x, {k})"\n[model.vary]\nk = [1]\n',
    )
    assert spec.models[0].formula == "y ~ {x**2} + L(x, 1)"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('name = "m"\nformula = "y ~ x"\n[model.vary]\nlag = [1, 2]\n', "'lag' is not used"),
        ('name = "m{lg}"\nformula = "y ~ L(x, {lag})"\n[model.vary]\nlag = [1]\n', "{lg}"),
        ('name = "m{lag}"\nformula = "y ~ L(x, {lag})"\n[model.vary]\nlag = []\n', "non-empty"),
        ('name = "m"\nformula = "y ~ x"\n[model.vary]\ncov_lags = [1]\n', "cov table"),
        (
            'name = "m"\nformula = "y ~ x"\nsample = {start = "2018-01"}\n'
            '[model.vary]\nsample = [{end = "2019-01"}]\n',
            "both set and varied",
        ),
    ],
)
def test_bad_variants(tmp_path: Path, body: str, needle: str) -> None:
    assert needle in _error(tmp_path, "[[model]]\n" + body)


def test_placeholder_without_vary(tmp_path: Path) -> None:
    message = _error(tmp_path, '[[model]]\nname = "lag{lag}"\nformula = "y ~ x"\n')
    assert "{lag}" in message and "no [model.vary]" in message


def test_duplicate_model_names(tmp_path: Path) -> None:
    body = '[[model]]\nname = "m"\nformula = "y ~ x"\n' * 2
    assert "duplicate model name 'm'" in _error(tmp_path, body)


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('nmae = "m"\nname = "m"\nformula = "y ~ x"', ["[model m]", "unknown key 'nmae'"]),
        ('name = "m"\nformula = "y ~ x"\ncov = { type = "hac", lag = 2 }', ["unknown key 'lag'"]),
        ('name = "m"\nformula = "y ~ x"\nestimator = "gmm"', ["[model m]", "estimator 'gmm'"]),
        ('name = "m"\nformula = "y ~ x"\ncov = { type = "hc3" }', ["covariance type 'hc3'"]),
        ('name = "m"\nformula = "y ~ x"\ncov = { type = "hac" }', ["explicit 'lags'"]),
        ('name = "m"\nformula = "y ~ x"\ncov = { type = "driscoll-kraay" }', ["explicit 'lags'"]),
        ('name = "m"\nformula = "y ~ x"\ncov = { type = "hac", lags = -1 }', ["non-negative"]),
        ('name = "m"\nformula = "y ~ x"\ncov = { type = "hac", lags = true }', ["non-negative"]),
        ('name = "m"\nformula = "y ~ x"\ncov = { type = "hac", lags = 2.5 }', ["non-negative"]),
        ('name = "m"\nformula = "y ~ x"\ncov = { type = "robust", lags = 2 }', ["no meaning"]),
        ('name = "m"\nformula = "y ~ x"\ncov = { type = "cluster" }', ["one or two"]),
        (
            'name = "m"\nformula = "y ~ x"\ncov = { type = "cluster", by = ["a", "b", "c"] }',
            ["one or two"],
        ),
        ('name = "m"\nformula = "y ~ x"\ncov = { type = "robust", by = "firm" }', ["no meaning"]),
        ('name = "m"\nformula = "y ~ x"\neffects = ["entity"]', ["need estimator"]),
        ('name = "m"\nformula = "y ~ x"\nestimator = "panel"\neffects = ["a^"]', ["'a^'", "empty"]),
        ('name = "m"\nformula = "y ~ x"\nestimator = "ppml"\neffects = ["a^b^a"]', ["repeats"]),
        ('name = "m"\nformula = "y ~ x"\nestimator = "panel"\neffects = ["a", "a"]', ["repeated"]),
        ('name = "m"\nformula = "y ~ x | a | b"\nestimator = "panel"', ["more than one '|'"]),
        ('name = "m"\nformula = "y ~ x |"\nestimator = "panel"', ["after '|'"]),
        ('name = "m"\nformula = "y ~ x | a"\nestimator = "ols"', ["need estimator"]),
        ('name = "m"\nformula = "y ~ x"\nweights = 3', ["'weights'", "non-empty string"]),
        ('name = "m"\nformula = "y ~ x"\nweights = "w"\nweights_type = "pweight"', ["'pweight'"]),
        ('name = "m"\nformula = "y ~ x"\nweights_type = "fweight"', ["without 'weights'"]),
        ('name = "m"\nformula = "y ~ x"\ndrop_singletons = "no"', ["'drop_singletons'"]),
        ('name = "m"\nformula = "y x"', ["'formula'"]),
        ('formula = "y ~ x"', ["missing or empty 'name'"]),
        ('name = "m"\nformula = "y ~ x"\nsample = { begin = "2017-01" }', ["unknown key 'begin'"]),
        ('name = "m"\nformula = "y ~ x"\nsample = { start = "Jan 2017" }', ["not YYYY-MM"]),
        ('name = "m"\nformula = "y ~ x"\nsample = {}', ["empty sample"]),
    ],
)
def test_bad_models(tmp_path: Path, body: str, needles: list[str]) -> None:
    message = _error(tmp_path, "[[model]]\n" + body + "\n")
    for needle in needles:
        assert needle in message, message


def test_effects_by_name_interactions_and_new_model_keys(tmp_path: Path) -> None:
    spec = _load(
        tmp_path,
        """
[[model]]
name = "gravity"
formula = "trade ~ rta | exporter ^ year + importer^year"
estimator = "ppml"
effects = ["exporter^importer", "time"]
cov = { type = "cluster", by = "exporter^importer" }
weights = "w"
weights_type = "fweight"
drop_singletons = false

[[model]]
name = "plain"
formula = "y ~ x"
estimator = "panel"
effects = ["entity", "region"]
""",
    )
    gravity, plain = spec.models
    assert gravity.formula == "trade ~ rta"
    # entity/time first, then the others as written (formula part before the key's).
    assert gravity.effects == ("time", "exporter^year", "importer^year", "exporter^importer")
    assert gravity.columns_of("exporter^year") == ("exporter", "year")
    assert gravity.columns_of("time") == ("period",)
    assert (gravity.weights, gravity.weights_type, gravity.drop_singletons) == (
        "w",
        "fweight",
        False,
    )
    assert gravity.data_columns() == ("period", "exporter", "year", "importer", "w")
    assert plain.effects == ("entity", "region")
    assert (plain.weights, plain.weights_type, plain.drop_singletons) == (None, "aweight", True)


def test_unknown_top_level_and_data_keys(tmp_path: Path) -> None:
    assert "unknown key 'modle'" in _error(tmp_path, '[[modle]]\nname = "m"\n')
    message = _error(
        tmp_path, '[[model]]\nname = "m"\nformula = "y ~ x"\n', DATA + 'entiy = "firm"\n'
    )
    assert "[data]" in message and "unknown key 'entiy'" in message


def test_panel_needs_entity_and_time(tmp_path: Path) -> None:
    data = '[data]\npath = "ts.csv"\ntime = "period"\n'
    message = _error(
        tmp_path, '[[model]]\nname = "fe"\nformula = "y ~ x"\nestimator = "panel"\n', data
    )
    assert "[model fe]" in message and "entity and time" in message


def test_hac_needs_time(tmp_path: Path) -> None:
    data = '[data]\npath = "cs.csv"\n'
    message = _error(
        tmp_path, '[[model]]\nname = "m"\nformula = "y ~ x"\ncov = {type="hac", lags=1}\n', data
    )
    assert "needs a [data] time column" in message


def test_missing_sections_and_bad_toml(tmp_path: Path) -> None:
    assert "no [[model]]" in _error(tmp_path, "")
    assert "no [data]" in _error(tmp_path, '[[model]]\nname = "m"\nformula = "y ~ x"\n', "")
    message = _error(tmp_path, "[[model]\nname = 'm'\n")
    assert "bad TOML" in message and "spec.toml" in message
    with pytest.raises(BadInputError, match="does not exist"):
        load_spec(tmp_path / "absent.toml")


def test_processed_dataset_resolves_under_the_data_root(tmp_path: Path, data_root: Path) -> None:
    data = '[data]\npath = "processed:study_world"\ntime = "period"\n'
    spec = _load(tmp_path, '[[model]]\nname = "m"\nformula = "y ~ x"\n', data)
    assert spec.data.processed == "study_world"
    assert spec.data.path == data_root / "processed" / "study_world.csv"
    assert spec.data.synthetic() is None
    meta = data_root / "processed" / "study_world.meta.json"
    meta.write_text(json.dumps({"synthetic": True}), encoding="utf-8")
    assert spec.data.synthetic() is True
    meta.write_text("{not json", encoding="utf-8")
    with pytest.raises(BadInputError, match="study_world.meta.json"):
        spec.data.synthetic()


def test_processed_name_must_be_a_plain_name(tmp_path: Path) -> None:
    data = '[data]\npath = "processed:../../etc/passwd"\n'
    assert "bad processed dataset name" in _error(
        tmp_path, '[[model]]\nname = "m"\nformula = "y ~ x"\n', data
    )


def test_every_example_in_the_spec_reference_parses() -> None:
    import re
    import tomllib

    from reexport.models.spec import parse_spec

    reference = Path(__file__).resolve().parents[1] / "docs" / "spec_reference.md"
    blocks = re.findall(r"```toml\n(.*?)```", reference.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    data = '[data]\npath = "x.csv"\ntime = "period"\n'
    counts = []
    for block in blocks:
        document = tomllib.loads(block if "[data]" in block else data + block)
        counts.append(len(parse_spec(document, Path("doc.toml")).models))
    assert counts == [14, 1, 1, 36]  # the counts the reference states
