"""Wrong Hessian-vector products: the double backward done wrongly, or not at all."""

import torch


def _flat(grads, params):
    return torch.cat(
        [
            (torch.zeros_like(p) if g is None else g).reshape(-1)
            for g, p in zip(grads, params, strict=True)
        ]
    )


def _gradient(scalar_fn, params, create_graph=True):
    grads = torch.autograd.grad(scalar_fn(), params, create_graph=create_graph, allow_unused=True)
    return _flat(grads, params)


def _second(gradient_dot_vector, params):
    if not gradient_dot_vector.requires_grad:
        return torch.cat([torch.zeros_like(p).reshape(-1) for p in params])
    grads = torch.autograd.grad(gradient_dot_vector, params, allow_unused=True)
    return _flat(grads, params)


def returns_gradient(scalar_fn, params, vector):
    """Stops after the first backward: returns the gradient, whatever ``v`` is."""
    return _gradient(scalar_fn, params, create_graph=False).detach()


def missing_create_graph(scalar_fn, params, vector):
    """First backward without ``create_graph=True``: the second backward has no graph."""
    grads = torch.autograd.grad(scalar_fn(), params, allow_unused=True)
    gradient = _flat(grads, params)
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(gradient @ vector, params)])


def first_tensor_only(scalar_fn, params, vector):
    """Second backward w.r.t. ``params[0]`` only; the other blocks of ``H v`` are left at zero."""
    params = list(params)
    gradient = _gradient(scalar_fn, params)
    first = _second(gradient @ vector, params[:1])
    rest = sum(p.numel() for p in params[1:])
    return torch.cat([first, torch.zeros(rest, dtype=first.dtype, device=first.device)]).detach()


def adds_damping(scalar_fn, params, vector):
    """Adds ``0.1 * v``: the damping belongs to the Fisher-vector product, not to ``H v``."""
    params = list(params)
    gradient = _gradient(scalar_fn, params)
    return (_second(gradient @ vector, params) + 0.1 * vector).detach()


def reversed_flatten_order(scalar_fn, params, vector):
    """Flattens the gradient in reverse parameter order: ``v`` meets the wrong blocks."""
    params = list(params)
    grads = torch.autograd.grad(scalar_fn(), params, create_graph=True, allow_unused=True)
    gradient = _flat(grads[::-1], params[::-1])
    return _second(gradient @ vector, params).detach()


def seed_without_allow_unused(scalar_fn, params, vector):
    """The seed's ``hessian_matrix_vector_product``: breaks on unused or linear-only parameters."""
    params = list(params)
    grads = torch.autograd.grad(scalar_fn(), params, create_graph=True)
    gradient = torch.cat([g.view(-1) for g in grads])
    grads2 = torch.autograd.grad(torch.dot(gradient, vector), params)
    return torch.cat([g.contiguous().view(-1) for g in grads2])


def _gradient_at(scalar_fn, params, shift):
    """``grad f`` with every tensor moved by its block of ``shift`` (then restored exactly)."""
    saved = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p, block in zip(params, shift.split([p.numel() for p in params]), strict=True):
            p.add_(block.view_as(p))
    try:
        return _gradient(scalar_fn, params, create_graph=False).detach()
    finally:
        with torch.no_grad():
            for p, value in zip(params, saved, strict=True):
                p.copy_(value)


def forward_finite_difference(scalar_fn, params, vector):
    """``(grad f(theta + eps v) - grad f(theta)) / eps``, eps = 1e-6 / ||v||: the textbook shortcut.

    Off by ``eps f''' / 2`` on smooth functions and by ``~2 c / eps`` where a
    kink (abs, relu) lies within ``eps`` of the point.
    """
    params = list(params)
    eps = 1e-6 / max(float(vector.norm()), 1e-30)
    base = _gradient(scalar_fn, params, create_graph=False).detach()
    return (_gradient_at(scalar_fn, params, eps * vector) - base) / eps


def central_finite_difference(scalar_fn, params, vector):
    """``(grad f(theta + eps v) - grad f(theta - eps v)) / (2 eps)``, eps = 1e-4 / ||v||.

    Second-order accurate, and so passes on smooth functions; a kink closer
    than ``eps`` to the point (or a fast oscillation) still breaks it.
    """
    params = list(params)
    eps = 1e-4 / max(float(vector.norm()), 1e-30)
    plus = _gradient_at(scalar_fn, params, eps * vector)
    minus = _gradient_at(scalar_fn, params, -eps * vector)
    return (plus - minus) / (2 * eps)


def column_major_blocks(scalar_fn, params, vector):
    """Flattens each block in column-major order (numpy's ``flatten('F')`` habit), both ways.

    Consistent with itself, so vectors and scalars hide it; a matrix or a 3-D
    tensor among the parameters meets the wrong entries of ``v``.
    """
    params = list(params)

    def column_major(tensor):
        return tensor.permute(tuple(reversed(range(tensor.dim())))).reshape(-1)

    def flat(grads):
        return torch.cat(
            [
                column_major(torch.zeros_like(p) if g is None else g)
                for g, p in zip(grads, params, strict=True)
            ]
        )

    grads = torch.autograd.grad(scalar_fn(), params, create_graph=True, allow_unused=True)
    dot = flat(grads) @ vector
    if not dot.requires_grad:
        return torch.zeros_like(vector)
    return flat(torch.autograd.grad(dot, params, allow_unused=True)).detach()


def sorted_by_size(scalar_fn, params, vector):
    """Orders the tensors by size (largest first, as a bucketing optimiser does), then flattens."""
    params = sorted(params, key=lambda p: -p.numel())
    gradient = _gradient(scalar_fn, params)
    return _second(gradient @ vector, params).detach()


def assumes_single_tensor(scalar_fn, params, vector):
    """Written for one tensor: only ``params[0]``'s gradient meets ``v`` (its first entries)."""
    params = list(params)
    (first, *_) = torch.autograd.grad(scalar_fn(), params, create_graph=True, allow_unused=True)
    if first is None:
        return torch.zeros_like(vector)
    dot = first.reshape(-1) @ vector[: first.numel()]
    return _second(dot, params).detach()
