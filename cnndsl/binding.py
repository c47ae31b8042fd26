"""One statement's literals -> the layer dataclass its keyword builds.

Values bind by form (``conv 64 3x3 relu same``: 64 is the filters, 3x3 the kernel),
``key=value`` options by name, ``name=`` names the node, and a merge's bare words
name the layers it merges with. Each step reports its own mistakes and binding goes
on, so that a statement with two mistakes gets two messages, and none twice.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Protocol

from .advice import channels_hint, missing_choice, misused_keyword, spaced_size, tuple_as_size
from .errors import Note, Span
from .layers import REGISTRY, Entry, Layer, LayerError, OptSpec, Shape
from .options import NameT, OptionError, SizeT, did_you_mean
from .syntax import Option, Statement, Value

NAME = NameT()


class Report(Protocol):
    """Where a diagnostic goes: the checker's ``error``, which adds the block notes."""

    def __call__(
        self,
        message: str,
        span: Span | None,
        hint: str | None = ...,
        notes: tuple[Note, ...] = ...,
    ) -> None: ...


class Bound(NamedTuple):
    """A statement's options, bound: its layer, where each option was written, the
    node's name if one was given, and the layers a merge names."""

    layer: Layer
    spans: dict[str, Span]
    name: str | None
    refs: list[Value]


@functools.cache
def _positional(entry: Entry) -> tuple[OptSpec, ...]:
    return entry.positional  # computed per statement otherwise: the hot path


def _keyword_for(cls: type[Layer], preset: tuple[tuple[str, Any], ...]) -> str | None:
    """The keyword that builds ``cls`` with exactly this preset (``tanh``: fn=tanh)."""
    return next((k for k, e in REGISTRY.items() if e.cls is cls and e.preset == preset), None)


def _converts(spec: OptSpec, v: Value) -> bool:
    try:
        spec.type.convert(v)
    except OptionError:
        return False
    return True


def report_layer_error(
    error: Report,
    st: Statement,
    exc: LayerError,
    spans: dict[str, Span],
    model_input: Shape | None = None,
) -> None:
    """Point at the option the layer complains about, or at its keyword; a window that
    does not fit a channels-first input says so (``model_input``: the input's shape)."""
    hint = channels_hint(exc.field, model_input, exc.hint)
    error(exc.message, spans.get(exc.field or "", st.keyword_span), hint)


class Binding:
    """The options of one statement on their way into its layer's dataclass.

    The steps share what is bound so far (values, where each was written, whether the
    layer can still be built), so they are methods of an object made per statement.
    """

    def __init__(self, st: Statement, entry: Entry, error: Report) -> None:
        self.st = st
        self.kw = st.keyword
        self.entry = entry
        self.error = error
        self.specs = entry.cls.options()
        self.preset = dict(entry.preset)
        self.values: dict[str, Any] = dict(self.preset)
        self.spans: dict[str, Span] = {}
        self.ok = True  # False once a mistake leaves nothing sound to build
        self.name: str | None = None
        self.name_span: Span | None = None
        self.refs: list[Value] = []

    def bind(self, names: dict[str, Span]) -> Bound | None:
        """Every literal bound, or None if the layer cannot be built (errors recorded).

        ``names`` are the node names taken so far; this statement's name joins them.
        """
        misused = misused_keyword(self.st)
        if misused is not None:
            self.error(misused[0], self.st.keyword_span, misused[1])
            return None
        self.positionals(self.merge_refs())
        for o in self.st.options:
            self.option(o)
        if self.ok:
            self.require()
        layer = self.build() if self.ok else None
        if layer is None:
            return None
        self.claim_name(names)
        return Bound(layer, self.spans, self.name, self.refs)

    def fail(
        self, message: str, span: Span, hint: str | None = None, notes: tuple[Note, ...] = ()
    ) -> None:
        """An error after which the layer is not built (its other options still are checked)."""
        self.error(message, span, hint, notes)
        self.ok = False

    # ------------------------------------------------------------ the steps

    def merge_refs(self) -> list[Value]:
        """A merge's words (``add skip``) name the layers it merges with; its other
        values, and every value of other kinds, are left to bind by form."""
        if self.entry.cls.ARITY >= 0:
            return list(self.st.args)
        self.refs = [v for v in self.st.args if v.kind == "name"]
        if not self.refs:
            self.fail(
                f"{self.kw} needs the name of a layer to merge with, or "
                f"branches: {self.kw} {{ branch {{ ... }} branch {{ ... }} }}",
                self.st.keyword_span,
                hint=f"for example: {self.entry.cls.EXAMPLE}",
            )
        return [v for v in self.st.args if v.kind != "name"]

    def positionals(self, args: list[Value]) -> None:
        """Each value, in order, to the first free option that takes its form."""
        pending = args[::-1]
        while pending:
            v = pending.pop()
            target = self.free_slot(v)
            if target is not None:
                self.convert(target, v, v.span)
                continue
            if self.spaced_size(v, pending):
                continue
            self.positional_error(v, pending[-1] if pending else None)
            self.ok = False
            if v.kind == "name" and v.value in self.specs and pending:
                pending.pop()  # `stride 2` meant `stride=2`: one error, not two

    def spaced_size(self, v: Value, pending: list[Value]) -> bool:
        """``input 28 28 1``: a size written with spaces, reported once as ``28x28x1``
        (the integers after it are consumed too)."""
        given = self.given_size()
        if given is None or given.kind != "int" or v.kind != "int":
            return False
        run = [v]
        while pending and pending[-1].kind == "int":
            run.append(pending.pop())
        message, span, hint = spaced_size(self.st, given, run)
        self.fail(message, span, hint)
        return True

    def given_size(self) -> Value | None:
        """The value given to this kind's size option (kernel, shape...), if any."""
        size = next((s for s in _positional(self.entry) if isinstance(s.type, SizeT)), None)
        where = self.spans.get(size.name) if size else None
        return next((a for a in self.st.args if a.span == where), None)

    def free_slot(self, v: Value) -> OptSpec | None:
        return next(
            (s for s in _positional(self.entry) if s.name not in self.values and s.type.accepts(v)),
            None,
        )

    def option(self, o: Option) -> None:
        """One ``key=value``: the node's name, or an option of the layer."""
        if o.key == "name":
            self.name_option(o)
        elif o.key in self.preset:
            self.preset_error(o.key, o.key_span, o.value)
        elif o.key not in self.specs:
            self.unknown_option(o)
        elif o.key in self.spans:
            self.error(
                f"{o.key} is given twice",
                o.key_span,
                notes=(Note("first given here", self.spans[o.key]),),
            )
        else:
            self.convert(self.specs[o.key], o.value, o.span)

    def name_option(self, o: Option) -> None:
        if self.name_span is not None:
            self.error(
                "name is given twice", o.key_span, notes=(Note("first given here", self.name_span),)
            )
            return
        self.name_span = o.span
        try:
            self.name = NAME.convert(o.value)
        except OptionError as exc:
            self.error(exc.message, o.value.span, exc.hint)

    def convert(self, spec: OptSpec, v: Value, span: Span) -> None:
        try:
            self.values[spec.name] = spec.type.convert(v)
            self.spans[spec.name] = span
        except OptionError as exc:
            self.ok = False
            msg = exc.message
            if msg.startswith("must"):
                msg = f"{spec.name} {msg}"
            elif not msg.startswith("unknown"):
                msg = f"{spec.name}: {msg}"
            self.error(msg, (exc.value or v).span, exc.hint or self.other_option(spec, v))

    def other_option(self, spec: OptSpec, v: Value) -> str | None:
        """``padding=1``: the value fits a sibling option of a similar name (``pad=1``)."""
        for other in self.specs.values():
            near = other.name.startswith(spec.name) or spec.name.startswith(other.name)
            if other is not spec and near and _converts(other, v):
                return f"write {other.name}={v.text()}: {spec.name} takes {spec.type.describe()}"
        return None

    def require(self) -> None:
        missing = [s for s in self.specs.values() if s.required and s.name not in self.values]
        if missing:
            what = " and ".join(f"{s.name} ({s.type.describe()})" for s in missing)
            choices = getattr(missing[0].type, "choices", ())
            self.fail(
                f"{self.kw} needs {what}",
                self.st.keyword_span,
                hint=missing_choice(self.st, choices)
                if len(missing) == 1 and choices
                else f"for example: {self.entry.cls.EXAMPLE}",
            )

    def build(self) -> Layer | None:
        """The layer, if the rules between its options hold (``pad`` with ``padding``...)."""
        layer = self.entry.cls(**self.values)
        try:
            layer.check_options()
        except LayerError as exc:
            report_layer_error(self.error, self.st, exc, self.spans)
            return None
        return layer

    def claim_name(self, names: dict[str, Span]) -> None:
        """Names are checked last, so that a layer with errors does not take its name."""
        if self.name is None or self.name_span is None:
            return
        first = names.get(self.name)
        if first is None:
            names[self.name] = self.name_span
            return
        self.error(
            f"the name '{self.name}' is already taken",
            self.name_span,
            notes=(Note("first used here", first),),
        )

    # ------------------------------------------------------------ messages

    def preset_error(self, key: str, span: Span, value: Value | None) -> None:
        """``relu fn=tanh``: the keyword already chose this option, so it may not be given."""
        self.error(
            f"{self.kw} fixes {key}={self.preset[key]}; {key} cannot be given",
            span,
            hint=self.preset_hint(key, value),
        )

    def preset_hint(self, key: str, value: Value | None) -> str | None:
        """Drop a repeat; for another value, its own keyword or the kind's plain one."""
        if value is not None and value.value == self.preset[key]:
            return f"drop it: `{self.kw}` alone means {key}={value.text()}"
        plain = _keyword_for(self.entry.cls, ())
        if value is None or not self.specs[key].type.accepts(value):
            return f"use `{plain} {key}=...`" if plain else None
        ways = []
        alias = _keyword_for(self.entry.cls, ((key, value.value),))
        if alias:
            ways.append(f"`{alias}`")
        if plain:
            ways.append(f"`{plain} {key}={value.text()}`")
        return f"write {' or '.join(ways)} instead" if ways else None

    def unknown_option(self, o: Option) -> None:
        allowed = [k for k in self.specs if k not in self.preset] + ["name"]
        hint = did_you_mean(o.key, allowed) or f"{self.kw} options: " + ", ".join(allowed)
        self.error(f"unknown option '{o.key}' for {self.kw}", o.key_span, hint=hint)

    def positional_error(self, v: Value, nxt: Value | None) -> None:
        """Why a value found no option to bind to."""
        taken = next(
            (s for s in _positional(self.entry) if s.name in self.values and s.type.accepts(v)),
            None,
        )
        if taken is not None:
            given = self.spans.get(taken.name)
            self.error(
                f"{self.kw} already has its {taken.name}; {v.text()} is one too many",
                v.span,
                notes=(Note(f"{taken.name} given here", given),) if given else (),
            )
        elif v.kind != "name":
            self.stray_value(v)
        elif v.value in self.preset:  # `relu fn tanh`
            self.preset_error(str(v.value), v.span, nxt)
        elif v.value in self.specs:
            self.error(
                f"'{v.value}' is an option of {self.kw} and needs a value",
                v.span,
                hint=f"write {v.value}={nxt.text() if nxt else 'VALUE'}",
            )
        else:
            self.stray_word(v)

    def stray_word(self, v: Value) -> None:
        """A word that is neither a choice (an activation, a padding...) nor an option."""
        word = str(v.value)
        choosers = [s for s in _positional(self.entry) if getattr(s.type, "choices", ())]
        words = [c for s in choosers for c in getattr(s.type, "choices", ())]
        nouns = " or ".join(getattr(s.type, "noun", s.name) for s in choosers)
        if nouns:
            self.error(
                f"unknown {nouns} '{word}' for {self.kw}",
                v.span,
                hint=did_you_mean(word, words) or "expected one of " + ", ".join(words),
            )
        else:
            self.error(
                f"{self.kw} takes no word like '{word}' here",
                v.span,
                hint=f"for example: {self.entry.cls.EXAMPLE}",
            )

    def stray_value(self, v: Value) -> None:
        free = _positional(self.entry)
        size_free = any(isinstance(s.type, SizeT) and s.name not in self.values for s in free)
        fix = tuple_as_size(self.st, v, size_free)
        if fix is not None:
            self.error(fix[0], v.span, fix[1])
            return
        if not free:
            self.error(
                f"{self.kw} takes no positional values; {v.text()} is unexpected",
                v.span,
                hint=f"for example: {self.entry.cls.EXAMPLE}",
            )
            return
        takes = ", ".join(f"{s.name} ({s.type.describe()})" for s in free)
        named = [s for s in self.specs.values() if not s.positional]
        hint = f"write other options as key=value, e.g. {named[0].name}=..." if named else None
        self.error(f"unexpected {v.text()}: {self.kw} takes {takes}", v.span, hint=hint)
