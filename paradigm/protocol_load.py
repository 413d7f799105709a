"""Read a protocol YAML file into a validated :class:`~paradigm.protocol.Protocol`.

Every problem becomes a :class:`~paradigm.errors.ProtocolError` naming the file, the line,
the field path, the bad value and what is allowed (with a "did you mean" for unknown keys).
"""
from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ProtocolError
from .protocol import Protocol

MAX_PROTOCOL_BYTES = 1_000_000   # a protocol is a few kB; anything larger is not one
MAX_NESTING = 20                 # the deepest protocol field is 5 levels down


@dataclass(frozen=True)
class LoadedProtocol:
    """A validated protocol with where it came from and the hash that identifies it in data files."""

    protocol: Protocol
    path: Path
    sha256: str
    overrides: tuple[tuple[str, object], ...] = ()

    @property
    def manifest_path(self) -> Path:
        """The stimulus manifest, resolved against the protocol's folder."""
        return (self.path.parent / self.protocol.stimuli.manifest).resolve()


def load_protocol(path, overrides=None) -> LoadedProtocol:
    """Read, parse and validate the protocol at ``path``.

    Parameters
    ----------
    path : str or Path
        A YAML protocol file.
    overrides : dict or list of (str, value), optional
        Dotted field paths and values applied after parsing, e.g.
        ``{"blocks.main.trials_per_cell": 2}`` to shorten a pilot.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise ProtocolError(path, "is a folder, not a protocol file" if path.is_dir() else
                                "file not found" if not path.exists() else "is not a regular file")
        with path.open("rb") as fh:
            raw = fh.read(MAX_PROTOCOL_BYTES + 1)
    except OSError as exc:
        raise ProtocolError(path, f"cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_PROTOCOL_BYTES:
        raise ProtocolError(path, f"is larger than {MAX_PROTOCOL_BYTES // 1000} kB; a protocol is a short YAML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(path, "is not UTF-8 text") from None
    if not text.strip():
        raise ProtocolError(path, "file is empty; a protocol needs at least name, stimuli, factors, "
                                  "timeline, blocks and instructions")
    try:
        problem = yaml_problem(text)
        if problem:
            raise ProtocolError(path, problem[0], line=problem[1])
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        duplicate = _duplicate_key(node)
        if duplicate:
            raise ProtocolError(path, duplicate[0], line=duplicate[1])
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProtocolError(path, f"YAML syntax error: {problem}",
                            line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise ProtocolError(path, f"the top level must be a mapping of fields (got {type(data).__name__})",
                            line=1)
    override_items = tuple((overrides or {}).items() if isinstance(overrides, dict) else overrides or ())
    for dotted, value in override_items:
        _apply_override(path, data, dotted, value)
    try:
        protocol = Protocol.model_validate(data)
    except ValidationError as exc:
        raise _first_error(path, node, exc) from None
    digest = hashlib.sha256(raw)
    if override_items:
        digest.update(b"\n# overrides " + json.dumps(sorted(override_items, key=str), default=str).encode())
    return LoadedProtocol(protocol=protocol, path=path.resolve(), sha256=digest.hexdigest(),
                          overrides=override_items)


def parse_override(text):
    """Split ``key.path=value`` (value parsed as YAML, so ``2``, ``[1, 2]`` and ``true`` work)."""
    if "=" not in text:
        raise ValueError(f"--set needs FIELD.PATH=VALUE (got {text!r})")
    key, _, value = text.partition("=")
    try:
        problem = yaml_problem(value) if len(value) <= MAX_PROTOCOL_BYTES else ("longer than a protocol may be", 1)
        if problem:
            raise ValueError(f"--set {key}: {problem[0]}")
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise ValueError(f"--set {key}: value {value!r} is not valid YAML") from None


def yaml_problem(text):
    """``(message, line)`` for YAML a protocol may not use — anchors and aliases, deep nesting — else None.

    Read from the parser's events, which need no recursion and expand nothing, so an
    alias bomb or a 100,000-deep nesting is refused before it costs memory or a stack.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            return ("YAML anchors and aliases (&name, *name) are not allowed in a protocol; write the values out",
                    line)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_NESTING:
                return f"nested more than {MAX_NESTING} levels deep; a protocol is at most a few levels deep", line
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return None


def _duplicate_key(node):
    """``(message, line)`` for the first key written twice in one mapping, else None (YAML would keep the last)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen = {}
            for key, value in current.value:
                if key.value in seen:
                    return (f"key '{key.value}' is written twice (lines {seen[key.value]} and "
                            f"{key.start_mark.line + 1}); keep one", key.start_mark.line + 1)
                seen[key.value] = key.start_mark.line + 1
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return None


def _apply_override(path, data, dotted, value):
    target, parts = data, dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        key = int(part) if isinstance(target, list) and part.isdigit() else part
        try:
            target = target[key]
        except (KeyError, IndexError, TypeError):
            target = None
        if not isinstance(target, (dict, list)):
            raise ProtocolError(path, f"override '{dotted}': '{'.'.join(parts[:i + 1])}' is not a "
                                      "section of this protocol")
    last = parts[-1]
    if isinstance(target, list):
        if not last.isdigit() or int(last) >= len(target):
            raise ProtocolError(path, f"override '{dotted}': no list item {last}")
        target[int(last)] = value
    else:
        target[last] = value


def _first_error(path, node, exc: ValidationError) -> ProtocolError:
    """Turn pydantic's first error into one line: file, line, field path, value, what is allowed."""
    errors = exc.errors(include_url=False)
    # a misspelt key also makes its correct name "missing": report the misspelling
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [p for p in err["loc"] if not _is_tag(p, err)]
    field = _dotted(loc)
    line = _line_of(node, loc)
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = _fields_at(Protocol, err["loc"][:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        return ProtocolError(path, f"unknown key '{loc[-1]}'{suggestion} (allowed: {', '.join(allowed)})",
                             line=line, field=_dotted(loc[:-1]) or None)
    if kind == "missing":
        return ProtocolError(path, "is required but missing", line=line, field=field)
    if kind == "union_tag_invalid":
        tags = err.get("ctx", {}).get("expected_tags", "")
        return ProtocolError(path, f"unknown event {err['input'].get('event')!r} (allowed: {tags})",
                             line=line, field=field)
    if kind == "union_tag_not_found":
        return ProtocolError(path, "each timeline item needs an 'event' key (fixation, cue, stimulus, "
                                   "blank, rating, judgement, iti)", line=line, field=field)
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) or "got" in msg else f" (got {got!r})"
    return ProtocolError(path, f"{msg[0].lower()}{msg[1:]}{shown}", line=line, field=field or None)


def _is_tag(part, err):
    # pydantic puts the discriminator value (e.g. 'rating') into the location of a union member
    return isinstance(part, str) and part in {"fixation", "cue", "stimulus", "blank", "rating",
                                              "judgement", "iti"} and err["loc"].index(part) > 0 \
        and isinstance(err["loc"][err["loc"].index(part) - 1], int)


def _dotted(loc):
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(node, loc):
    """1-based line where the deepest part of ``loc`` that exists in the file is written."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _fields_at(model, loc):
    """The allowed keys of the model reached by following ``loc`` (with union tags) from ``model``."""
    candidates = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        tagged = [m for m in candidates if part in _event_tags(m)]
        if tagged:
            candidates = tagged
            continue
        field = next((m.model_fields[part] for m in candidates if part in m.model_fields), None)
        candidates = _models_in(field.annotation) if field else []
    if len(candidates) != 1:
        return []
    return sorted(f.alias or name for name, f in candidates[0].model_fields.items())


def _event_tags(model):
    import typing

    field = model.model_fields.get("event")
    return typing.get_args(field.annotation) if field else ()


def _models_in(annotation):
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
