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
