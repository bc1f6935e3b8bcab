#!/usr/bin/env python3
"""Test vectors for relcon's canary statistics, computed by an independent implementation.

The anytime-valid t-test relcon's judge uses (src/engine/judge/stats.rs) is the one of
Lindon et al. (2024) that the PyPI package `savvi` implements as `LinearRegression`. This
script feeds savvi observation by observation, as savvi is meant to be used, and writes what
it reports at checkpoints -- estimate, standard error, confidence sequence, p-value of the
coefficient of interest -- together with the sufficient statistics relcon folds instead
(per block and arm: count, sum, sum of squares). tests/judge_vectors.rs rebuilds the same
figures from those statistics and compares.

    python3 scripts/judge-vectors.py            # writes tests/data/judge_vectors.json

It makes its own virtualenv under target/ (savvi without its optimisation extra, numpy,
py-markdown-table) unless run with --no-venv inside one that has them.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "judge_vectors.json")
VENV = os.path.join(ROOT, "target", "judge-vectors-venv")
PACKAGES = ["savvi==0.3.1", "numpy>=2.1", "py-markdown-table>=1.1"]


def ensure_venv():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        pip = [py, "-m", "pip", "install", "-q"]
        # savvi's cvxpy dependency is only for its multinomial test, which is not used here.
        subprocess.check_call(pip + ["--no-deps", PACKAGES[0]])
        subprocess.check_call(pip + PACKAGES[1:])
    os.execv(py, [py, __file__, "--no-venv"])


def main():
    import numpy as np
    from savvi.linear_regression import LinearRegression

    rng = np.random.default_rng(20261201)

    def finite(x):
        return float(x) if np.isfinite(x) else None
    cases = []

    def run_case(name, blocks, draw, checkpoints, phis, alpha, one_sample=False):
        """blocks: list of (n_canary, n_baseline) per block; draw(block, arm) -> value."""
        k = len(blocks)
        order = []
        for bi, (nc, nb) in enumerate(blocks):
            order += [(bi, 1)] * nc + [(bi, 0)] * nb
        # Interleaved, so every block has data from the first checkpoint on: savvi's design
        # has a column per block from the start, relcon's only for blocks it has seen.
        rng.shuffle(order)
        data = [(bi, a, float(draw(bi, a))) for bi, a in order]
        if one_sample:
            data = [d for d in data if d[1] == 1]
        for phi in phis:
            p = 1 if one_sample else k + 1
            model = LinearRegression(alpha=alpha, p=p, phi=phi)
            stats = {}
            points = []
            for i, (bi, a, y) in enumerate(data, start=1):
                if one_sample:
                    x = [1.0]
                else:
                    x = [1.0 if j == bi else 0.0 for j in range(k)] + [float(a)]
                model.update(np.array([y] + x))
                key = (bi, a)
                n, s, q = stats.get(key, (0, 0.0, 0.0))
                stats[key] = (n + 1, s + y, q + y * y)
                if i in checkpoints:
                    ci = model.calculate_conf_int()
                    pv = model.calculate_p_value()
                    j = p - 1
                    se = model.standard_errors()[j]
                    points.append({
                        "n": i,
                        "moments": [
                            {"block": b, "arm": "canary" if arm else "baseline",
                             "n": v[0], "sum": v[1], "sumsq": v[2]}
                            for (b, arm), v in sorted(stats.items())
                        ],
                        "estimate": float(model.beta[j]),
                        "se": float(se),
                        # null: no finite bound yet (too few degrees of freedom).
                        "lower": finite(ci[j, 0]),
                        "upper": finite(ci[j, 1]),
                        "p_value": float(np.atleast_1d(pv)[j]),
                    })
            cases.append({"name": name, "model": "mean" if one_sample else "difference",
                          "alpha": alpha, "phi": phi, "blocks": k, "points": points})

    # Latency-like: three weight steps, the canary 60 ms slower, per-step shifts of both arms.
    shift = [0.0, 25.0, -10.0]
    run_case("latency, 3 blocks, +60 ms",
             [(40, 360), (90, 310), (200, 200)],
             lambda b, a: rng.normal(420.0 + shift[b] + (60.0 if a else 0.0), 140.0),
             {30, 80, 200, 500, 800, 1200}, [1.0, 2.0], 0.01)
    # Error-rate-like: 0/1 outcomes, 2% baseline, 4% canary.
    run_case("errors, 2 blocks, 2% vs 4%",
             [(300, 2700), (750, 2250)],
             lambda b, a: float(rng.random() < (0.04 if a else 0.02)),
             {200, 1000, 3000, 4500, 6000}, [1.0, 196.0], 0.01)
    # Identical arms, CSAT-like ratings.
    run_case("csat, 1 block, no difference",
             [(150, 450)],
             lambda b, a: float(np.clip(np.round(rng.normal(4.2, 0.9)), 1, 5)),
             {40, 120, 300, 600}, [20.0], 0.001)
    # One arm's mean, for a guardrail.
    run_case("canary mean, guardrail",
             [(600, 0)],
             lambda b, a: rng.normal(0.86, 0.08),
             {10, 50, 200, 600}, [1.0, 7.0], 0.005, one_sample=True)

    doc = {
        "generator": "scripts/judge-vectors.py",
        "implementation": "savvi 0.3.1 LinearRegression (Lindon et al. 2024)",
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {sum(len(c['points']) for c in cases)} points in {len(cases)} cases")


if __name__ == "__main__":
    if "--no-venv" not in sys.argv:
        ensure_venv()
    main()
