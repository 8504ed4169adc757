"""Sweeps (verify/sweep.py): identical results whatever the scheduler, resume after an
interruption or a lost worker, recomputation of changed cells only, one-line spec errors,
and the symbolic fast path equal to the per-cell analysis.

The Monte Carlo cells are small (d = 2, 3 generations, 300 replications); what these tests
check is bookkeeping and determinism (bit-identical records), not the statistics, which
tests/test_verify.py covers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from graphcollapse.theory.errors import GraphValueError
from graphcollapse.verify.sweep import expand_cells, load_spec, read_table, run_sweep, sweep_summary

MC_SPEC = {
    "seed": 11,
    "graph": {"builder": "cycle", "K": 2, "dimension": 2, "initial_samples": 20},
    "axes": [
        {"field": "L0.real_samples,L1.real_samples", "values": [0, 4, 8], "name": "m"},
        {"field": "L0->L1.samples,L1->L0.samples", "values": [6, 12], "name": "n"},
    ],
    "theory": {"theory": "exact"},
    "montecarlo": {"generations": 3, "replications": 300},
}
TIMING_KEYS = ("seconds", "cpu_seconds")


def _records(out: Path) -> dict[str, dict]:
    recs = {}
    for p in sorted((out / "cells").glob("*.json")):
        rec = json.loads(p.read_text())
        for k in TIMING_KEYS:
            rec.pop(k)
        recs[p.stem] = rec
    return recs


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The sweep run in this process (workers=1): the reference every scheduler must match."""
    out = tmp_path_factory.mktemp("reference")
    r = run_sweep(MC_SPEC, out, workers=1)
    assert (r.cells, r.computed, r.failed) == (6, 6, 0)
    return out


@pytest.fixture(scope="module")
def cluster():
    """A real dask.distributed LocalCluster: two single-threaded worker processes on localhost."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as c:
        yield c


def test_reference_table_is_tidy(reference):
    """One row per cell, learner and generation, axes as columns, Monte Carlo next to the theory."""
    t = read_table(reference)
    assert len(t) == 6 * 2 * 4
    assert {"m", "n", "learner", "generation", "theory_risk", "mc_mean", "mc_se", "mc_z", "agrees"} <= set(t.columns)
    assert set(t[t["m"] == 0]["collapses"]) == {True} and set(t[t["m"] > 0]["collapses"]) == {False}
    np.testing.assert_allclose(t["mc_z"], (t["mc_mean"] - t["theory_risk"]) / t["mc_se"], rtol=1e-12)
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["versions"]["numpy"] == np.__version__
    assert len({c["seed"] for c in manifest["cells"]}) == 6


def test_local_pool_identical_after_a_worker_dies(tmp_path):
    """The local pool (2 processes) gives the records of a run in this process; a worker
    killed (SIGKILL) after the first finished batch breaks the pool, which is rebuilt, and
    only the lost batches run again. (Monte Carlo records across processes: the dask test.)"""
    psutil = pytest.importorskip("psutil")
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        if not killed:  # pool workers are the forkserver's children (grandchildren of this process)
            workers = [p for p in psutil.Process().children(recursive=True) if p.ppid() != os.getpid()]
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(workers[0].pid)

    spec = {k: v for k, v in MC_SPEC.items() if k != "montecarlo"}  # theory cells: no simulator to load
    spec["theory"] = {"theory": "exact", "generations": 3}
    r = run_sweep(spec, tmp_path / "pool", workers=2, progress=progress)
    assert killed and r.failed == 0 and r.cells == 6
    run_sweep(spec, tmp_path / "here", workers=1)
    assert _records(tmp_path / "pool") == _records(tmp_path / "here")


def test_dask_cluster_identical(reference, tmp_path, cluster):
    """The same sweep on the LocalCluster gives bit-identical cell records and the same table."""
    r = run_sweep(MC_SPEC, tmp_path, scheduler=cluster.scheduler_address)
    assert r.computed == 6
    assert _records(tmp_path) == _records(reference)
    a, b = read_table(tmp_path), read_table(reference)
    assert a.equals(b)


def test_scheduler_local_starts_its_own_cluster(reference, tmp_path, capsys):
    """``--scheduler local`` starts a LocalCluster of ``--workers`` processes (forked from
    the preloaded forkserver) and gives the records of the reference; the manifest says so."""
    pytest.importorskip("distributed")
    from graphcollapse.verify.cli import main

    spec = tmp_path / "spec.toml"  # MC_SPEC in TOML
    spec.write_text(
        'seed = 11\n'
        '[graph]\nbuilder = "cycle"\nK = 2\ndimension = 2\ninitial_samples = 20\n'
        '[[axes]]\nfield = "L0.real_samples,L1.real_samples"\nvalues = [0, 4, 8]\nname = "m"\n'
        '[[axes]]\nfield = "L0->L1.samples,L1->L0.samples"\nvalues = [6, 12]\nname = "n"\n'
        '[theory]\ntheory = "exact"\n'
        '[montecarlo]\ngenerations = 3\nreplications = 300\n')
    assert [c.key for c in expand_cells(load_spec(spec))] == [c.key for c in expand_cells(load_spec(MC_SPEC))]
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--scheduler", "local", "--workers", "2",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["computed"] == 6
    assert _records(tmp_path / "o") == _records(reference)
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["scheduler"] == "dask LocalCluster"


def test_worker_killed_then_resume(reference, tmp_path, cluster):
    """A worker process killed (SIGKILL) mid-sweep: the cells it held are lost at most; the
    sweep (rescheduled by dask, or rerun) ends with every cell identical to the reference."""
    from distributed import Client

    spec = MC_SPEC
    ref = reference
    out = tmp_path / "run"
    with Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
    errors: list[BaseException] = []

    def go() -> None:
        try:
            run_sweep(spec, out, scheduler=cluster.scheduler_address)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    th = threading.Thread(target=go)
    th.start()
    deadline = time.time() + 30
    while not list((out / "cells").glob("*.json")) and time.time() < deadline:
        time.sleep(0.02)
    os.kill(pids[0], signal.SIGKILL)
    th.join(60)
    assert not th.is_alive()
    r = run_sweep(spec, out, scheduler=cluster.scheduler_address)
    assert r.computed + r.reused == 6
    assert _records(out) == _records(ref)


def test_sigint_then_resume(reference, tmp_path):
    """`graphcollapse sweep` sent SIGINT mid-way exits 130 with the finished cells on disk;
    the rerun computes only the rest and the result equals the reference."""
    # 60 cells: enough that the sweep cannot finish between seeing two cells and the signal
    spec = dict(MC_SPEC, axes=[dict(MC_SPEC["axes"][0], values=list(range(0, 60, 2))), MC_SPEC["axes"][1]])
    path = tmp_path / "spec.toml"
    path.write_text(_toml(spec))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "graphcollapse.verify.cli", "sweep", str(path), "--out", str(out),
                             "--workers", "1", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while len(list((out / "cells").glob("*.json"))) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    done = len(list((out / "cells").glob("*.json")))
    assert 2 <= done < 60
    assert json.loads((out / "manifest.json").read_text())["interrupted"] is True
    r = run_sweep(spec, out, workers=1)
    assert (r.reused, r.computed) == (done, 60 - done)
    mine, ref = _records(out), _records(reference)
    assert len(mine) == 60 and {k: mine[k] for k in ref} == ref  # the reference's cells are among these


def test_workers_lost_keeps_finished_cells_and_writes_the_manifest(reference, tmp_path, monkeypatch, capsys):
    """Workers that keep dying stop the sweep with a one-line error; the cells finished
    before are on disk, the manifest says why it stopped, sweep-report repeats it, and the
    rerun computes only the rest (to the reference's records)."""
    from graphcollapse.verify import sweep as sweep_module
    from graphcollapse.verify.cli import main

    def dying(batches, workers, done):
        done(sweep_module._compute_batch(batches[0]))
        raise sweep_module.WorkersLostError("sweep: worker processes died 4 times; 5 tasks are left "
                                            "(rerun the sweep to resume)")

    monkeypatch.setattr(sweep_module, "_run_local", dying)
    out = tmp_path / "out"
    with pytest.raises(GraphValueError, match="died 4 times"):
        run_sweep(MC_SPEC, out, workers=2)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["interrupted"] is True and "died 4 times" in manifest["error"]
    assert manifest["counts"]["computed"] == 1 and manifest["counts"]["left"] == 5
    assert main(["sweep-report", str(out)]) == 0
    assert "stopped by: sweep: worker processes died 4 times" in capsys.readouterr().out
    monkeypatch.undo()
    r = run_sweep(MC_SPEC, out, workers=1)
    assert (r.reused, r.computed) == (1, 5)
    assert _records(out) == _records(reference)


def test_changed_spec_recomputes_only_changed_cells(reference, tmp_path):
    out = tmp_path / "out"
    theory_only = {k: v for k, v in MC_SPEC.items() if k != "montecarlo"}
    assert run_sweep(theory_only, out, workers=1).computed == 6
    changed = dict(theory_only, axes=[dict(MC_SPEC["axes"][0], values=[0, 4, 9]), MC_SPEC["axes"][1]])
    r = run_sweep(changed, out, workers=1)
    assert (r.computed, r.reused) == (2, 4)
    assert run_sweep(dict(changed, seed=12), out, workers=1).computed == 6  # the seed is part of the identity
    assert len(read_table(out)) == 6 * 2


def test_cell_seed_depends_on_sweep_seed_and_content_only():
    a = expand_cells(load_spec(MC_SPEC))
    b = expand_cells(load_spec(dict(MC_SPEC, axes=MC_SPEC["axes"][::-1])))  # another grid order
    assert {c.key: c.seed for c in a} == {c.key: c.seed for c in b}


def test_zip_axes_and_graph_parameters():
    spec = {"seed": 1, "graph": {"builder": "chain", "K": 2},
            "axes": [{"field": "graph.K", "values": [2, 3, 4], "zip": "z"},
                     {"field": "L0.real_samples", "values": [5, 6, 7], "zip": "z"},
                     {"field": "graph.builder", "values": ["chain", "cycle"]}]}
    cells = expand_cells(load_spec(spec))
    assert [(c.values["graph.K"], c.values["L0.real_samples"], c.values["graph.builder"]) for c in cells] == [
        (2, 5, "chain"), (2, 5, "cycle"), (3, 6, "chain"), (3, 6, "cycle"), (4, 7, "chain"), (4, 7, "cycle")]
    assert [len(c.graph["models"]) for c in cells] == [2, 2, 3, 3, 4, 4]


BAD_SPECS = [
    pytest.param({"graph": {"builder": "cycle", "K": 2}}, r"^sweep spec: seed: missing", id="no-seed"),
    pytest.param({"seed": 1, "graph": {"builder": "cycle", "K": 2}, "extra": 1}, r"^sweep spec: extra: unknown key",
                 id="unknown-top-key"),
    pytest.param({"seed": 1, "graph": {"builder": "cycle", "K": 2, "colour": 1}}, r"^sweep spec: graph.colour: not a parameter",
                 id="unknown-builder-parameter"),
    pytest.param({"seed": 1, "graph": {"builder": "cycle", "K": 2}, "axes": [{"field": "L0.colour", "values": [1]}]},
                 r"^sweep spec: axes\[0\].field: unknown field 'L0.colour'", id="unknown-field"),
    pytest.param({"seed": 1, "graph": {"builder": "cycle", "K": 2}, "axes": [{"field": "L7.real_samples", "values": [1]}]},
                 r"^sweep spec: axes\[0\].field: unknown learner 'L7'", id="unknown-learner"),
    pytest.param({"seed": 1, "graph": {"builder": "cycle", "K": 2}, "axes": [{"field": "L0.real_samples", "values": [1], "step": 2}]},
                 r"^sweep spec: axes\[0\].step: unknown key", id="unknown-axis-key"),
    pytest.param({"seed": 1, "graph": {"builder": "cycle", "K": 2},
                  "axes": [{"field": "L0.real_samples", "values": [1, 2], "zip": "a"},
                           {"field": "L1.real_samples", "values": [1], "zip": "a"}]},
                 r"^sweep spec: axes\[1\].values: zip group 'a' needs equal lengths", id="zip-lengths"),
    pytest.param({"seed": 1, "graph": {"builder": "cycle", "K": 2}, "montecarlo": {"generations": 2}},
                 r"^sweep spec: montecarlo.replications: missing", id="mc-missing-key"),
    pytest.param({"seed": 1, "graph": {"builder": "cycle", "K": 2}, "theory": {"theory": "asymptotic"}},
                 r"^sweep spec: theory.theory: ", id="bad-theory"),
]


@pytest.mark.parametrize("spec, message", BAD_SPECS)
def test_bad_spec_names_the_key(spec, message):
    with pytest.raises(GraphValueError, match=message):
        expand_cells(load_spec(spec))


def test_cli_bad_spec_is_one_line(tmp_path, capsys):
    from graphcollapse.verify.cli import main

    path = tmp_path / "s.toml"
    path.write_text('seed = 1\n[graph]\nbuilder = "cycle"\nK = 2\n[[axes]]\nfield = "L0.real_sample"\nvalues = [1]\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "axes[0].field" in err and "Traceback" not in err
    path.write_text("seed = [\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_report_and_plots(reference, tmp_path, capsys):
    """sweep-report lists the cells; the trajectory figure is written (the phase diagram
    is drawn in test_phase_boundary_separates_the_cells)."""
    from graphcollapse.verify.cli import main

    assert main(["sweep-report", str(reference)]) == 0
    assert "6 cells, 6 finished" in capsys.readouterr().out
    s = sweep_summary(reference)
    assert s["montecarlo_cells"] == 6 and s["collapsing_cells"] == 2
    assert main(["plot", str(reference), "--kind", "trajectories", "-o", str(tmp_path / "t.svg")]) == 0
    assert "<svg" in (tmp_path / "t.svg").read_text()[:500]


def _toml(spec: dict) -> str:
    """A minimal TOML writer for the specs of these tests."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines = [f"{k} = {value(v)}" for k, v in spec.items() if not isinstance(v, (dict, list))]
    for k, v in spec.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {value(vv)}" for kk, vv in v.items()]
    for a in spec.get("axes", []):
        lines.append("[[axes]]")
        lines += [f"{kk} = {value(vv)}" for kk, vv in a.items()]
    return "\n".join(lines) + "\n"


def _strip(recs: dict) -> dict:
    return {k: {kk: vv for kk, vv in v.items() if kk != "route"} for k, v in recs.items()}


SYMBOLIC_GRIDS = [
    # the exact radius is 1 at m = 7, n = 27, d = 23 (linear growth with real data): a pole
    # of the symbolic solution, so that cell goes to the per-cell analysis
    pytest.param({"seed": 1, "graph": {"builder": "self_training", "dimension": 23, "initial_samples": 40},
                  "axes": [{"field": "L0.real_samples", "values": [6, 7, 8]},
                           {"field": "L0->L0.samples", "values": [27, 60]}]}, id="self-training-radius-1"),
    pytest.param({"seed": 1, "graph": {"builder": "cycle", "K": 2, "dimension": 6, "initial_samples": 40},
                  "axes": [{"field": "L0.real_samples,L1.real_samples", "values": [0, 1, 2, 4, 6]},
                           {"field": "L0->L1.samples,L1->L0.samples", "values": [4, 6, 8, 14]}]},
                 id="pair-geometric-and-linear"),
    pytest.param({"seed": 1, "graph": {"builder": "star", "K": 3, "feedback": True, "dimension": 2,
                                       "initial_samples": 20},
                  "axes": [{"field": "L0.real_samples", "values": [0, 3, 9]},
                           {"field": "L1->L0.samples", "values": [5, 12]}]}, id="star-offending-when-m-is-0"),
]


@pytest.mark.parametrize("spec", SYMBOLIC_GRIDS)
def test_symbolic_route_equals_per_cell_analysis(spec, tmp_path):
    """Solving once symbolically and evaluating per cell gives the records of the per-cell
    analysis, bit for bit, across bounded, linear, geometric, radius-1 and invalid cells."""
    a, b = tmp_path / "symbolic", tmp_path / "analysis"
    ra = run_sweep(spec, a, workers=1, symbolic=True)
    run_sweep(spec, b, workers=1, symbolic=False)
    assert ra.manifest["counts"]["symbolic"] > 0
    assert _strip(_records(a)) == _strip(_records(b))


def test_template_expansion_equals_field_by_field():
    spec = load_spec(SYMBOLIC_GRIDS[1].values[0])
    fast, slow = expand_cells(spec), expand_cells(spec, fast=False)
    assert [(c.key, c.graph) for c in fast] == [(c.key, c.graph) for c in slow]


def test_bad_axis_value_is_reported_up_front():
    spec = {"seed": 1, "graph": {"builder": "cycle", "K": 2}, "axes": [{"field": "L0.real_samples", "values": [3, -1]}]}
    with pytest.raises(GraphValueError, match=r"^sweep spec: axes\[0\].values: -1: "):
        expand_cells(load_spec(spec))


def test_phase_boundary_separates_the_cells(tmp_path):
    """The drawn boundary is the exact condition: its margin is positive at exactly the
    cells the per-cell theory says collapse (m >= 1: at m = 0 the condition holds with
    equality)."""
    from graphcollapse.verify.sweep import phase_data

    spec = {"seed": 1, "graph": {"builder": "cycle", "K": 2, "dimension": 6, "initial_samples": 40},
            "axes": [{"field": "L0.real_samples,L1.real_samples", "values": [0, 1, 2, 3, 4, 5, 6], "name": "m"},
                     {"field": "L0->L1.samples,L1->L0.samples", "values": [4, 6, 8, 10, 12], "name": "n"}]}
    run_sweep(spec, tmp_path, workers=1, symbolic=False)
    data = phase_data(tmp_path)
    b = data["boundary"]
    assert b is not None and np.nanmin(b["margin"]) < 0 < np.nanmax(b["margin"])
    checked = 0
    for i, n in enumerate(data["y"]):
        for j, m in enumerate(data["x"]):
            region = data["region"][i, j]
            if m >= 1 and region != "failed":
                margin = float(b["function"](np.array([float(m)]), np.array([float(n)]))[0])
                assert (margin > 0) == (region in ("collapse", "geometric")), (m, n, region, margin)
                checked += 1
    assert checked >= 20 and "geometric" in set(data["region"].ravel())
    from graphcollapse.verify.plots import plot_sweep_phase

    fig = plot_sweep_phase(data, tmp_path / "phase.pdf")
    assert (tmp_path / "phase.pdf").read_bytes()[:5] == b"%PDF-"
    assert fig.axes[0].get_xlabel() == "m (real samples per generation)"


def _boolean_trees():
    """Random Boolean combinations of strict and non-strict inequalities between
    integer-coefficient polynomials in x and y (for the boundary's margin function)."""
    from hypothesis import strategies as st
    import sympy as sp

    x, y = sp.symbols("x y")
    coeff = st.integers(-5, 5)
    poly = st.builds(lambda a, b, c, d: a * x + b * y + c * x * y + d, coeff, coeff, coeff, coeff)
    rel = st.builds(lambda p, q, kind: (sp.Lt, sp.Le, sp.Gt, sp.Ge)[kind](p, q, evaluate=False),
                    poly, poly, st.integers(0, 3))
    return st.recursive(rel, lambda inner: st.one_of(
        st.builds(lambda a, b: sp.And(a, b, evaluate=False), inner, inner),
        st.builds(lambda a, b: sp.Or(a, b, evaluate=False), inner, inner),
        st.builds(lambda a: sp.Not(a, evaluate=False), inner)), max_leaves=5)


def test_margin_is_positive_exactly_where_the_condition_holds():
    """The boundary drawn in a phase diagram is the zero set of a margin that is positive
    exactly where the collapse condition holds (off the relations' own zero sets)."""
    from hypothesis import given, settings, strategies as st
    import sympy as sp

    from graphcollapse.verify.sweep import _margin

    x, y = sp.symbols("x y")

    @settings(max_examples=30, deadline=None, derandomize=True)
    @given(_boolean_trees(), st.lists(st.tuples(st.integers(-6, 6), st.integers(-6, 6)), min_size=1, max_size=8))
    def check(cond, points):
        f = _margin(cond, [x, y])
        if f is None:
            return
        for px, py in points:
            value = float(f(np.array([float(px)]), np.array([float(py)]))[0])
            if value == 0:
                continue  # on the zero set of one of the relations: the boundary itself
            assert (value > 0) == bool(cond.subs({x: px, y: py})), (cond, px, py, value)

    check()
