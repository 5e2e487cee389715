r"""Optimizers: SGD (with momentum), Adagrad, RMSprop, Adam and AdamW, written to be read.

Taught in chapter 04 (Optimizers). Each class subclasses :class:`torch.optim.Optimizer`,
so parameter groups, ``state_dict()`` / ``load_state_dict()`` and PyTorch's learning-rate
schedulers (chapter 9) work with it unchanged; each takes the arguments of its
:mod:`torch.optim` namesake that change the arithmetic (``maximize`` and Adam's
``amsgrad`` included), with the same defaults, rejects the same invalid values with the
same messages, and produces the same parameter trajectory (``tests/test_optim.py`` runs
both side by side, on contiguous, transposed and sliced parameters, on transposed and
expanded gradients, in float32, float64 and complex dtypes).

Deliberate differences, each pinned by a ``test_..._differs_from_torch_...`` test:

* a NaN hyperparameter is rejected here, where :class:`torch.optim.SGD` lets
  ``lr=nan`` through (it tests ``lr < 0``) and every weight becomes NaN on the first step;
* hyperparameters are plain numbers: torch also takes 1-element tensors (for
  compiled or CUDA-graph-captured steps), which raise :class:`TypeError` here;
* there is one implementation, the loop over parameters written below, so torch's
  switches between implementations (``foreach``, ``fused``, ``capturable``,
  ``differentiable``) are not arguments here: passing one raises :class:`TypeError`;
* :class:`Adagrad` takes dense gradients only (torch's also takes sparse ones,
  from ``nn.Embedding(sparse=True)``) and uses a group's own ``initial_accumulator_value``.

Each ``step()`` follows the algorithm in its class docstring line by line, with the
formula beside each line. Where PyTorch uses a fused tensor operation the code uses the
same one, so that rounding agrees too: ``a.add(b, alpha=c)`` is :math:`a + c\,b`,
``a.addcmul_(b, b, value=c)`` is :math:`a + c\,b^2`, ``a.addcdiv_(b, d, value=c)`` is
:math:`a + c\,b/d`, and ``m.lerp_(g, w)`` is :math:`(1 - w)\,m + w\,g`. What an
optimizer remembers between steps lives where PyTorch keeps it, in
``optimizer.state[p]``, under PyTorch's names (``momentum_buffer``, ``exp_avg``,
``exp_avg_sq``, ``square_avg``, ``grad_avg``, ``sum``, ``step``), so :func:`state_nbytes` can
measure its memory and a state dict can move between these classes and torch's.

The state is updated **in place**, as PyTorch does it: the methods ending in ``_``
(``lerp_``, ``mul_(...).addcmul_(...)``, ``addcdiv_``) overwrite their tensor, so
``optimizer.state[p]["exp_avg"]`` is the same tensor, in the same memory, after every
step. A step allocates no new state (only a few temporaries), and the state keeps
its addresses, which capturing steps in a CUDA graph needs (torch's
``capturable=True`` also keeps the step count on the device; these classes keep it on
the CPU, as torch does by default, so Adam's and RMSprop's steps are not capturable).
The trajectory is bit-for-bit :mod:`torch.optim`'s (its single-tensor, ``foreach=False``
code path, the one it takes on the CPU).

>>> import torch
>>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
>>> opt = Adam([w], lr=0.1)
>>> (w ** 2).sum().backward()
>>> opt.step()
>>> w.detach()                        # Adam's first step moves every coordinate by lr
tensor([ 0.9000, -1.9000])
>>> sorted(opt.state[w])
['exp_avg', 'exp_avg_sq', 'step']
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.validation import check_int, check_real

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "RMSprop", "state_nbytes", "trajectory"]


def _check_hyperparameter(label: str, value, **bounds) -> None:
    """A hyperparameter is a plain real number (torch also takes 1-element tensors), checked with torch's message."""
    check_real(label, value, label=label, explain=False, **bounds)


def _as_real(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """Complex tensors viewed as real ones with a last axis of 2 (real part, imaginary part).

    The update then treats the two parts as separate coordinates (so Adam's
    :math:`g^2` is taken part by part, not as the complex square), as torch.optim does.
    The views share memory with the originals: updating them in place updates those.
    """
    return [torch.view_as_real(x) if torch.is_complex(x) else x for x in tensors]


def _step_counter() -> torch.Tensor:
    """The step count :math:`t = 0`: a scalar tensor on the CPU, in torch's dtype for it."""
    return torch.tensor(0.0, dtype=torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32,
                        device="cpu")


def _closure_loss(closure: Callable[[], torch.Tensor] | None):
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class SGD(torch.optim.Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum, like :class:`torch.optim.SGD`.

    .. math::
       \begin{aligned}
            &\rule{110mm}{0.4pt} \\
            &\textbf{input}: \eta \text{ (lr)},\ \theta_0 \text{ (params)},\ f(\theta) \text{ (objective)},\
                \lambda \text{ (weight decay)},\ \mu \text{ (momentum)},\ \tau \text{ (dampening)},\ \textit{nesterov},\
                \textit{maximize} \\
            &\rule{110mm}{0.4pt} \\
            &\textbf{for}\ t = 1\ \textbf{to}\ \ldots\ \textbf{do} \\
            &\hspace{5mm} g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
                \quad \textbf{if}\ \textit{maximize}:\ g_t \leftarrow -\nabla_\theta f_t(\theta_{t-1}) \\
            &\hspace{5mm} \textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda \theta_{t-1} \\
            &\hspace{5mm} \textbf{if}\ \mu \neq 0: \\
            &\hspace{10mm} \textbf{if}\ t > 1:\ b_t \leftarrow \mu b_{t-1} + (1 - \tau) g_t
                \quad \textbf{else}:\ b_t \leftarrow g_t \\
            &\hspace{10mm} \textbf{if}\ \textit{nesterov}:\ g_t \leftarrow g_t + \mu b_t
                \quad \textbf{else}:\ g_t \leftarrow b_t \\
            &\hspace{5mm} \theta_t \leftarrow \theta_{t-1} - \eta g_t \\
            &\rule{110mm}{0.4pt} \\
       \end{aligned}

    Plain SGD keeps no state. Momentum (Polyak's heavy ball, 1964) keeps one
    buffer :math:`b` per parameter, a running sum of past gradients that builds
    up speed along directions where they agree and cancels where they alternate;
    the Nesterov variant (as used by Sutskever et al., 2013) looks one step ahead
    along it. As in PyTorch, :math:`b` starts at the first gradient (not at 0) and
    the learning rate multiplies the whole buffer (some papers put :math:`\eta`
    inside it instead; with a constant :math:`\eta` the two are the same).

    Args:
        params: an iterable of tensors or of parameter-group dicts.
        lr: learning rate :math:`\eta \ge 0` (default 1e-3, as torch's).
        momentum: :math:`\mu \ge 0` (default 0: plain SGD).
        dampening: :math:`\tau`, scales the new gradient in the buffer (default 0).
        weight_decay: :math:`\lambda \ge 0`, an L2 penalty added to the gradient (default 0).
        nesterov: Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
        maximize: climb :math:`f` instead of descending it (keyword only; default False).

    State per parameter: ``momentum_buffer`` (same shape as the parameter) when
    ``momentum != 0``; nothing otherwise.

    Taught in chapter 04 (Optimizers).

    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
    >>> round(w.item(), 4)              # 1 - 0.1*2 = 0.8, then 0.8 - 0.1*(0.9*2 + 1.6) = 0.46
    0.46
    >>> v = torch.nn.Parameter(torch.tensor([1.0]))
    >>> climb = SGD([v], lr=0.1, maximize=True)
    >>> (v ** 2).sum().backward(); climb.step()     # up the gradient: 1 + 0.1*2
    >>> round(v.item(), 4)
    1.2
    >>> SGD([w], lr=-0.1)
    Traceback (most recent call last):
    ...
    ValueError: Invalid learning rate: -0.1
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        _check_hyperparameter("learning rate", lr, low=0.0)
        _check_hyperparameter("momentum value", momentum, low=0.0)
        _check_hyperparameter("dampening", dampening)
        _check_hyperparameter("weight_decay value", weight_decay, low=0.0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        """Update every parameter that has a gradient; return closure()'s loss."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = -p.grad if group.get("maximize") else p.grad    # g_t
                if weight_decay != 0:
                    g = g.add(p, alpha=weight_decay)        # g_t + λθ
                if mu != 0:
                    state = self.state[p]
                    b = state.get("momentum_buffer")
                    if b is None:                           # b_1 = g_1
                        b = state["momentum_buffer"] = g.clone()
                    else:                                   # μ b + (1-τ) g_t
                        b.mul_(mu).add_(g, alpha=1 - tau)
                    # Nesterov: g_t + μ b_t (look ahead); heavy ball: b_t
                    g = g.add(b, alpha=mu) if nesterov else b
                p.add_(g, alpha=-lr)                        # θ_t = θ - η g_t
        return loss


def _check_adam_args(lr, betas, eps, weight_decay) -> None:
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise TypeError(f"Invalid betas: {betas!r} (expected a pair of numbers)")
    _check_hyperparameter("learning rate", lr, low=0.0)
    _check_hyperparameter("epsilon value", eps, low=0.0)
    for i, beta in enumerate(betas):
        _check_hyperparameter(f"beta parameter at index {i}", beta, low=0.0, high=1.0, high_open=True)
    _check_hyperparameter("weight_decay value", weight_decay, low=0.0)


class Adam(torch.optim.Optimizer):
    r"""Adam (Kingma & Ba, 2015): momentum plus a per-coordinate step size, like :class:`torch.optim.Adam`.

    .. math::
       \begin{aligned}
            &\rule{110mm}{0.4pt} \\
            &\textbf{input}: \eta \text{ (lr)},\ \beta_1, \beta_2 \text{ (betas)},\ \theta_0 \text{ (params)},\
                f(\theta) \text{ (objective)},\ \lambda \text{ (weight decay)},\ \epsilon,\ \textit{amsgrad},\ \textit{maximize} \\
            &\textbf{initialize}: m_0 \leftarrow 0 \text{ (first moment)},\ v_0 \leftarrow 0 \text{ (second moment)},\
                v^{\max}_0 \leftarrow 0 \\
            &\rule{110mm}{0.4pt} \\
            &\textbf{for}\ t = 1\ \textbf{to}\ \ldots\ \textbf{do} \\
            &\hspace{5mm} g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
                \quad \textbf{if}\ \textit{maximize}:\ g_t \leftarrow -\nabla_\theta f_t(\theta_{t-1}) \\
            &\hspace{5mm} \textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda \theta_{t-1} \\
            &\hspace{5mm} m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
            &\hspace{5mm} v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
            &\hspace{5mm} \widehat{m}_t \leftarrow m_t / (1 - \beta_1^t) \\
            &\hspace{5mm} \textbf{if}\ \textit{amsgrad}:\ v^{\max}_t \leftarrow \max(v^{\max}_{t-1}, v_t),\
                \widehat{v}_t \leftarrow v^{\max}_t / (1 - \beta_2^t) \\
            &\hspace{5mm} \textbf{else}:\ \widehat{v}_t \leftarrow v_t / (1 - \beta_2^t) \\
            &\hspace{5mm} \theta_t \leftarrow \theta_{t-1} - \eta\, \widehat{m}_t / \big(\sqrt{\widehat{v}_t} + \epsilon\big) \\
            &\rule{110mm}{0.4pt} \\
       \end{aligned}

    :math:`m` is a running average of the gradient (momentum); :math:`v` a running
    average of its square, so :math:`\sqrt{\widehat v}` is the typical size of each
    coordinate's gradient and dividing by it gives every coordinate a step of
    about :math:`\eta`, whatever its scale (squares and square roots are
    elementwise). Both averages start at 0, which biases them towards 0 in the
    first steps; dividing by :math:`1 - \beta^t` removes that bias.

    ``weight_decay`` here is an L2 penalty added to the gradient, so it too is
    divided by :math:`\sqrt{\widehat v}`: coordinates with large gradients are
    barely decayed. :class:`AdamW` decouples it.

    ``amsgrad`` (Reddi, Kale & Kumar, 2018) divides by the largest :math:`v` seen so
    far instead of the current one, so a coordinate's step size can never grow back
    after a burst of large gradients.

    Args:
        params: an iterable of tensors or of parameter-group dicts.
        lr: :math:`\eta \ge 0` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)` (default (0.9, 0.999)).
        eps: :math:`\epsilon \ge 0`, keeps the division finite (default 1e-8).
        weight_decay: :math:`\lambda \ge 0` (default 0).
        amsgrad: divide by the running maximum of :math:`v` (default False).
        maximize: climb :math:`f` instead of descending it (keyword only; default False).

    State per parameter: ``step`` (a scalar tensor, :math:`t`), ``exp_avg``
    (:math:`m`) and ``exp_avg_sq`` (:math:`v`), each shaped like the parameter:
    two extra copies of the model; a third, ``max_exp_avg_sq`` (:math:`v^{\max}`),
    with ``amsgrad``.

    Taught in chapter 04 (Optimizers).

    >>> w = torch.nn.Parameter(torch.tensor([1.0, 100.0]))
    >>> opt = Adam([w], lr=0.1)
    >>> (w ** 2).sum().backward(); opt.step()      # gradients 2 and 200, steps both 0.1
    >>> w.detach()
    tensor([ 0.9000, 99.9000])
    >>> Adam([w], betas=(0.9, 1.0))
    Traceback (most recent call last):
    ...
    ValueError: Invalid beta parameter at index 1: 1.0
    """

    #: AdamW sets this: weight decay shrinks the weights directly instead of joining the gradient.
    decoupled_weight_decay = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        """Update every parameter that has a gradient; return closure()'s loss."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2) = group["lr"], group["betas"]
            eps, weight_decay, amsgrad = group["eps"], group["weight_decay"], group.get("amsgrad", False)
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("Adam does not support sparse gradients, please consider SparseAdam instead")
                state = self.state[p]
                if not state:                               # m_0 = v_0 = 0
                    state["step"] = _step_counter()
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    if amsgrad:                             # v^max_0 = 0
                        state["max_exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"].item()
                g = -p.grad if group.get("maximize") else p.grad
                if weight_decay != 0:
                    if self.decoupled_weight_decay:
                        p.mul_(1 - lr * weight_decay)       # AdamW: θ - ηλθ
                    else:
                        g = g.add(p, alpha=weight_decay)    # Adam: g_t + λθ
                p, g, m, v = _as_real(p, g, state["exp_avg"], state["exp_avg_sq"])
                # in place: m_t = β1 m + (1-β1) g_t;  v_t = β2 v + (1-β2) g_t²
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                if amsgrad:                                 # v^max_t = max(v^max, v_t), in place
                    v_max, = _as_real(state["max_exp_avg_sq"])
                    v = torch.maximum(v_max, v, out=v_max)
                bias_correction1 = 1 - beta1**t             # m̂_t = m_t / (1-β1^t)
                bias_correction2 = 1 - beta2**t             # v̂_t = v_t / (1-β2^t)
                # √v̂_t + ε
                denominator = (v.sqrt() / bias_correction2**0.5).add_(eps)
                # θ_t = θ - η m̂_t / (√v̂_t + ε)
                p.addcdiv_(m, denominator, value=-lr / bias_correction1)
        return loss


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), like :class:`torch.optim.AdamW`.

    .. math::
       \begin{aligned}
            &\rule{110mm}{0.4pt} \\
            &\textbf{input}: \eta \text{ (lr)},\ \beta_1, \beta_2 \text{ (betas)},\ \theta_0 \text{ (params)},\
                f(\theta) \text{ (objective)},\ \lambda \text{ (weight decay)},\ \epsilon,\ \textit{amsgrad},\ \textit{maximize} \\
            &\textbf{initialize}: m_0 \leftarrow 0,\ v_0 \leftarrow 0,\ v^{\max}_0 \leftarrow 0 \\
            &\rule{110mm}{0.4pt} \\
            &\textbf{for}\ t = 1\ \textbf{to}\ \ldots\ \textbf{do} \\
            &\hspace{5mm} g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
                \quad \textbf{if}\ \textit{maximize}:\ g_t \leftarrow -\nabla_\theta f_t(\theta_{t-1}) \\
            &\hspace{5mm} \theta_{t-1} \leftarrow \theta_{t-1} - \eta \lambda \theta_{t-1} \\
            &\hspace{5mm} m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
            &\hspace{5mm} v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
            &\hspace{5mm} \widehat{m}_t \leftarrow m_t / (1 - \beta_1^t) \\
            &\hspace{5mm} \textbf{if}\ \textit{amsgrad}:\ v^{\max}_t \leftarrow \max(v^{\max}_{t-1}, v_t),\
                \widehat{v}_t \leftarrow v^{\max}_t / (1 - \beta_2^t) \\
            &\hspace{5mm} \textbf{else}:\ \widehat{v}_t \leftarrow v_t / (1 - \beta_2^t) \\
            &\hspace{5mm} \theta_t \leftarrow \theta_{t-1} - \eta\, \widehat{m}_t / \big(\sqrt{\widehat{v}_t} + \epsilon\big) \\
            &\rule{110mm}{0.4pt} \\
       \end{aligned}

    The only change from :class:`Adam` is the weight-decay line: the weights
    shrink by the factor :math:`1 - \eta\lambda` directly, instead of
    :math:`\lambda\theta` joining the gradient, where Adam's division by
    :math:`\sqrt{\widehat v}` would weaken it for exactly the weights with large
    gradients. So every weight decays at the same rate, as in SGD with weight decay.

    Args:
        params: an iterable of tensors or of parameter-group dicts.
        lr: :math:`\eta \ge 0` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)` (default (0.9, 0.999)).
        eps: :math:`\epsilon \ge 0` (default 1e-8).
        weight_decay: :math:`\lambda \ge 0` (default 1e-2: on by default, unlike Adam).
        amsgrad: divide by the running maximum of :math:`v` (default False).
        maximize: climb :math:`f` instead of descending it (keyword only; default False).

    State per parameter: as :class:`Adam` (``step``, ``exp_avg``, ``exp_avg_sq``;
    ``max_exp_avg_sq`` with ``amsgrad``).

    Taught in chapter 04 (Optimizers).

    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = torch.zeros(1); opt.step()         # zero gradient: only the decay acts
    >>> w.item()                                    # 1 - 0.1 * 0.5
    0.949999988079071
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)


class Adagrad(torch.optim.Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011): divide each gradient by the root of its accumulated squares, like :class:`torch.optim.Adagrad`.

    .. math::
       \begin{aligned}
            &\rule{110mm}{0.4pt} \\
            &\textbf{input}: \eta \text{ (lr)},\ \theta_0 \text{ (params)},\ f(\theta) \text{ (objective)},\
                \lambda \text{ (weight decay)},\ s_0 \text{ (initial accumulator value)},\
                \delta \text{ (lr decay)},\ \epsilon,\ \textit{maximize} \\
            &\textbf{initialize}: s_0 \text{ (state sum, every coordinate)} \\
            &\rule{110mm}{0.4pt} \\
            &\textbf{for}\ t = 1\ \textbf{to}\ \ldots\ \textbf{do} \\
            &\hspace{5mm} g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
                \quad \textbf{if}\ \textit{maximize}:\ g_t \leftarrow -\nabla_\theta f_t(\theta_{t-1}) \\
            &\hspace{5mm} \tilde\eta_t \leftarrow \eta / \big(1 + (t - 1)\,\delta\big) \\
            &\hspace{5mm} \textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda \theta_{t-1} \\
            &\hspace{5mm} s_t \leftarrow s_{t-1} + g_t^2 \\
            &\hspace{5mm} \theta_t \leftarrow \theta_{t-1} - \tilde\eta_t\, g_t / \big(\sqrt{s_t} + \epsilon\big) \\
            &\rule{110mm}{0.4pt} \\
       \end{aligned}

    Each coordinate's step is divided by the root of the sum of *all* its squared
    gradients so far (squares, roots and divisions are elementwise). A coordinate with
    large gradients gets a small rate, one with small or rare gradients a large one.
    The sum never shrinks, so the effective rate :math:`\tilde\eta_t / (\sqrt{s_t} + \epsilon)`
    of every coordinate can only fall: with gradients of a steady size :math:`G` it
    falls like :math:`\eta / (G\sqrt t)`. :class:`RMSprop` replaces the sum by a
    leaky average, which forgets.

    As in PyTorch, the state is created when the optimizer is constructed (not on the
    first step), for every parameter. Two deliberate differences: a parameter group's
    own ``initial_accumulator_value`` is used for that group's accumulators, where
    :class:`torch.optim.Adagrad` starts every accumulator at the constructor's value;
    and gradients must be dense: a sparse one (from ``nn.Embedding(sparse=True)``)
    raises :class:`RuntimeError`, where torch has a second, sparse update.

    Args:
        params: an iterable of tensors or of parameter-group dicts.
        lr: :math:`\eta \ge 0` (default 1e-2).
        lr_decay: :math:`\delta \ge 0`, divides the rate by :math:`1 + (t-1)\delta` (default 0).
        weight_decay: :math:`\lambda \ge 0`, an L2 penalty added to the gradient (default 0).
        initial_accumulator_value: :math:`s_0 \ge 0`, where every sum starts (default 0).
        eps: :math:`\epsilon \ge 0`, keeps the division finite (default 1e-10).
        maximize: climb :math:`f` instead of descending it (keyword only; default False).

    State per parameter: ``step`` (a scalar tensor, :math:`t`) and ``sum``
    (:math:`s`, shaped like the parameter).

    Taught in chapter 04 (Optimizers).

    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = Adagrad([w], lr=1.0)
    >>> for _ in range(4):                # constant gradients 3 and 300: step t is 1/√t on both
    ...     opt.zero_grad(); (torch.tensor([3.0, 300.0]) * w).sum().backward(); opt.step()
    >>> w.detach()                        # -(1 + 1/√2 + 1/√3 + 1/√4)
    tensor([-2.7845, -2.7845])
    >>> opt.state[w]["sum"]               # 4 × 3², 4 × 300²
    tensor([3.6000e+01, 3.6000e+05])
    >>> Adagrad([w], lr_decay=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid lr_decay value: -1.0
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        _check_hyperparameter("learning rate", lr, low=0.0)
        _check_hyperparameter("lr_decay value", lr_decay, low=0.0)
        _check_hyperparameter("weight_decay value", weight_decay, low=0.0)
        _check_hyperparameter("initial_accumulator_value value", initial_accumulator_value, low=0.0)
        _check_hyperparameter("epsilon value", eps, low=0.0)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: torch.Tensor, group: dict) -> None:
        """s_0 for every coordinate and t = 0, created up front as torch.optim.Adagrad does."""
        self.state[p]["step"] = _step_counter()
        s_0 = group["initial_accumulator_value"]
        if torch.is_complex(p):                             # s_0 in both parts: a complex number is two coordinates
            s_0 = complex(s_0, s_0)
        self.state[p]["sum"] = torch.full_like(p, s_0)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        """Update every parameter that has a gradient; return closure()'s loss."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            weight_decay = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("Invalid gradient: a sparse tensor (this Adagrad takes dense gradients only; "
                                       "torch.optim.Adagrad also takes sparse ones)")
                state = self.state[p]
                if not state:                               # a group added later
                    self._init_state(p, group)
                state["step"] += 1
                t = state["step"].item()
                g = -p.grad if group.get("maximize") else p.grad    # g_t
                if weight_decay != 0:
                    g = g.add(p, alpha=weight_decay)        # g_t + λθ
                rate = lr / (1 + (t - 1) * lr_decay)        # η̃_t = η / (1 + (t-1)δ)
                p, g, s = _as_real(p, g, state["sum"])      # s_t = s + g_t²  (in place)
                s.addcmul_(g, g, value=1)
                d = s.sqrt().add_(eps)                      # √s_t + ε
                p.addcdiv_(g, d, value=-rate)               # θ_t = θ - η̃_t g_t/(√s_t + ε)
        return loss


class RMSprop(torch.optim.Optimizer):
    r"""RMSprop (Tieleman & Hinton, 2012): divide each gradient by a running root-mean-square of its recent values, like :class:`torch.optim.RMSprop`.

    .. math::
       \begin{aligned}
            &\rule{110mm}{0.4pt} \\
            &\textbf{input}: \eta \text{ (lr)},\ \alpha \text{ (smoothing)},\ \theta_0 \text{ (params)},\
                f(\theta) \text{ (objective)},\ \lambda \text{ (weight decay)},\ \mu \text{ (momentum)},\
                \epsilon,\ \textit{centered},\ \textit{maximize} \\
            &\textbf{initialize}: v_0 \leftarrow 0 \text{ (square average)},\ b_0 \leftarrow 0 \text{ (buffer)},\
                \bar g_0 \leftarrow 0 \text{ (gradient average)} \\
            &\rule{110mm}{0.4pt} \\
            &\textbf{for}\ t = 1\ \textbf{to}\ \ldots\ \textbf{do} \\
            &\hspace{5mm} g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
                \quad \textbf{if}\ \textit{maximize}:\ g_t \leftarrow -\nabla_\theta f_t(\theta_{t-1}) \\
            &\hspace{5mm} \textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda \theta_{t-1} \\
            &\hspace{5mm} v_t \leftarrow \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
            &\hspace{5mm} \textbf{if}\ \textit{centered}: \\
            &\hspace{10mm} \bar g_t \leftarrow \alpha \bar g_{t-1} + (1 - \alpha) g_t \\
            &\hspace{10mm} d_t \leftarrow \sqrt{v_t - \bar g_t^2} + \epsilon \\
            &\hspace{5mm} \textbf{else}:\ d_t \leftarrow \sqrt{v_t} + \epsilon \\
            &\hspace{5mm} \textbf{if}\ \mu > 0: \\
            &\hspace{10mm} b_t \leftarrow \mu b_{t-1} + g_t / d_t \\
            &\hspace{10mm} \theta_t \leftarrow \theta_{t-1} - \eta b_t \\
            &\hspace{5mm} \textbf{else}:\ \theta_t \leftarrow \theta_{t-1} - \eta g_t / d_t \\
            &\rule{110mm}{0.4pt} \\
       \end{aligned}

    The division by :math:`\sqrt{v_t}` is Adam's second moment without the first
    moment and without bias correction (so the first steps, where :math:`v` is
    still small, are large). ``centered`` divides by an estimate of the gradient's
    standard deviation instead of its root mean square.

    Args:
        params: an iterable of tensors or of parameter-group dicts.
        lr: :math:`\eta \ge 0` (default 1e-2).
        alpha: :math:`\alpha \ge 0` (default 0.99).
        eps: :math:`\epsilon \ge 0` (default 1e-8).
        weight_decay: :math:`\lambda \ge 0` (default 0).
        momentum: :math:`\mu \ge 0` (default 0).
        centered: use the centred second moment (default False).
        maximize: climb :math:`f` instead of descending it (keyword only; default False).

    State per parameter: ``step``, ``square_avg`` (:math:`v`); plus
    ``momentum_buffer`` (:math:`b`) when ``momentum > 0`` and ``grad_avg``
    (:math:`\bar g`) when ``centered``.

    Taught in chapter 04 (Optimizers).

    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = RMSprop([w], lr=0.01)
    >>> (w ** 2).sum().backward(); opt.step()      # first step: g / sqrt(0.01 g^2) = 10, times lr
    >>> round(w.item(), 4)
    0.9
    >>> RMSprop([w], alpha=-0.5)
    Traceback (most recent call last):
    ...
    ValueError: Invalid alpha value: -0.5
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        _check_hyperparameter("learning rate", lr, low=0.0)
        _check_hyperparameter("epsilon value", eps, low=0.0)
        _check_hyperparameter("momentum value", momentum, low=0.0)
        _check_hyperparameter("weight_decay value", weight_decay, low=0.0)
        _check_hyperparameter("alpha value", alpha, low=0.0)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
                        maximize=maximize)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        """Update every parameter that has a gradient; return closure()'s loss."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, mu = group["weight_decay"], group["momentum"]
            centered = group["centered"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("RMSprop does not support sparse gradients")
                state = self.state[p]
                if not state:                               # v_0 = b_0 = ḡ_0 = 0
                    state["step"] = _step_counter()
                    state["square_avg"] = torch.zeros_like(p)
                    if mu > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    if centered:
                        state["grad_avg"] = torch.zeros_like(p)
                state["step"] += 1
                g = -p.grad if group.get("maximize") else p.grad    # g_t
                if weight_decay != 0:
                    g = g.add(p, alpha=weight_decay)        # g_t + λθ
                p, g, v = _as_real(p, g, state["square_avg"])   # v_t = α v + (1-α) g_t²
                v.mul_(alpha).addcmul_(g, g, value=1 - alpha)
                if centered:
                    g_bar, = _as_real(state["grad_avg"])    # ḡ_t = α ḡ + (1-α) g_t
                    g_bar.lerp_(g, 1 - alpha)
                    # d_t = √(v_t - ḡ_t²) + ε
                    d = v.addcmul(g_bar, g_bar, value=-1).sqrt_().add_(eps)
                else:
                    d = v.sqrt().add_(eps)                  # d_t = √v_t + ε
                if mu > 0:
                    b, = _as_real(state["momentum_buffer"])     # b_t = μ b + g_t/d_t
                    b.mul_(mu).addcdiv_(g, d)
                    p.add_(b, alpha=-lr)                    # θ_t = θ - η b_t
                else:
                    p.addcdiv_(g, d, value=-lr)             # θ_t = θ - η g_t/d_t
        return loss


def state_nbytes(optimizer: torch.optim.Optimizer) -> int:
    r"""Bytes held by the tensors in ``optimizer.state``: what the optimizer adds to memory.

    Sums :math:`\text{numel} \times \text{element size}` over every tensor the
    optimizer keeps per parameter (moment estimates, momentum buffers, step
    counters). Divide by :func:`dlbook.models.count_parameters` for bytes per
    parameter; a float32 weight itself takes 4. Works for any
    :class:`torch.optim.Optimizer`. The state is created on the first ``step()``,
    so measure after one.

    Taught in chapter 04 (Optimizers).

    >>> model = torch.nn.Linear(10, 1)                    # 11 float32 parameters
    >>> opt = Adam(model.parameters())
    >>> state_nbytes(opt)                                 # nothing until the first step
    0
    >>> model(torch.ones(1, 10)).sum().backward(); opt.step()
    >>> state_nbytes(opt)                                 # 2 moments * 11 * 4 bytes + 2 step counters * 4
    96
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"Invalid optimizer: {type(optimizer).__name__} (expected torch.optim.Optimizer)")
    return sum(
        value.numel() * value.element_size()
        for per_param in optimizer.state.values()
        for value in per_param.values()
        if isinstance(value, torch.Tensor)
    )


def trajectory(
    optimizer_class: type[torch.optim.Optimizer],
    f: Callable[[torch.Tensor], torch.Tensor],
    start: torch.Tensor,
    steps: int,
    **hyperparameters,
) -> torch.Tensor:
    """Run ``optimizer_class`` on the function ``f`` from ``start``; return every point visited.

    ``f`` maps a point (a tensor shaped like ``start``, e.g. ``(2,)`` for a
    surface to draw) to a scalar; gradients come from autograd. The result has
    shape ``(steps + 1, *start.shape)``, row 0 being ``start``. Used in chapter 04
    to draw each optimizer's path across a 2-D loss surface.

    Args:
        optimizer_class: e.g. :class:`Adam` or :class:`torch.optim.SGD`.
        f: the function to minimise.
        start: the starting point (not modified).
        steps: number of updates, ``>= 0``.
        **hyperparameters: passed to ``optimizer_class`` (``lr=...``, ``momentum=...``).

    Taught in chapter 04 (Optimizers).

    >>> path = trajectory(SGD, lambda p: (p ** 2).sum(), torch.tensor([1.0, -2.0]), steps=2, lr=0.25)
    >>> path.tolist()                   # each step halves the point: p - 0.25 * 2p
    [[1.0, -2.0], [0.5, -1.0], [0.25, -0.5]]
    """
    check_int("steps", steps, low=0)
    point = start.detach().clone().requires_grad_(True)
    optimizer = optimizer_class([point], **hyperparameters)
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        f(point).backward()
        optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path)
