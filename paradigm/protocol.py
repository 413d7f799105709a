"""The protocol model: a study design as frozen, validated pydantic models.

A protocol YAML file maps one-to-one onto :class:`Protocol`; :func:`paradigm.load_protocol`
reads and validates it before anything runs. Durations are seconds (``*_s``); a duration
is a number or a ``[min, max]`` range drawn uniformly per trial (jitter).
"""
from __future__ import annotations

import math
import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

PAIN_LEVELS = ("pain", "neutral")
PERSPECTIVES = ("self", "other")
GROUPS = ("ingroup", "outgroup")
STIMULUS_TYPES = ("face", "hand", "cue")
TRIAL_FACTORS = ("pain", "stimulus_type", "group", "perspective")
MAX_DURATION_S = 86_400.0        # any one duration or timeout: at most a day
MAX_SCALE_VALUE = 1e6            # rating ranges stay within ±1e6
MAX_TRIALS = 10_000              # trials in one session (practice + main)
MAX_TIMELINE_EVENTS = 50
BREAK_FIELDS = ("done", "total")  # the placeholders a break text may use


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value):
    """Accept ``s`` or ``[min_s, max_s]``; return the range as a ``(min, max)`` tuple."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"must be seconds ≥ 0 or a [min, max] range (got {value!r})")
    if isinstance(value, (int, float)):
        lo = hi = float(value)
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        lo, hi = float(value[0]), float(value[1])
    else:
        raise ValueError(f"must be seconds ≥ 0 or a [min, max] range (got {value!r})")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"must be a finite number of seconds (got {value!r})")
    if lo < 0 or hi < 0:
        raise ValueError(f"must not be negative (got {value!r})")
    if hi > MAX_DURATION_S:
        raise ValueError(f"must be at most {MAX_DURATION_S:g} s, a day (got {value!r})")
    if lo > hi:
        raise ValueError(f"range is inverted: min {lo:g} > max {hi:g} (write [min, max])")
    return (lo, hi)


def _range(value):
    """Accept ``[low, high]`` numbers with low < high."""
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"must be a [low, high] pair of numbers (got {value!r})")
    if not all(math.isfinite(v) and abs(v) <= MAX_SCALE_VALUE for v in value):
        raise ValueError(f"must be finite numbers within ±{MAX_SCALE_VALUE:g} (got {value!r})")
    if value[0] >= value[1]:
        raise ValueError(f"range is inverted or empty: {value[0]!r} ≥ {value[1]!r} (write [low, high])")
    return (float(value[0]), float(value[1]))


DurationS = Annotated[tuple[float, float], BeforeValidator(_duration)]
Range = Annotated[tuple[float, float], BeforeValidator(_range)]
# A text is one string, or a mapping from language code to string.
Text = Union[str, dict[str, str]]
TimeoutS = Annotated[float, Field(gt=0, le=MAX_DURATION_S, allow_inf_nan=False)]


def text_in(value, language):
    """The text of ``value`` in ``language`` (a plain string serves every language)."""
    return value if isinstance(value, str) else value[language]


# --- stimuli and factors ---------------------------------------------------------------

class StimulusSource(_Model):
    """Which manifest to draw from, and which of its rows (column → allowed values)."""

    manifest: str
    filter: dict[str, list[str]] = {}


class Perspective(_Model):
    """Imagine-self vs imagine-other: blocked (counterbalanced order) or varied per trial."""

    levels: tuple[Literal["self", "other"], ...] = PERSPECTIVES
    assignment: Literal["blocked", "trial"] = "blocked"
    cue_every_trial: bool = False


class Group(_Model):
    """In-group vs out-group.

    ``natural``: the participant's attribute (asked at the start) vs the stimulus's manifest
    column; ``minimal``: the participant and each stimulus identity are assigned to teams at
    random and the presenter marks a stimulus's team; ``none``: no group factor.
    """

    kind: Literal["natural", "minimal", "none"] = "none"
    participant_levels: tuple[str, ...] = ("A", "B")
    stimulus_attribute: str = "group"
    team_colours: dict[str, str] = {}
    marker: Literal["frame", "band"] = "frame"

    @model_validator(mode="after")
    def _teams(self):
        if self.kind != "none" and len(set(self.participant_levels)) != 2:
            raise ValueError(f"participant_levels must name two groups (got {list(self.participant_levels)})")
        if self.kind == "minimal":
            missing = [t for t in self.participant_levels if t not in self.team_colours]
            if missing:
                raise ValueError(f"team_colours needs a colour for every team; missing {missing}")
        return self


class Factors(_Model):
    """The crossed factors of the design."""

    pain: tuple[Literal["pain", "neutral"], ...] = PAIN_LEVELS
    stimulus_type: tuple[Literal["face", "hand", "cue"], ...] = ("face",)
    perspective: Perspective | None = None
    group: Group = Group()

    @model_validator(mode="after")
    def _levels(self):
        for name in ("pain", "stimulus_type"):
            levels = getattr(self, name)
            if not levels or len(set(levels)) != len(levels):
                raise ValueError(f"{name} must list distinct levels (got {list(levels)})")
        return self


# --- the trial timeline ----------------------------------------------------------------

class Fixation(_Model):
    event: Literal["fixation"]
    duration_s: DurationS
    symbol: str = "+"


class Cue(_Model):
    """The perspective cue ('Imagine this is happening to you / to this person')."""

    event: Literal["cue"]
    duration_s: DurationS


class StimulusEvent(_Model):
    event: Literal["stimulus"]
    duration_s: DurationS


class Blank(_Model):
    event: Literal["blank"]
    duration_s: DurationS


class Rating(_Model):
    """A VAS (continuous slider) or Likert (numbered points) rating; stored as ``rating_<name>``.

    ``asked_when`` limits the rating to some conditions, e.g. ``{perspective: [self]}``
    (the participant rates their own pain only on self trials); on the other trials it is
    not shown and its cells stay empty: not asked, which is not missing.
    """

    event: Literal["rating"]
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    scale: Literal["vas", "likert"]
    question: Text
    anchors: tuple[Text, Text]
    range: Range = (0.0, 100.0)
    granularity: Annotated[float, Field(ge=0)] = 0.0
    timeout_s: TimeoutS | None = None
    asked_when: dict[Literal["pain", "stimulus_type", "group", "perspective"],
                     Annotated[tuple[str, ...], Field(min_length=1)]] = {}

    def asked_on(self, trial) -> bool:
        """Whether this rating is asked on ``trial`` (any object with the factor attributes)."""
        return all(getattr(trial, factor) in levels for factor, levels in self.asked_when.items())

    @model_validator(mode="after")
    def _likert(self):
        if self.scale == "likert":
            low, high = self.range
            if low != int(low) or high != int(high) or self.granularity not in (0, 1):
                raise ValueError(f"a likert scale needs whole-number range and granularity 1 "
                                 f"(got range {list(self.range)}, granularity {self.granularity:g})")
        return self

    @property
    def step(self):
        """The resolution answers are rounded to (Likert: 1; VAS with granularity 0: continuous)."""
        return 1.0 if self.scale == "likert" else self.granularity


class Judgement(_Model):
    """A two-alternative pain / no-pain judgement; ``keys`` maps each pain level to a key."""

    event: Literal["judgement"]
    keys: dict[Literal["pain", "neutral"], str]
    prompt: Text = ""
    timeout_s: TimeoutS | None = None

    @model_validator(mode="after")
    def _keys(self):
        if set(self.keys) != set(PAIN_LEVELS) or len(set(self.keys.values())) != 2:
            raise ValueError(f"keys must map pain and neutral to two different keys (got {self.keys})")
        return self


class Iti(_Model):
    event: Literal["iti"]
    duration_s: DurationS


Event = Annotated[Union[Fixation, Cue, StimulusEvent, Blank, Rating, Judgement, Iti],
                  Field(discriminator="event")]
TIMED_EVENTS = (Fixation, Cue, StimulusEvent, Blank, Iti)


# --- blocks, constraints, counterbalancing ---------------------------------------------

class Practice(_Model):
    n_trials: Annotated[int, Field(ge=0)] = 0
    feedback: bool = True


class NullEvents(_Model):
    """Stimulus-free periods among a main block's trials (an fMRI baseline, Singer et al. 2004).

    ``count`` null events in every main block, each a fixation for ``duration_s`` (seconds,
    or a ``[min, max]`` range drawn per null event) with no cue, stimulus or rating. Each
    sits in its own gap between two trials of the block: never before a block's first
    trial, never two in a row. They are no trial: no row in the trial CSV, no cell.
    """

    count: Annotated[int, Field(ge=1)]
    duration_s: DurationS

    @model_validator(mode="after")
    def _positive(self):
        if self.duration_s[0] <= 0:
            raise ValueError(f"duration_s must be more than 0 s (got {self.duration_s[0]:g})")
        return self


class Main(_Model):
    """``trials_per_cell`` main trials in every cell; ``blocks_per_level`` blocks per block-factor level.

    ``repetitions`` is how often each chosen stimulus is shown per cell, so a cell uses
    ``trials_per_cell / repetitions`` distinct identities; ``null_events`` adds stimulus-free
    fixation periods to every main block.
    """

    trials_per_cell: Annotated[int, Field(ge=1)]
    blocks_per_level: Annotated[int, Field(ge=1)] = 1
    repetitions: Annotated[int, Field(ge=1)] = 1
    null_events: NullEvents | None = None

    @model_validator(mode="after")
    def _divisible(self):
        for name in ("blocks_per_level", "repetitions"):
            if self.trials_per_cell % getattr(self, name):
                raise ValueError(f"trials_per_cell ({self.trials_per_cell}) must be a multiple of "
                                 f"{name} ({getattr(self, name)})")
        return self


class Blocks(_Model):
    practice: Practice = Practice()
    main: Main
    break_every_n_trials: Annotated[int, Field(ge=1)] | None = None


class Constraints(_Model):
    """Randomisation limits, checked within each block (repeat distance across the whole session)."""

    max_run_length: dict[Literal["pain", "stimulus_type", "group", "perspective"],
                         Annotated[int, Field(ge=1)]] = {}
    min_repeat_distance: Annotated[int, Field(ge=0)] = 0


class Counterbalancing(_Model):
    """Block orders: a balanced Latin square indexed by the participant number, or fixed."""

    block_order: Literal["latin_square", "fixed"] = "latin_square"


class Instructions(_Model):
    """Texts shown between trials, per language; ``{done}`` and ``{total}`` fill break screens."""

    welcome: str
    practice: str = ""
    main: str = ""
    perspective_self: str = ""
    perspective_other: str = ""
    cue_self: str = ""
    cue_other: str = ""
    break_text: Annotated[str, Field(alias="break")] = "Take a short break. {done} of {total} trials done."
    end: str = "Thank you."
    feedback_correct: str = "Correct"
    feedback_incorrect: str = "Wrong"
    feedback_too_slow: str = "Too slow"
    continue_prompt: str = "Press space to continue."
    rating_prompt: str = "Click on the line or use the arrow keys, then press Enter."
    quit_prompt: str = "End the session? Press Y to end it (the data are kept) or N to go on."

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Display(_Model):
    fullscreen: bool = True
    screen: Annotated[int, Field(ge=0)] = 0
    size_px: tuple[Annotated[int, Field(ge=100)], Annotated[int, Field(ge=100)]] = (1920, 1080)
    refresh_hz: Annotated[float, Field(gt=20, le=500)] = 60.0
    background: str = "#7f7f7f"
    foreground: str = "#ffffff"
    stimulus_height: Annotated[float, Field(gt=0, le=1)] = 0.5
    text_height: Annotated[float, Field(gt=0, le=0.2)] = 0.04
    font: str = "DejaVu Sans"


class Triggers(_Model):
    """Event codes (0–255) and the port they go to; ``virtual`` records them for tests and pilots."""

    backend: Literal["none", "virtual", "parallel", "serial", "lsl"] = "none"
    address: str = ""
    baudrate: Annotated[int, Field(gt=0)] = 115200
    pulse_s: Annotated[float, Field(gt=0, le=0.1)] = 0.01
    codes: dict[str, Annotated[int, Field(ge=0, le=255)] | dict[str, Annotated[int, Field(ge=0, le=255)]]] = {}


# --- the protocol ----------------------------------------------------------------------

class Protocol(_Model):
    """A whole study design; see ``protocols/default.yaml`` for a commented example."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9]+$")]
    title: str = ""
    language: str = "en"
    stimuli: StimulusSource
    factors: Factors
    timeline: Annotated[list[Event], Field(min_length=1, max_length=MAX_TIMELINE_EVENTS)]
    blocks: Blocks
    constraints: Constraints = Constraints()
    counterbalancing: Counterbalancing = Counterbalancing()
    instructions: dict[str, Instructions]
    display: Display = Display()
    triggers: Triggers = Triggers()
    simulation: dict = {}

    @model_validator(mode="after")
    def _consistent(self):
        kinds = [e.event for e in self.timeline]
        if kinds.count("stimulus") != 1:
            raise ValueError(f"timeline needs exactly one stimulus event (got {kinds.count('stimulus')})")
        names = [e.name for e in self.timeline if e.event == "rating"]
        if len(set(names)) != len(names):
            raise ValueError(f"rating names must be unique (got {names})")
        if self.language not in self.instructions:
            raise ValueError(f"instructions need the protocol language '{self.language}' "
                             f"(have {sorted(self.instructions)})")
        for event in self.timeline:
            for text in _texts(event):
                if isinstance(text, dict) and self.language not in text:
                    raise ValueError(f"a {event.event} text lacks the protocol language "
                                     f"'{self.language}' (has {sorted(text)})")
        perspective = self.factors.perspective
        if perspective and ("cue" in kinds) != (perspective.assignment == "trial" or perspective.cue_every_trial):
            raise ValueError("a cue event belongs in the timeline exactly when the perspective is "
                             "assigned per trial or cue_every_trial is true")
        if "cue" in kinds and not perspective:
            raise ValueError("a cue event shows the perspective cue, but factors.perspective is not set")
        for lang, texts in self.instructions.items():
            needed = (["perspective_self", "perspective_other"] if perspective else []) + (
                ["cue_self", "cue_other"] if "cue" in kinds else []) + (
                ["practice"] if self.blocks.practice.n_trials else [])
            empty = [n for n in needed if not getattr(texts, n)]
            if empty:
                raise ValueError(f"instructions.{lang} needs {', '.join(empty)} for this design")
        for rating in self.ratings:
            self._check_asked_when(rating)
        self._check_timeouts()
        self._check_size()
        if self.simulation:
            from .simulated import simulation_params

            simulation_params(self.simulation)   # a pilot's parameters, checked before anything runs
        for lang, texts in self.instructions.items():
            _check_break_text(lang, texts.break_text)
        unused = [f for f in self.constraints.max_run_length if not self._varies_within_block(f)]
        if unused:
            raise ValueError(f"constraints.max_run_length names {unused}, which do not vary within a "
                             f"block here (factors varying: {self.within_block_factors()})")
        return self

    def _check_timeouts(self):
        frame_s = 1.0 / self.display.refresh_hz
        for event in self.timeline:
            timeout = getattr(event, "timeout_s", None)
            if timeout is not None and timeout < frame_s:
                raise ValueError(f"a {event.event} timeout_s of {timeout:g} s is shorter than one frame "
                                 f"({frame_s:.4f} s at {self.display.refresh_hz:g} Hz)")

    def _check_size(self):
        f = self.factors
        cells = len(f.pain) * len(f.stimulus_type) * (2 if f.group.kind != "none" else 1) \
            * (len(f.perspective.levels) if f.perspective else 1)
        n = cells * self.blocks.main.trials_per_cell + self.blocks.practice.n_trials
        if n > MAX_TRIALS:
            raise ValueError(f"the session would have {n} trials ({cells} cells × "
                             f"{self.blocks.main.trials_per_cell} trials_per_cell + {self.blocks.practice.n_trials} "
                             f"practice); at most {MAX_TRIALS} are allowed")

    def factor_levels(self):
        """The trial-level levels of each factor as the trial CSV records them ('none' when a factor is absent)."""
        f = self.factors
        return {"pain": list(f.pain), "stimulus_type": list(f.stimulus_type),
                "perspective": list(f.perspective.levels) if f.perspective else ["none"],
                "group": list(GROUPS) if f.group.kind != "none" else ["none"]}

    def _check_asked_when(self, rating):
        levels = self.factor_levels()
        for factor, wanted in rating.asked_when.items():
            wrong = [v for v in wanted if v not in levels[factor] or v == "none"]
            if wrong:
                raise ValueError(f"rating '{rating.name}': asked_when.{factor} names {wrong}, which is not a level "
                                 f"of this design's {factor} (levels: {[v for v in levels[factor] if v != 'none']})")

    def _varies_within_block(self, factor):
        return factor in self.within_block_factors()

    def within_block_factors(self):
        """Factors whose levels change from trial to trial inside a block."""
        out = [f for f in ("pain", "stimulus_type") if len(getattr(self.factors, f)) > 1]
        if self.factors.group.kind != "none":
            out.append("group")
        if self.factors.perspective and self.factors.perspective.assignment == "trial":
            out.append("perspective")
        return out

    @property
    def ratings(self):
        """The rating events in timeline order."""
        return [e for e in self.timeline if e.event == "rating"]

    @property
    def judgement(self):
        """The judgement event, or None."""
        return next((e for e in self.timeline if e.event == "judgement"), None)

    @property
    def null_symbol(self):
        """The symbol a null event shows: the timeline's fixation symbol, else '+'."""
        return next((e.symbol for e in self.timeline if e.event == "fixation"), "+")


def _check_break_text(language, text):
    """A break text may use only {done} and {total}; anything else would fail at the first break."""
    import string

    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ValueError(f"instructions.{language}.break: {exc} (write {{{{ and }}}} for literal braces)") from None
    wrong = [name for name in fields if name not in BREAK_FIELDS]
    if wrong:
        raise ValueError(f"instructions.{language}.break: unknown placeholder {{{wrong[0]}}} (allowed: "
                         f"{', '.join('{' + f + '}' for f in BREAK_FIELDS)}; write {{{{ and }}}} for literal braces)")


def _texts(event):
    if event.event == "rating":
        return [event.question, *event.anchors]
    if event.event == "judgement":
        return [event.prompt]
    return []


PARTICIPANT_ID = re.compile(r"[A-Za-z0-9]{1,64}\Z")   # \Z, not $: a trailing newline is not part of an id
