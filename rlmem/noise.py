"""Exploration noise objects (stable-baselines3 style): call for a sample, ``reset()`` per episode."""

from __future__ import annotations

import torch


class ActionNoise:
    def __call__(self, shape: torch.Size) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, steps: int, shape: tuple[int, ...]) -> torch.Tensor:
        """The noise of ``steps`` consecutive steps at once, ``[steps, *shape]`` (on the CPU, from the
        noise's own generator, so a chunk's noise is the same on any device)."""
        return torch.stack([self(torch.Size(shape)) for _ in range(steps)])

    def reset(self) -> None:
        """Start of a new batch of episodes; stateless noises have nothing to forget."""


class GaussianNoise(ActionNoise):
    """i.i.d. N(0, sigma^2) on every action component (the paper's N(0, 0.05))."""

    def __init__(self, sigma: float, generator: torch.Generator):
        if sigma < 0:
            raise ValueError(f"noise sigma must be >= 0, got {sigma}")
        self.sigma = sigma
        self.generator = generator

    def __call__(self, shape: torch.Size) -> torch.Tensor:
        return self.sigma * torch.randn(shape, generator=self.generator)

    def sample(self, steps: int, shape: tuple[int, ...]) -> torch.Tensor:
        return self.sigma * torch.randn((steps, *shape), generator=self.generator)


class OrnsteinUhlenbeckNoise(ActionNoise):
    """Temporally correlated noise; its state is per episode batch, so ``reset()`` matters."""

    def __init__(self, sigma: float, generator: torch.Generator, theta: float = 0.15, dt: float = 1.0):
        self.sigma, self.theta, self.dt = sigma, theta, dt
        self.generator = generator
        self.state: torch.Tensor | None = None

    def __call__(self, shape: torch.Size) -> torch.Tensor:
        if self.state is None or self.state.shape != shape:
            self.state = torch.zeros(shape)
        step = torch.randn(shape, generator=self.generator) * self.sigma * self.dt**0.5
        self.state = self.state - self.theta * self.state * self.dt + step
        return self.state

    def reset(self) -> None:
        self.state = None


NOISES = ("gaussian", "ou")


def make_noise(kind: str, sigma: float, generator: torch.Generator) -> ActionNoise:
    if kind == "gaussian":
        return GaussianNoise(sigma, generator)
    if kind == "ou":
        return OrnsteinUhlenbeckNoise(sigma, generator)
    raise ValueError(f"unknown exploration noise {kind!r}; choose one of {', '.join(NOISES)}")
