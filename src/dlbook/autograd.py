"""A scalar reverse-mode automatic differentiation engine: backpropagation in one file.

Every operation below builds its output :class:`Value` and, right beside the
forward computation, defines the output's ``_backward``: how the gradient arriving
at the output is passed on to the operation's inputs (the local derivative times
the incoming gradient, *added* to the input's ``.grad`` — a value used twice gets
both contributions). :meth:`Value.backward` then applies the chain rule once per
node, in reverse topological order.

The design follows Andrej Karpathy's micrograd; unlike micrograd, the topological
sort is iterative, so graphs deeper than Python's recursion limit work.

Taught in chapter 02 (Backpropagation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

Number = int | float


class Value:
    """A scalar that remembers how it was computed, so that it can differentiate.

    Attributes:
        data: the number, a Python ``float`` (float64: compare with torch in ``torch.float64``).
        grad: :math:`\\partial \\text{output} / \\partial \\text{self}` after
            ``output.backward()``, summed over every call since it was last set to
            ``0.0`` (see :meth:`backward`); 0 at creation.
        op: the operation that produced it (``""`` for a leaf).

    Unlike torch, an operation whose result has no finite real value raises instead
    of returning ``inf`` or ``nan``: ``log`` of :math:`x \\le 0` (``ValueError``),
    division by 0 and 0 to a negative power (``ZeroDivisionError``), a negative base
    to a non-integer power (``ValueError``), ``exp`` or ``**`` beyond the float range
    (``OverflowError``, from Python's own arithmetic). :meth:`backward` differs from
    torch's in what it keeps; see there.

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = a * b + a          # c = ab + a
    >>> c.backward()
    >>> c.data, a.grad, b.grad  # dc/da = b + 1, dc/db = a
    (-4.0, -2.0, 2.0)
    """

    __slots__ = ("data", "grad", "_prev", "op", "label", "_backward")

    def __init__(self, data: Number, _children: tuple[Value, ...] = (), op: str = "", label: str = "") -> None:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"Invalid data: {type(data).__name__} (expected int or float)")
        self.data = float(data)
        self.grad = 0.0
        self._prev = _children
        self.op = op
        self.label = label
        self._backward: Callable[[], None] = lambda: None

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _lift(other: Value | Number) -> Value:
        return other if isinstance(other, Value) else Value(other)

    # ---- arithmetic: forward, then backward right beside it -------------------------

    def __add__(self, other: Value | Number) -> Value:
        other = self._lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:  # d(a+b)/da = 1, d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        other = self._lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent: Number) -> Value:
        """``self ** exponent`` for a constant exponent (int or float).

        Unlike torch, which returns ``nan`` or ``inf``, a power with no finite real
        value raises: a negative base with a non-integer exponent (``ValueError``) and
        0 to a negative power (``ZeroDivisionError``); so does ``backward`` where the
        derivative is infinite (0 to a power between 0 and 1). As in torch, the
        derivative of ``x ** 0`` is 0 everywhere, 0 included.

        >>> x = Value(3.0); y = x ** 2; y.backward(); x.grad
        6.0
        >>> Value(-4.0) ** 0.5
        Traceback (most recent call last):
        ...
        ValueError: Invalid power: -4.0 ** 0.5 (a negative number has no real non-integer power)
        """
        if isinstance(exponent, Value) or isinstance(exponent, bool) or not isinstance(exponent, (int, float)):
            raise TypeError(f"Invalid exponent: {exponent!r} (expected a constant int or float)")
        if self.data < 0 and not float(exponent).is_integer():
            raise ValueError(f"Invalid power: {self.data!r} ** {exponent!r} (a negative number has no real non-integer power)")
        out = Value(self.data**exponent, (self,), f"**{exponent:g}")

        def _backward() -> None:  # d(x^n)/dx = n x^(n-1), and 0 for n = 0 (even at x = 0)
            if exponent != 0:
                self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other: Value | Number) -> Value:
        return self + (-self._lift(other))

    def __truediv__(self, other: Value | Number) -> Value:
        other = self._lift(other)
        if other.data == 0:
            raise ZeroDivisionError("Value division by zero")
        return self * other**-1

    def __radd__(self, other: Number) -> Value:
        return self + other

    def __rmul__(self, other: Number) -> Value:
        return self * other

    def __rsub__(self, other: Number) -> Value:
        return self._lift(other) - self

    def __rtruediv__(self, other: Number) -> Value:
        return self._lift(other) / self

    # ---- elementary functions ---------------------------------------------------------

    def exp(self) -> Value:
        """:math:`e^x`; its derivative is itself.

        >>> x = Value(0.0); y = x.exp(); y.backward(); (y.data, x.grad)
        (1.0, 1.0)
        """
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward() -> None:  # d(e^x)/dx = e^x
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        """Natural logarithm, for ``data > 0``; derivative :math:`1/x`.

        >>> x = Value(2.0); y = x.log(); y.backward(); x.grad
        0.5
        >>> Value(0.0).log()
        Traceback (most recent call last):
        ...
        ValueError: Invalid log argument: 0.0 (expected > 0)
        """
        if self.data <= 0:
            raise ValueError(f"Invalid log argument: {self.data!r} (expected > 0)")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:  # d(ln x)/dx = 1/x
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """:math:`\\tanh x`; derivative :math:`1 - \\tanh^2 x`.

        >>> x = Value(0.0); y = x.tanh(); y.backward(); x.grad
        1.0
        """
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward() -> None:  # d(tanh x)/dx = 1 - tanh(x)^2
            self.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        """:math:`\\sigma(x) = 1/(1+e^{-x})`; derivative :math:`\\sigma(x)(1-\\sigma(x))`.

        >>> x = Value(0.0); y = x.sigmoid(); y.backward(); (y.data, x.grad)
        (0.5, 0.25)
        """
        # Two algebraically equal forms; each avoids overflow on its own side.
        x = self.data
        s = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        out = Value(s, (self,), "sigmoid")

        def _backward() -> None:  # d(sigma)/dx = sigma (1 - sigma)
            self.grad += s * (1 - s) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        """:math:`\\max(0, x)`; derivative 1 for :math:`x > 0`, else 0 (PyTorch's choice at 0).

        >>> x = Value(-2.0); y = x.relu(); y.backward(); (y.data, x.grad)
        (0.0, 0.0)
        """
        out = Value(max(0.0, self.data), (self,), "relu")

        def _backward() -> None:  # d(relu)/dx = [x > 0]
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    # ---- the chain rule ---------------------------------------------------------------

    def topological_order(self) -> list[Value]:
        """Every node this value depends on, each after all of its inputs (iterative DFS).

        >>> x = Value(1.0)
        >>> y = x
        >>> for _ in range(5000): y = y + 1   # far deeper than the recursion limit
        >>> len(y.topological_order())
        10001
        """
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if id(child) not in visited)
        return order

    def backward(self) -> None:
        """Add :math:`\\partial \\text{self} / \\partial \\text{node}` to the ``.grad`` of every node below.

        Seeds :math:`\\partial \\text{self}/\\partial \\text{self} = 1`, then visits nodes
        from the output back to the leaves, each passing its gradient to its inputs.
        Like ``torch.Tensor.backward``, it *accumulates*: after calls on outputs
        :math:`y_1, \\dots, y_k` (or :math:`k` calls on the same one), a node :math:`v` holds

        .. math:: v.\\text{grad} = v.\\text{grad}_{\\text{before}} + \\sum_{j=1}^{k} \\frac{\\partial y_j}{\\partial v},

        until you reset it (``v.grad = 0.0``, what ``zero_grad()`` does in torch).
        That is what lets a batch too big for memory be split into micro-batches whose
        gradients add up. Within one call only this call's gradients flow: every
        ``.grad`` is set aside, set to 0, filled by the usual propagation, and the
        set-aside value is added back.

        Unlike torch: the graph is kept, so ``backward()`` can run on it again
        (torch raises unless the first call passed ``retain_graph=True``); every node,
        not only the leaves, keeps its ``.grad`` (torch keeps a non-leaf's only after
        ``retain_grad()``, and then accumulates it the same way); every ``Value`` takes
        part, constants included (torch skips tensors that do not require grad), and
        ``.grad`` starts at ``0.0``, not ``None``. Some local derivatives read the
        nodes' ``.data`` when ``backward`` runs, others values kept by the forward
        pass: after changing a leaf's ``.data``, build the graph again before calling
        ``backward`` (torch with ``retain_graph=True`` has the same catch).

        >>> x = Value(3.0); y = x * x; y.backward(); x.grad
        6.0
        >>> y.backward(); x.grad          # accumulated: 6 + 6
        12.0
        >>> x.grad = 0.0; y.backward(); x.grad
        6.0
        """
        order = self.topological_order()
        before = [node.grad for node in order]      # set aside what .grad held
        for node in order:
            node.grad = 0.0
        self.grad = 1.0                             # d self / d self
        for node in reversed(order):
            node._backward()                        # the chain rule, output to leaves
        for node, grad in zip(order, before):
            node.grad += grad                       # accumulate, as torch does

    def edges(self) -> list[tuple[Value, Value]]:
        """Every ``(input, output)`` pair of the graph below this value.

        >>> a = Value(1.0); len((a * 2 + a).edges())
        4
        """
        return [(child, node) for node in self.topological_order() for child in node._prev]


def parameters_grad(values: Iterable[Value]) -> list[float]:
    """The ``.grad`` of each value, as a list (handy for comparing with PyTorch).

    >>> w = [Value(1.0), Value(2.0)]
    >>> (w[0] * w[1]).backward()
    >>> parameters_grad(w)
    [2.0, 1.0]
    """
    return [v.grad for v in values]


def draw_graph(root: Value, ax=None):
    """Draw the computational graph of ``root`` with matplotlib; return the ``Axes``.

    Each node shows its label (or operation), its value and its gradient; arrows run
    from inputs to outputs. Nodes are placed in columns by their depth from the
    leaves, so the forward pass reads left to right and backpropagation right to left.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> a = Value(2.0, label="a"); y = (a * 3).tanh(); y.backward()
    >>> ax = draw_graph(y); len(ax.texts)
    4
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    order = root.topological_order()
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(c)] for c in node._prev), default=-1)
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(depth[id(node)], []).append(node)
    pos = {}
    for d, nodes in columns.items():
        for i, node in enumerate(nodes):
            pos[id(node)] = (d, i - (len(nodes) - 1) / 2)
    if ax is None:
        width = max(4.0, 2.2 * (len(columns)))
        height = max(2.5, 1.3 * max(len(n) for n in columns.values()))
        _, ax = plt.subplots(figsize=(width, height))
    for child, node in root.edges():
        (x0, y0), (x1, y1) = pos[id(child)], pos[id(node)]
        ax.add_patch(FancyArrowPatch((x0 + 0.28, y0), (x1 - 0.28, y1), arrowstyle="->", mutation_scale=12, color="0.4"))
    for node in order:
        x, y = pos[id(node)]
        name = node.label or node.op or "const"
        if node.label and node.op:
            name = f"{node.label} = {node.op}"
        ax.text(
            x,
            y,
            f"{name}\nvalue {node.data:.4g}\ngrad {node.grad:.4g}",
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "#e8f0fe" if node._prev else "#fef3e8", "ec": "0.3"},
        )
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ys = [p[1] for p in pos.values()]
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.axis("off")
    return ax
