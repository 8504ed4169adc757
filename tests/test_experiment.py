"""graphcollapse experiment (docs/experiments.md): small runs of each scikit-learn model
(shapes, determinism by seed, the trend test's bookkeeping), the command line's outputs
and its one-line errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the experiment needs the 'experiments' extra (scikit-learn)")

from graphcollapse.theory.builders import chain, self_training  # noqa: E402
from graphcollapse.theory.errors import GraphValueError  # noqa: E402
from graphcollapse.theory.graph import save_graph  # noqa: E402
from graphcollapse.verify.cli import main  # noqa: E402
from graphcollapse.verify.experiment import METRICS, MODELS, digits_split, run_experiment  # noqa: E402

SMALL = chain(2, real_samples=[100, 50], samples=100, initial_samples=100)


@pytest.mark.parametrize("model", MODELS)
def test_small_run_shapes_and_determinism(model):
    """Each model runs on a two-learner chain; the same seed gives identical numbers, another seed different ones."""
    a = run_experiment(SMALL, model, 1, 2, seed=7)
    b = run_experiment(SMALL, model, 1, 2, seed=7)
    c = run_experiment(SMALL, model, 1, 2, seed=8)
    for m in METRICS:
        assert a.values[m].shape == (2, 2, 2)
        assert np.all(np.isfinite(a.values[m]))
        np.testing.assert_array_equal(a.values[m], b.values[m])
    assert not np.array_equal(a.values["frechet"], c.values["frechet"])
    assert a.samples.shape == (2, 2, 10, 64)
    assert np.all((a.values["accuracy"] >= 0) & (a.values["accuracy"] <= 1))


def test_quality_is_sane_at_generation_zero():
    """Sanity of the metrics: a model fitted on 300 real images classifies real digits well (accuracy > 0.8)."""
    res = run_experiment(self_training(real_samples=0, samples=300, initial_samples=300), "gaussian", 0, 1, seed=1)
    assert res.values["accuracy"][0, 0, 0] > 0.8
    assert res.values["frechet"][0, 0, 0] < 5


def test_trend_tests_need_generations_and_replications():
    """The trend test is not assessed with fewer than 3 generations in its window, and is with enough."""
    short = run_experiment(SMALL, "kde", 2, 2, seed=3)
    assert all(e["degrades"] is None for e in short.trend_tests().values())
    long = run_experiment(SMALL, "kde", 4, 2, seed=3)
    out = long.trend_tests()
    assert set(out) == {"L0", "L1"}
    assert all(isinstance(e["p_value"], float) and e["predicted_collapse"] is False for e in out.values())


def test_digits_split_is_fixed_and_disjoint():
    data = digits_split()
    assert len(data.X_train) + len(data.X_test) == 1797
    assert sorted(np.bincount(data.y_test).tolist())[0] >= 50


def test_cli_outputs(tmp_path, capsys):
    """JSON on stdout, the CSV has one row per replication, generation and learner, figures are written."""
    g = tmp_path / "g.json"
    save_graph(SMALL, g)
    out = tmp_path / "rows.csv"
    fig = tmp_path / "fig.png"
    grid = tmp_path / "grid.png"
    status = main(["experiment", str(g), "--model", "kde", "-T", "1", "-R", "2", "--seed", "1", "--json",
                   "--csv", str(out), "--plot", str(fig), "--samples-grid", str(grid)])
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert data["completed"] == 2 and data["model"] == "kde"
    assert len(data["per_generation"]["frechet"]["L1"]["mean"]) == 2
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 * 2 * 2 and set(rows[0]) == {"replication", "generation", "learner", *METRICS}
    assert fig.stat().st_size > 0 and grid.stat().st_size > 0


@pytest.mark.parametrize("argv,needle", [
    pytest.param(["--model", "vae"], "--model", id="unknown-model"),
    pytest.param(["--alpha", "2"], "--alpha", id="alpha"),
    pytest.param(["-R", "0"], "--replications", id="replications"),
    pytest.param(["--plot", "x.gif"], "--plot", id="figure-format"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, argv, needle):
    g = tmp_path / "g.json"
    save_graph(SMALL, g)
    assert main(["experiment", str(g), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0]


def test_too_few_samples_is_refused(tmp_path, capsys):
    """A learner with fewer than 10 images per class is refused with the fix (--sample-scale)."""
    g = tmp_path / "g.json"
    save_graph(self_training(real_samples=0, samples=40, initial_samples=40), g)
    assert main(["experiment", str(g), "-T", "1", "-R", "1"]) == 2
    err = capsys.readouterr().err
    assert "--sample-scale" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(GraphValueError, match="sample-scale"):
        run_experiment(self_training(real_samples=0, samples=40, initial_samples=40), "gmm", 1, 1, seed=0)


def test_interrupt_keeps_finished_replications():
    """Ctrl-C (KeyboardInterrupt) after the first replication keeps it and marks the result interrupted;
    before any replication finished it propagates."""
    def stop(done, total):
        raise KeyboardInterrupt

    res = run_experiment(SMALL, "kde", 0, 3, seed=1, progress=stop)
    assert res.interrupted and res.completed == 1 and res.values["frechet"].shape == (1, 1, 2)
    full = run_experiment(SMALL, "kde", 0, 1, seed=1)
    np.testing.assert_array_equal(res.values["frechet"][0], full.values["frechet"][0])
