"""The contract registry: every kernel contract of docs/contracts (the spec), by name.

A contract is a name, a call signature and a meaning. The meaning lives in
``properties/test_<name>.py``; this module says what each name is called
with, what it means in one line, where its reference implementation lives
and which seed section it comes from. A contract counts as *implemented* once its property module
exists; the meta-test (tests/test_meta.py) then demands its reference, its
mutants and its errata coverage.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["CONTRACTS", "Contract", "get_contract", "implemented_contracts"]


def _properties_dir() -> Path:
    """Where ``drlspec.properties`` lives: ``properties/`` in a checkout, in the wheel installed."""
    spec = importlib.util.find_spec("drlspec.properties")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("drlspec.properties is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


PROPERTIES_DIR = _properties_dir()


_SIG_FUNCTION = re.compile(r"^\s*f\((?P<args>[^)]*)\)")
_SIG_METHOD = re.compile(r"\.?(?P<name>\w+)\((?P<args>[^)]*)\)")


@dataclass(frozen=True)
class Contract:
    """One kernel contract."""

    name: str
    signature: str
    reference: str  # "module:attr"
    section: str  # section of the spec
    seed: str  # heading(s) of the seed notes
    kind: Literal["function", "class"] = "function"
    # Backends an implementation may declare: "numpy" only where every argument
    # is an array or a number (not for contracts that take callables).
    backends: tuple[str, ...] = ("torch", "numpy")
    # The meaning in one line (the "meaning" column of docs/contracts.md, shortened); the
    # property module is the full statement.
    meaning: str = ""

    def argument_names(self, name: str = "f") -> list[str]:
        """Argument names of ``name`` ("f", the class or a method) as the signature writes them."""
        if name == "f":
            match = _SIG_FUNCTION.match(self.signature)
            found = [match] if match else []
        else:
            found = [m for m in _SIG_METHOD.finditer(self.signature) if m.group("name") == name]
        if not found:
            return []
        names = []
        for part in re.split(r",\s*(?![^\[]*\])", found[0].group("args")):
            part = part.strip()
            if part:
                names.append(re.sub(r"\[.*\]", "", part).strip())
        return names

    @property
    def class_name(self) -> str:
        """The class a class contract constructs ("SumTree"); empty for a function contract."""
        if self.kind != "class":
            return ""
        return self.signature.split("(", 1)[0].strip()

    @property
    def returns_carry(self) -> bool:
        """Whether a call returns ``(result, carry)``: a carry is the implementation's own state,
        handed back to it as returned (``collect_transitions``), never converted."""
        return self.signature.rstrip().endswith(", carry)")

    @property
    def methods(self) -> list[str]:
        """The methods a class contract calls on an instance, in the signature's order."""
        if self.kind != "class":
            return []
        return [m.group("name") for m in _SIG_METHOD.finditer(self.signature)][1:]

    @property
    def property_module(self) -> str:
        return f"drlspec.properties.test_{self.name}"

    @property
    def property_file(self) -> Path:
        return PROPERTIES_DIR / f"test_{self.name}.py"

    @property
    def implemented(self) -> bool:
        return self.property_file.exists()


_RETURNS = "Returns and advantages"
_VALUE = "Value-based"
_PER = "Prioritized replay"
_POLICY = "Policy losses and distributions"
_TRUST = "Trust region"
_UPDATE = "Update contracts"
_TD_SIGNATURE = (
    "f(q_network, target_network, observations[B,...], actions[B], rewards[B], "
    "next_observations[B,...], terminated[B], gamma) -> [B]"
)

_ALL = [
    Contract(
        "discounted_returns",
        "f(rewards[T,N], dones[T,N], gamma) -> [T,N]",
        "drlspec.returns:discounted_returns",
        _RETURNS,
        "2、策略梯度 / REINFORCE",
        meaning=(
            "G_t = r_t + gamma * (1 - done_t) * G_{t+1}, G_T = 0: reward-to-go cut at episode ends"
        ),
    ),
    Contract(
        "td_target",
        "f(rewards[B], next_values[B], terminated[B], gamma) -> [B]",
        "drlspec.returns:td_target",
        _RETURNS,
        "1、DQN / 损失函数设计",
        meaning="r + gamma * (1 - terminated) * V(s'); truncation still bootstraps",
    ),
    Contract(
        "gae",
        "f(rewards[T,N], values[T,N], next_values[T,N], terminated[T,N], truncated[T,N], "
        "gamma, lam) -> [T,N]",
        "drlspec.returns:gae",
        _RETURNS,
        "TRPO / 广义优势估计 GAE",
        meaning=(
            "A_t = delta_t + gamma*lam*(1 - (terminated_t or truncated_t)) * A_{t+1}, "
            "delta_t = r_t + gamma*(1-terminated_t)*next_values_t - values_t"
        ),
    ),
    Contract(
        "dqn_target",
        "f(rewards[B], next_q_target[B,A], terminated[B], gamma) -> [B]",
        "drlspec.value:dqn_target",
        _VALUE,
        "1、DQN / 目标网络",
        meaning="r + gamma*(1-terminated)*max_a Q_target(s',a)",
    ),
    Contract(
        "double_dqn_target",
        "f(rewards[B], next_q_online[B,A], next_q_target[B,A], terminated[B], gamma) -> [B]",
        "drlspec.value:double_dqn_target",
        _VALUE,
        ":four: Double DQN",
        meaning="r + gamma*(1-terminated)*Q_target(s', argmax_a Q_online(s',a))",
    ),
    Contract(
        "dueling_aggregate",
        'f(value[B,1], advantages[B,A], mode) -> [B,A], mode in "mean", "max"',
        "drlspec.value:dueling_aggregate",
        _VALUE,
        ":five: Dueling DQN",
        meaning='V + A - mean_a A (mode "mean") or V + A - max_a A (mode "max")',
    ),
    Contract(
        "per_probabilities",
        "f(priorities[N], alpha) -> [N]",
        "drlspec.replay:per_probabilities",
        _PER,
        ":six: Prioritized Experience Replay",
        meaning="P(i) = p_i^alpha / sum_k p_k^alpha",
    ),
    Contract(
        "importance_weights",
        "f(probabilities[B], size, beta) -> [B]",
        "drlspec.replay:importance_weights",
        _PER,
        ":six: Prioritized Experience Replay",
        meaning="w_i = (size * P(i))^(-beta) / max_j w_j over the batch",
    ),
    Contract(
        "sum_tree",
        "SumTree(capacity); .update(indices[K], priorities[K]); .total() -> float; "
        ".find(prefix_sums[K]) -> indices[K]; .get(indices[K]) -> priorities[K]",
        "drlspec.replay:SumTree",
        _PER,
        ":six: Prioritized Experience Replay",
        kind="class",
        meaning=(
            "find(u) is a leaf i with cumsum[i-1] <= u <= cumsum[i] and priority > 0; "
            "total() is the leaves' sum"
        ),
    ),
    Contract(
        "policy_gradient_loss",
        "f(log_probs[B], weights[B]) -> scalar",
        "drlspec.policy_losses:policy_gradient_loss",
        _POLICY,
        "2、策略梯度 / REINFORCE",
        backends=("torch",),  # the property checks gradients
        meaning="-mean(log_probs * weights); weights carries no gradient",
    ),
    Contract(
        "ppo_clip_objective",
        "f(log_prob_new[B], log_prob_old[B], advantages[B], clip_eps) -> scalar",
        "drlspec.policy_losses:ppo_clip_objective",
        _POLICY,
        ":five: PPO / PPO-Clip",
        backends=("torch",),
        meaning="mean(min(rho*A, clip(rho, 1-eps, 1+eps)*A)), rho = exp(new - old) (maximised)",
    ),
    Contract(
        "kl_penalty_objective",
        "f(log_prob_new[B], log_prob_old[B], advantages[B], kl[B], beta) -> scalar",
        "drlspec.policy_losses:kl_penalty_objective",
        _POLICY,
        ":five: PPO / PPO-Penalty",
        backends=("torch",),
        meaning="mean(rho*A - beta*kl), rho = exp(new - old) (maximised)",
    ),
    Contract(
        "adapt_kl_beta",
        "f(beta, kl, target_kl) -> float",
        "drlspec.policy_losses:adapt_kl_beta",
        _POLICY,
        ":five: PPO / PPO-Penalty",
        meaning="kl < target/1.5 halves beta; kl > target*1.5 doubles it; otherwise unchanged",
    ),
    Contract(
        "categorical_kl",
        "f(logits_p[B,A], logits_q[B,A]) -> [B]",
        "drlspec.distributions:categorical_kl",
        _POLICY,
        ":four: TRPO / KL 散度",
        meaning=(
            "KL(p || q), non-negative, zero iff equal distributions; -inf logits are masked "
            "actions (0 log 0 = 0; +inf where only q masks)"
        ),
    ),
    Contract(
        "gaussian_kl",
        "f(mean_p[B,K], std_p[B,K], mean_q[B,K], std_q[B,K]) -> [B]",
        "drlspec.distributions:gaussian_kl",
        _POLICY,
        ":four: TRPO / KL 散度",
        meaning="KL of diagonal Gaussians, summed over the K action dimensions",
    ),
    Contract(
        "hessian_vector_product",
        "f(scalar_fn, params, vector[D]) -> [D]",
        "drlspec.trust_region:hessian_vector_product",
        _TRUST,
        ":four: TRPO / 矩阵 - 向量乘积的梯度表示",
        backends=("torch",),
        meaning=(
            "H v of scalar_fn() w.r.t. params (flattened in order) by double backward, never "
            "forming H"
        ),
    ),
    Contract(
        "conjugate_gradient",
        "f(matvec, b[D], iters, residual_tol) -> [D]",
        "drlspec.trust_region:conjugate_gradient",
        _TRUST,
        ":four: TRPO / 共轭梯度",
        backends=("torch",),
        meaning=(
            "approximate solution of H x = b for symmetric positive definite H, given only "
            "matvec(v) = H v"
        ),
    ),
    Contract(
        "kkt_step",
        "f(direction[D], h_direction[D], max_kl) -> [D]",
        "drlspec.trust_region:kkt_step",
        _TRUST,
        ":four: TRPO / KKT 条件推导",
        meaning=(
            "sqrt(2*max_kl / (direction . h_direction)) * direction: 0.5 * step^T H step == max_kl"
        ),
    ),
    Contract(
        "line_search",
        "f(objective, kl, params[D], full_step[D], max_kl, backtrack, max_backtracks) -> [D]",
        "drlspec.trust_region:line_search",
        _TRUST,
        ":four: TRPO / 线性搜索",
        backends=("torch",),
        meaning=(
            "the first params + backtrack^i * full_step that beats objective(params) with kl "
            "<= max_kl; else params"
        ),
    ),
    Contract(
        "dqn_td_errors",
        _TD_SIGNATURE,
        "drlspec.updates:dqn_td_errors",
        _UPDATE,
        "1、DQN / 损失函数设计, 目标网络",
        backends=("torch",),  # takes networks; the properties check gradients
        meaning=(
            "Q_theta(s,a) - y, y = r + gamma*(1-terminated)*max_a' Q_target(s',a') built "
            "without gradient; the target network gets no gradient and is not modified"
        ),
    ),
    Contract(
        "double_dqn_td_errors",
        _TD_SIGNATURE,
        "drlspec.updates:double_dqn_td_errors",
        _UPDATE,
        ":four: Double DQN",
        backends=("torch",),
        meaning=(
            "Q_theta(s,a) - y, y = r + gamma*(1-terminated)*Q_target(s', argmax_a' "
            "Q_theta(s',a')) built without gradient"
        ),
    ),
    Contract(
        "target_update",
        "f(online, target, tau) -> None",
        "drlspec.updates:target_update",
        _UPDATE,
        "1、DQN / 目标网络",
        backends=("torch",),
        meaning=(
            "in place: target <- tau*online + (1-tau)*target for parameters and buffers "
            "(tau = 1: exact copy); online unchanged; no shared storage afterwards"
        ),
    ),
    Contract(
        "reinforce_loss",
        "f(policy, observations[B,...], actions[B or B,K], returns[B]) -> scalar",
        "drlspec.updates:reinforce_loss",
        _UPDATE,
        "2、策略梯度 / :two: REINFORCE",
        backends=("torch",),
        meaning=(
            "-mean_i log pi(a_i|s_i) * G_i, G a constant; gradient -mean_i G_i grad log pi(a_i|s_i)"
        ),
    ),
    Contract(
        "actor_critic_losses",
        "f(policy, value_network, observations[B,...], actions[B or B,K], rewards[B], "
        "next_observations[B,...], terminated[B], gamma) -> (policy_loss, value_loss)",
        "drlspec.updates:actor_critic_losses",
        _UPDATE,
        "2、策略梯度 / :three: Actor-Critic",
        backends=("torch",),
        meaning=(
            "y = r + gamma*(1-terminated)*V(s') without gradient, delta = y - V(s) detached; "
            "policy loss -mean log pi(a|s)*delta reaches only the policy, value loss "
            "mean (V(s) - y)^2 (or half of it) only the value network"
        ),
    ),
    Contract(
        "ppo_clip_loss",
        "f(policy, value_network, observations[B,...], actions[B or B,K], log_prob_old[B], "
        "advantages[B], returns[B], clip_eps, vf_coef, ent_coef) -> scalar",
        "drlspec.updates:ppo_clip_loss",
        _UPDATE,
        ":five: PPO / PPO-Clip",
        backends=("torch",),
        meaning=(
            "-mean min(rho*A, clip(rho, 1-eps, 1+eps)*A) + vf_coef*(1/2)*mean (V(s)-R)^2 "
            "(or without the 1/2) - ent_coef*mean H(pi(.|s)); log_prob_old, A, R constants"
        ),
    ),
    Contract(
        "trpo_step",
        "f(policy, observations[B,...], actions[B or B,K], log_prob_old[B], advantages[B], "
        "max_kl, damping, cg_iters, backtrack, max_backtracks) -> [P]",
        "drlspec.updates:trpo_step",
        _UPDATE,
        ":four: TRPO / 主要代码",
        backends=("torch",),
        meaning=(
            "new flat parameters (also left in policy): mean KL(pi_old || pi_new) <= max_kl, "
            "surrogate improved or parameters unchanged, step along (F + damping I)^-1 g scaled "
            "onto the trust region, the first acceptable backtrack"
        ),
    ),
    Contract(
        "collect_transitions",
        "f(envs, act, num_steps, carry) -> (transitions, carry)",
        "drlspec.collection:collect_transitions",
        "Collection",
        "1、DQN / :two: 算法流程; 2、策略梯度 / :two: REINFORCE / 主要代码",
        meaning=(
            "T steps of a gymnasium VectorEnv in either autoreset mode as [T, N, ...] arrays: "
            "true next observations (final_obs at episode ends), the environment's own flags, "
            "valid false exactly on NEXT_STEP reset steps; a second call continues"
        ),
    ),
]

CONTRACTS: dict[str, Contract] = {c.name: c for c in _ALL}


def get_contract(name: str) -> Contract:
    """The contract called ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return CONTRACTS[name]
    except KeyError:
        known = ", ".join(sorted(CONTRACTS))
        raise KeyError(f"unknown contract {name!r}; known contracts: {known}") from None


def implemented_contracts() -> list[Contract]:
    """Contracts whose property module exists, in spec order."""
    return [c for c in _ALL if c.implemented]
