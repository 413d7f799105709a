"""Benchmark: what the trial loop adds to each frame, and what it loads during trials.

Run (runs itself under xvfb-run when no display is set):
    .venv/bin/python tests/benchmarks/bench_frames.py [--trials-per-cell 2] [--bare-frames 60]

In one window and one run it times flip-to-flip intervals of (a) a bare PsychoPy loop that
draws one stimulus image and flips, and (b) the stimulus frames of real trials run by the
PsychoPy presenter with a simulated participant, both unpaced (no vsync under Xvfb, so an
interval is the frame's whole cost). It also counts texture creations (glGenTextures) and
file opens/image decodes while a trial runs (from its first flip to the row being handed
to the writer). Targets (issue 4): at most 0.5 ms extra per frame at the 99th percentile;
zero texture creations and zero file reads during a trial. Under Xvfb the swap itself is
software rendering whose time varies by a millisecond or more from run to run, so the
script also reports the CPU time between flips (drawing plus the loop's bookkeeping), which
that noise does not reach.
"""
from __future__ import annotations

import argparse
import builtins
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def rerun_under_xvfb():
    """With no display, run this script again under xvfb-run (which cleans up after itself)."""
    if os.environ.get("DISPLAY"):
        return
    os.execvp("xvfb-run", ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", sys.executable, *sys.argv])


class Counters:
    """Counts texture creations, file opens and image decodes while ``active``."""

    def __init__(self):
        self.active = False
        self.textures = self.opens = self.decodes = 0

    def install(self):
        import pyglet.gl as gl
        from PIL import Image

        real_gen, real_open, real_image_open = gl.glGenTextures, builtins.open, Image.open

        def gen(*args):
            self.textures += self.active
            return real_gen(*args)

        def opener(file, mode="r", *args, **kwargs):
            self.opens += self.active and "r" in mode and "+" not in mode
            return real_open(file, mode, *args, **kwargs)

        def image_open(*args, **kwargs):
            self.decodes += self.active
            return real_image_open(*args, **kwargs)

        gl.glGenTextures, builtins.open, Image.open = gen, opener, image_open


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials-per-cell", type=int, default=2)
    parser.add_argument("--bare-frames", type=int, default=60, help="bare-loop frames after each trial")
    args = parser.parse_args()
    rerun_under_xvfb()
    os.environ.setdefault("PSYCHOPYNOPACKAGES", "1")
    run(args)


def run(args):
    from stimuli.generate import generate_set

    with tempfile.TemporaryDirectory() as tmp:
        # before PsychoPy opens its X connection: generating may fork workers
        manifest_path = generate_set(Path(tmp) / "set", seed=3, identities_per_group=4, workers=1)
        measure(args, Path(tmp), manifest_path)


def measure(args, tmp, manifest_path):
    import numpy as np
    from stimuli import read_manifest

    import paradigm.trial_loop as trial_loop
    from paradigm import load_protocol
    from paradigm.lab.inputs import SimulatedInput
    from paradigm.lab.presenter import PsychoPyPresenter
    from paradigm.session import run_session
    from paradigm.simulated import SimulatedParticipant, draw_stimulus_effects, simulation_params
    from paradigm.triggers import VirtualPort

    counters = Counters()
    loaded = load_protocol(REPO / "protocols" / "default.yaml", {
        "stimuli.manifest": str(manifest_path), "blocks.main.trials_per_cell": args.trials_per_cell,
        "blocks.main.blocks_per_level": 1, "blocks.practice.n_trials": 0, "timeline.1.duration_s": 1.0,
        "display.size_px": [1280, 1024]})
    manifest = read_manifest(loaded.manifest_path)
    sim = simulation_params({"continue_rt_s": 0.2, "rating_rt_median_s": 0.2})
    effects = draw_stimulus_effects([s.stimulus_id for s in manifest.stimuli],
                                    [r.name for r in loaded.protocol.ratings], sim, np.random.default_rng(1))
    responder = SimulatedParticipant(loaded.protocol, sim, effects, seed=1)
    presenter = PsychoPyPresenter(loaded.protocol, "en", VirtualPort(), windowed=True, input=SimulatedInput(),
                                  pace=False)
    counters.install()

    # the time between one flip's return and the next flip's call: drawing plus the loop's
    # own bookkeeping, free of the display's (here: software renderer's) swap time
    gaps, state = {"bare": [], "stimulus": []}, {"loop": None, "last_exit": None}
    real_flip = presenter.win.flip

    def timed_flip(*a, **k):
        enter = time.perf_counter()
        if state["loop"] and state["last_exit"] is not None:
            gaps[state["loop"]].append((enter - state["last_exit"]) * 1000)
        out = real_flip(*a, **k)
        state["last_exit"] = time.perf_counter()
        return out

    def measuring(loop):
        state.update(loop=loop, last_exit=None)

    presenter.win.flip = timed_flip

    # (a) the bare loop: the block's own preloaded ImageStim, draw, flip; run after every
    # trial, so both loops are measured under the same load
    bare = []

    def bare_loop(done, total):
        image = next(iter(presenter._images.values()))
        times = []
        measuring("bare")
        for _ in range(args.bare_frames):
            image.draw()
            times.append(presenter.win.flip())
        measuring(None)
        bare.extend(np.diff(times)[1:] * 1000)

    # (b) the trial loop's stimulus frames, and what is loaded while trials run
    spans = []
    real_show, real_run_trial = presenter.show_stimulus, trial_loop.run_trial

    def show_stimulus(trial, duration_s, *, code=None):
        start = len(presenter._flips)
        measuring("stimulus")
        shown = real_show(trial, duration_s, code=code)
        measuring(None)
        spans.append((start, len(presenter._flips)))
        return shown

    def run_trial(*a, **k):
        counters.active = True
        try:
            return real_run_trial(*a, **k)
        finally:
            counters.active = False

    presenter.show_stimulus, trial_loop.run_trial = show_stimulus, run_trial
    result = run_session(loaded, manifest, participant="bench1", session=1, out_dir=tmp / "out",
                         presenter=presenter, responder=responder, mode="pilot", simulated=True, seed=4, slot=0,
                         participant_group="A", fsync=False, on_trial=bare_loop)
    flips = presenter._flips
    stimulus = np.concatenate([np.diff(flips[a:b]) for a, b in spans]) * 1000
    presenter.close()

    print(f"trials run: {result.n_done} ({result.status}); stimulus frames measured: {len(stimulus)}; "
          f"bare frames: {len(bare)}")
    print(f"{'':28s}{'median ms':>10s}{'p99 ms':>10s}")
    print(f"{'bare draw+flip loop':28s}{statistics.median(bare):10.3f}{percentile(bare, 0.99):10.3f}")
    print(f"{'trial loop, stimulus frames':28s}{statistics.median(stimulus):10.3f}{percentile(stimulus, 0.99):10.3f}")
    print(f"{'extra per frame':28s}{statistics.median(stimulus) - statistics.median(bare):10.3f}"
          f"{percentile(stimulus, 0.99) - percentile(bare, 0.99):10.3f}   (target: p99 extra ≤ 0.5 ms)")
    print(f"{'between flips (CPU)':28s}{'median ms':>10s}{'p99 ms':>10s}")
    for name, values in gaps.items():
        print(f"{name + ' loop':28s}{statistics.median(values):10.3f}{percentile(values, 0.99):10.3f}")
    print(f"{'extra between flips':28s}{statistics.median(gaps['stimulus']) - statistics.median(gaps['bare']):10.3f}"
          f"{percentile(gaps['stimulus'], 0.99) - percentile(gaps['bare'], 0.99):10.3f}")
    print(f"during trials: {counters.textures} texture creations, {counters.opens} file reads, "
          f"{counters.decodes} image decodes   (target: 0, 0, 0)")


if __name__ == "__main__":
    sys.exit(main())
