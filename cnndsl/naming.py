"""How the checker names nodes and keeps them within the limits: a mixin of
:class:`cnndsl.check.Checker`, apart for size.

A node's model-wide name and its label in its scope come from :mod:`cnndsl.scopes`.
"""

from __future__ import annotations

import math

from .binding import Report
from .ir import Node
from .layers import Layer, fmt_shape
from .limits import MAX_NAME, MAX_SIZE
from .scopes import SHORT, Scope, fused_modules
from .syntax import Statement


class NodeNames:
    """Names and limits; needs the checker's ``scope``, ``reserved``, ``counters``,
    ``by_name``, ``params`` and ``error``."""

    scope: Scope
    reserved: set[str]
    counters: dict[str, int]
    by_name: dict[str, Node]
    params: int
    error: Report

    def auto_name(self, keyword: str) -> str:
        """`conv_1`, `conv_2`...: never a name the file gives a layer itself."""
        n = self.counters.get(keyword, 0)
        while True:
            n += 1
            name = f"{keyword}_{n}"
            if name not in self.reserved:
                self.counters[keyword] = n
                return name

    def fits_limits(self, st: Statement, built: Node, keyword: str) -> bool:
        """At most MAX_SIZE values in a layer's output and parameters in the model:
        beyond, the numbers mean a mistake, and nothing could hold the tensors."""
        size = math.prod(built.shape)
        params = built.params
        if size > MAX_SIZE:
            message = f"{keyword} gives {fmt_shape(built.shape)}: {size:,} values,"
        elif self.params + params > MAX_SIZE:
            message = f"with this {keyword}'s {params:,} parameters, the model has"
        else:
            self.params += params
            return True
        self.error(
            f"{message} more than {MAX_SIZE:,}",
            st.keyword_span,
            hint="a layer's output and the model's parameters hold at most 10**15 values: "
            "is a size a few digits too long?",
        )
        return False

    def node_name(
        self, layer: Layer, given: str | None, keyword: str, st: Statement
    ) -> tuple[str | None, str]:
        """The model-wide name and the label in its scope (cnndsl.scopes); None after an
        error (a path that clashes with a name taken elsewhere)."""
        scope = self.scope
        if scope.root:
            name = given or self.auto_name(keyword)
            return self.short_enough(name, st), ""
        local = scope.label(given, SHORT.get(keyword, keyword), fused_modules(layer))
        scope.taken.setdefault(local, st.keyword_span)
        if not scope.labelled:
            return self.short_enough(given or self.auto_name(keyword), st), local
        name = "_".join((*scope.path, local))
        if self.short_enough(name, st) is None:
            return None, local
        if name in self.by_name or name in self.reserved:
            self.error(
                f"this layer's path name '{name}' is taken by another layer",
                st.keyword_span,
                hint="rename one of them with name=",
            )
            return None, local
        return name, local

    def short_enough(self, name: str, st: Statement) -> str | None:
        """``name``, or None after an error when it is longer than MAX_NAME: a name is
        copied into every name in its stages, every reference, every output line and
        file name, and one 3,000-character label 60 stages deep made 10,000 layers of
        180 KB names (1.8 GB for a 4 KB file)."""
        if len(name) <= MAX_NAME:
            return name
        self.error(
            f"this layer's name, '{name[:24]}\N{HORIZONTAL ELLIPSIS}', is "
            f"{len(name):,} characters long; names are at most {MAX_NAME}",
            st.keyword_span,
            hint="shorten its name= or the labels of the stages around it",
        )
        return None

    def make_node(self, name: str, built: Node, local: str = "") -> Node:
        """The node ``Node.build`` made (the one place that binds a layer), under its name
        and in its scope: a name is given only once the layer fits, so failures do not
        use up numbers."""
        b = built
        return Node(
            name,
            b.layer,
            b.inputs,
            b.shape,
            b.weights,
            b.macs,
            b.span,
            b.keyword,
            b.input_shapes,
            self.scope.frames,
            local,
        )
