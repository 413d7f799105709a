"""Helpers for the PsychoPy tests: the short protocol's overrides and a runner for the CLI."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCREEN = (1280, 1024)
# A short default protocol: 2 practice + 16 main trials, quick screens, a window of the Xvfb size.
SHORT = ["--set", "blocks.main.trials_per_cell=1", "--set", "blocks.main.blocks_per_level=1",
         "--set", "blocks.practice.n_trials=2", "--set", "timeline.0.duration_s=0.2",
         "--set", "timeline.1.duration_s=0.3", "--set", "timeline.2.duration_s=0.2",
         "--set", "timeline.5.duration_s=0.2", "--set", f"display.size_px=[{SCREEN[0]},{SCREEN[1]}]"]
QUICK_ANSWERS = ["--param", "continue_rt_s=0.3", "--param", "rating_rt_median_s=0.3"]


def paradigm_cmd(*args):
    return [sys.executable, "-m", "paradigm", *args]


def run_paradigm(env, *args, timeout=240):
    """Run the paradigm CLI to the end; return the CompletedProcess."""
    return subprocess.run(paradigm_cmd(*args), env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def input_protocol(folder, manifest):
    """A face-only protocol with a pain judgement, a VAS and a 1–9 Likert rating: 4 trials, no practice."""
    text = f"""
name: labinput
stimuli: {{manifest: "{manifest}", filter: {{stimulus_type: [face]}}}}
factors: {{pain: [pain, neutral], stimulus_type: [face]}}
timeline:
  - {{event: fixation, duration_s: 0.2}}
  - {{event: stimulus, duration_s: 0.3}}
  - {{event: judgement, keys: {{pain: j, neutral: f}}, prompt: "Pain?  F = no pain   J = pain", timeout_s: 60}}
  - {{event: rating, name: pain_intensity, scale: vas, question: "How much pain does this person feel?",
     anchors: [No pain, Worst possible pain], range: [0, 100], granularity: 1}}
  - {{event: rating, name: unpleasantness, scale: likert, question: "How unpleasant do you feel?",
     anchors: [Not at all, Extremely], range: [1, 9]}}
  - {{event: iti, duration_s: 0.2}}
blocks: {{practice: {{n_trials: 0}}, main: {{trials_per_cell: 2}}}}
instructions: {{en: {{welcome: "Welcome. Press space.", end: "Done."}}}}
display: {{fullscreen: true, size_px: [{SCREEN[0]}, {SCREEN[1]}]}}
triggers: {{backend: virtual, codes: {{fixation: 10, stimulus: {{pain: 21, neutral: 22}}, judgement: 30, rating: 40,
           iti: 60, response: 50}}}}
"""
    path = Path(folder) / "labinput.yaml"
    path.write_text(text)
    return path


def slider_pixel(value, low=0.0, high=100.0):
    """Screen pixel of ``value`` on the presenter's VAS (1.0 × 0.04 height units at (0, −0.05))."""
    width, height = SCREEN
    x = width / 2 + (-0.5 + (value - low) / (high - low)) * height
    return round(x), round(height / 2 + 0.05 * height)


class ScreenDriver:
    """Answers a running ``paradigm -v run`` with real X input, screen by screen, as its log announces them."""

    def __init__(self, proc, env, answers):
        self.proc, self.env, self.answers = proc, env, list(answers)
        self.log = []

    def xdotool(self, *args):
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=10)

    def key(self, name):
        self.xdotool("keydown", name)
        time.sleep(0.05)
        self.xdotool("keyup", name)

    def click(self, x, y):
        self.xdotool("mousemove", str(x), str(y))
        time.sleep(0.1)
        self.xdotool("mousedown", "1")
        time.sleep(0.1)
        self.xdotool("mouseup", "1")

    def drive(self, stop_after=None):
        """React to each announced screen; ``stop_after`` = n presses Escape, Y on the n-th judgement."""
        judgements = 0
        for line in self.proc.stderr:
            self.log.append(line)
            if " screen " not in line:
                continue
            screen = line.split(" screen ")[1].split()[0]
            time.sleep(0.4)   # past the text screens' accidental-key guard
            if screen == "text":
                self.key("space")
            elif screen == "judgement":
                judgements += 1
                if stop_after is not None and judgements > stop_after:
                    self.key("Escape")
                    time.sleep(0.5)
                    self.key("y")
                    continue
                self.key(self.answers[0]["judgement"])
            elif screen == "rating_pain_intensity":
                self.click(*slider_pixel(self.answers[0]["vas"]))
                time.sleep(0.2)
                self.key("Return")
            elif screen == "rating_unpleasantness":
                for name in self.answers.pop(0)["likert_keys"]:
                    self.key(name)
                    time.sleep(0.1)
                self.key("Return")
        return self.proc.wait(60)
