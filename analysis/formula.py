"""Parse lme4-style model formulas into fixed terms and random-effect terms.

Supported syntax (as in R and lme4): ``y ~ a + b``, interactions ``a:b`` and
``a*b`` (= ``a + b + a:b``), nesting ``a/b`` (= ``a + a:b``), ``1``, ``0`` and
``- 1`` for the intercept, parentheses, and random terms ``(expr | g)`` and
``(expr || g)`` (uncorrelated: one term per column) with grouping factors ``g``,
``a:b`` (interaction factor) and ``a/b`` (nested: ``(expr | a) + (expr | b:a)``, named inner-first as lme4 names it).
Names may be written in backticks. ``(expr || g)`` splits into one term per model-matrix
column, which is lme4's expansion for numeric variables; for a factor inside ``||`` lme4
keeps the factor's columns together, so write such a term out explicitly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Formula", "FormulaError", "RandomTerm", "TermList", "parse_formula"]


class FormulaError(ValueError):
    """A model formula that cannot be parsed."""


@dataclass(frozen=True)
class TermList:
    """Terms of a model-matrix expression: each term a tuple of variable names, ``()`` never stored."""

    terms: tuple[tuple[str, ...], ...]
    intercept: bool

    @property
    def labels(self) -> list[str]:
        """R's term labels, e.g. ``['a', 'b', 'a:b']``."""
        return [":".join(t) for t in self.terms]

    @property
    def variables(self) -> list[str]:
        """Every variable named, in order of first appearance."""
        seen: dict[str, None] = {}
        for term in self.terms:
            seen.update(dict.fromkeys(term))
        return list(seen)


@dataclass(frozen=True)
class RandomTerm:
    """One random-effect term ``(expr | group)``; ``group`` is a tuple of factor names joined by ``:``."""

    expr: TermList
    group: tuple[str, ...]
    #: for a term split from ``(expr || g)``: the single model-matrix column (or ``None``) it keeps
    only_column: int | None = None

    @property
    def group_name(self) -> str:
        return ":".join(self.group)


@dataclass(frozen=True)
class Formula:
    """A parsed formula: response, fixed part and random terms (in the order written)."""

    text: str
    response: str
    fixed: TermList
    random: tuple[RandomTerm, ...]

    @property
    def variables(self) -> list[str]:
        """Every data column the formula uses, response first."""
        names = [self.response, *self.fixed.variables]
        for term in self.random:
            names += term.expr.variables + list(term.group)
        return list(dict.fromkeys(names))


_TOKEN = re.compile(r"\s*(?:(`[^`]+`)|(\|\|)|([A-Za-z_.][A-Za-z0-9_.]*)|(\d+(?:\.\d*)?)|([~+\-*:/|()]))")


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            bad = text[pos:].strip()[:1]
            raise FormulaError(f"formula {text!r}: unexpected character {bad!r} at position {pos + 1} "
                               f"(allowed: names, 0, 1, + - * : / ( ) | ||)")
        quoted, bars, name, number, op = match.groups()
        tokens.append(quoted[1:-1] if quoted else (bars or name or number or op))
        if quoted:
            tokens[-1] = "`" + tokens[-1]  # mark as a name, never an operator
        pos = match.end()
    return tokens


class _Parser:
    """Recursive-descent parser over tokens; fixed expressions evaluate to (terms, intercept) pairs."""

    def __init__(self, text: str, tokens: list[str]):
        self.text, self.tokens, self.pos = text, tokens, 0
        self.random: list[RandomTerm] = []
        self.order: dict[str, int] = {}

    def error(self, what: str) -> FormulaError:
        return FormulaError(f"formula {self.text!r}: {what}")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None:
            raise self.error("ends too early" + (f" (expected {expected!r})" if expected else ""))
        if expected is not None and token != expected:
            raise self.error(f"expected {expected!r} but found {token!r}")
        self.pos += 1
        return token

    # expression := product (('+' | '-') product)*
    def expression(self, allow_random: bool):
        terms, intercept = ([], None) if self.peek() == "-" else self.product(allow_random)
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs, rhs_int = self.product(allow_random)
            if op == "+":
                terms = terms + [t for t in rhs if t not in terms]
                if rhs_int is not None:
                    intercept = rhs_int
            else:
                terms = [t for t in terms if t not in rhs]
                if rhs_int is not None:
                    intercept = not rhs_int
        return terms, intercept

    # product := interaction (('*' | '/') interaction)*
    def product(self, allow_random: bool):
        terms, intercept = self.interaction(allow_random)
        while self.peek() in ("*", "/"):
            op = self.take()
            rhs, _ = self.interaction(allow_random)
            if op == "*":
                crossed = _cross(terms, rhs)
                terms = terms + [t for t in rhs if t not in terms]
                terms += [t for t in crossed if t not in terms]
            else:
                joint = [tuple(dict.fromkeys(v for t in terms for v in t))]
                terms = terms + [t for t in _cross(joint, rhs) if t not in terms]
        return terms, intercept

    # interaction := atom (':' atom)*
    def interaction(self, allow_random: bool):
        terms, intercept = self.atom(allow_random)
        while self.peek() == ":":
            self.take()
            rhs, _ = self.atom(allow_random)
            terms = _cross(terms, rhs)
            intercept = None
        return terms, intercept

    def atom(self, allow_random: bool):
        token = self.take()
        if token == "(":
            start = self.pos
            depth, bar = 0, None
            for i in range(self.pos, len(self.tokens)):
                tok = self.tokens[i]
                if tok == "(":
                    depth += 1
                elif tok == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif tok in ("|", "||") and depth == 0:
                    bar = i
                    break
            if bar is not None:
                if not allow_random:
                    raise self.error("a random term ( ... | group) may only appear at the top level "
                                     "of the right-hand side")
                self.random_term(start, bar)
                return [], None
            inner = self.expression(allow_random)
            self.take(")")
            return inner
        if token.startswith("`"):
            return [(self.name(token[1:]),)], None
        if token in ("0", "1"):
            return [], token == "1"
        if re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", token):
            if self.peek() == "(":
                raise self.error(f"function calls such as {token}(...) are not supported; "
                                 f"compute the column in the data first")
            return [(self.name(token),)], None
        raise self.error(f"unexpected {token!r}")

    def name(self, name: str) -> str:
        self.order.setdefault(name, len(self.order))
        return name

    def random_term(self, start: int, bar: int) -> None:
        self.pos = start
        expr_terms, expr_int = self.expression(allow_random=False)
        if self.pos != bar:
            raise self.error(f"unexpected {self.peek()!r} before '|' in a random term")
        double = self.take() == "||"
        groups = self.grouping()
        self.take(")")
        expr = TermList(tuple(self.sorted_terms(expr_terms)), expr_int is not False)
        for group in groups:
            if not double:
                self.random.append(RandomTerm(expr, group))
                continue
            n_cols = int(expr.intercept) + len(expr.terms)
            for column in range(n_cols):
                self.random.append(RandomTerm(expr, group, only_column=column))

    def grouping(self) -> list[tuple[str, ...]]:
        """``a``, ``a:b`` or ``a/b/...``: the list of grouping factors it stands for."""
        chain: list[tuple[str, ...]] = []
        while True:
            parts = [self.group_name()]
            while self.peek() == ":":
                self.take()
                parts.append(self.group_name())
            chain.append(tuple(parts))
            if self.peek() != "/":
                break
            self.take()
        # lme4 names a nested factor inner-first: (1 | a/b) is (1 | a) + (1 | b:a)
        groups, prefix = [], ()
        for parts in chain:
            prefix = parts + prefix
            groups.append(prefix)
        return groups

    def group_name(self) -> str:
        token = self.take()
        if token.startswith("`"):
            return self.name(token[1:])
        if not re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", token):
            raise self.error(f"a grouping factor must be a column name (got {token!r})")
        return self.name(token)

    def sorted_terms(self, terms):
        """R's order: by interaction order, then as written; variables inside a term by first appearance."""
        ordered = [tuple(sorted(t, key=self.order.__getitem__)) for t in terms]
        unique = list(dict.fromkeys(ordered))
        return sorted(unique, key=len)


def _cross(left, right):
    out = []
    for a in left or [()]:
        for b in right or [()]:
            term = tuple(dict.fromkeys(a + b))
            if term and term not in out:
                out.append(term)
    return out


def parse_formula(text: str) -> Formula:
    """Parse an lme4-style formula such as ``"Reaction ~ Days + (Days | Subject)"``.

    Raises
    ------
    FormulaError
        When the text is not a formula of the supported syntax; the message names the problem.
    """
    if not isinstance(text, str) or "~" not in text:
        raise FormulaError(f"formula must look like 'response ~ terms' (got {text!r})")
    tokens = _tokenize(text)
    if tokens.count("~") != 1 or tokens[0] == "~" or tokens[-1] == "~":
        raise FormulaError(f"formula {text!r}: needs exactly one '~' with a response on its left "
                           f"and terms on its right")
    tilde = tokens.index("~")
    lhs = tokens[:tilde]
    if len(lhs) != 1 or not re.fullmatch(r"`.+|[A-Za-z_.][A-Za-z0-9_.]*", lhs[0]):
        raise FormulaError(f"formula {text!r}: the response must be a single column name (got {' '.join(lhs)!r})")
    parser = _Parser(text, tokens[tilde + 1:])
    response = parser.name(lhs[0].lstrip("`"))
    terms, intercept = parser.expression(allow_random=True)
    if parser.peek() is not None:
        raise parser.error(f"unexpected {parser.peek()!r}")
    if response in {v for t in terms for v in t}:
        raise FormulaError(f"formula {text!r}: the response {response!r} also appears as a predictor")
    fixed = TermList(tuple(parser.sorted_terms(terms)), intercept is not False)
    return Formula(text=text, response=response, fixed=fixed, random=tuple(parser.random))
