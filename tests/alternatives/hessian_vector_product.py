"""Correct Hessian-vector products written differently from the reference."""

import torch


def blockwise_dot(scalar_fn, params, vector):
    """No flat gradient: ``g . v`` summed block by block; ``materialize_grads`` for unused ones."""
    params = list(params)
    blocks = vector.split([p.numel() for p in params])
    grads = torch.autograd.grad(scalar_fn(), params, create_graph=True, materialize_grads=True)
    dot = sum((g * b.view_as(g)).sum() for g, b in zip(grads, blocks, strict=True))
    if not dot.requires_grad:  # f is at most linear: H = 0
        return torch.zeros_like(vector)
    second = torch.autograd.grad(dot, params, materialize_grads=True)
    return torch.cat([s.reshape(-1) for s in second]).detach()


def vector_jacobian_of_gradient(scalar_fn, params, vector):
    """``v^T (d g / d theta)``, a vector-Jacobian product via ``grad_outputs`` (H is symmetric)."""
    params = list(params)
    blocks = [
        b.view_as(p) for b, p in zip(vector.split([p.numel() for p in params]), params, strict=True)
    ]
    grads = torch.autograd.grad(scalar_fn(), params, create_graph=True, allow_unused=True)
    live = [(g, b) for g, b in zip(grads, blocks, strict=True) if g is not None and g.requires_grad]
    result = [torch.zeros_like(p) for p in params]
    if live:
        second = torch.autograd.grad(
            [g for g, _ in live], params, grad_outputs=[b for _, b in live], allow_unused=True
        )
        result = [
            torch.zeros_like(p) if s is None else s for s, p in zip(second, params, strict=True)
        ]
    return torch.cat([r.reshape(-1) for r in result]).detach()


def jvp_by_double_vjp(scalar_fn, params, vector):
    """Forward-over-reverse without forward mode: the jvp of ``g = grad f`` by two vjps.

    ``w(u) = (dg/dtheta)^T u`` is linear in a dummy ``u``; differentiating
    ``w(u) . v`` with respect to ``u`` gives ``(dg/dtheta) v = H v``, the
    forward-mode product ``jvp(grad f, v)`` (three backward passes instead of two).
    """
    params = list(params)
    grads = torch.autograd.grad(scalar_fn(), params, create_graph=True, materialize_grads=True)
    live = [i for i, g in enumerate(grads) if g.requires_grad]
    if not live:
        return torch.zeros_like(vector)
    dummies = [torch.zeros_like(grads[i], requires_grad=True) for i in live]
    w = torch.autograd.grad(
        [grads[i] for i in live],
        params,
        grad_outputs=dummies,
        create_graph=True,
        materialize_grads=True,
    )
    blocks = vector.split([p.numel() for p in params])
    wv = sum((wi * b.view_as(wi)).sum() for wi, b in zip(w, blocks, strict=True))
    if not wv.requires_grad:
        return torch.zeros_like(vector)
    hv_live = torch.autograd.grad(wv, dummies, allow_unused=True, materialize_grads=True)
    result = [torch.zeros_like(p) for p in params]
    for i, h in zip(live, hv_live, strict=True):
        result[i] = h
    return torch.cat([r.reshape(-1) for r in result]).detach()
