"""PyTorch CPU (eager) versions of the benchmark networks, loaded with the NumPy reference's parameters.

PyTorch is a peer for measuring only, never a dependency of flowgraph: import this module only after
``import torch`` succeeded. Layouts are PyTorch's native ones (NCHW images, OIHW filters, (out, in)
dense weights); :func:`lenet_from_params` / :func:`mlp_from_params` convert the shared HWIO / (in, out)
arrays, and permute fc1's rows so that PyTorch's (C, H, W) flatten order meets the NHWC one.
Training is the idiomatic eager loop: ``zero_grad``, forward, ``F.cross_entropy``, ``backward``,
``torch.optim.SGD.step``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class LeNet5(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def _load(model: nn.Module, params: dict[str, np.ndarray], fc1_from_nhwc: bool) -> nn.Module:
    with torch.no_grad():
        for name, mod in model.named_children():
            w, b = params[f"{name}/w"], params[f"{name}/b"]
            if w.ndim == 4:  # HWIO -> OIHW
                w = w.transpose(3, 2, 0, 1)
            else:  # (in, out) -> (out, in)
                w = w.T
                if name == "fc1" and fc1_from_nhwc:  # in index (h, w, c) -> (c, h, w)
                    w = w.reshape(-1, 5, 5, 16).transpose(0, 3, 1, 2).reshape(w.shape[0], -1)
            mod.weight.copy_(_t(w))
            mod.bias.copy_(_t(b))
    return model


def lenet_from_params(params: dict[str, np.ndarray]) -> LeNet5:
    return _load(LeNet5(), params, fc1_from_nhwc=True)


def mlp_from_params(params: dict[str, np.ndarray]) -> MLP:
    return _load(MLP(), params, fc1_from_nhwc=False)


def images(x: np.ndarray) -> torch.Tensor:
    """NHWC float32 images as an NCHW tensor (a free reshape for one channel)."""
    if x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    return _t(x)


def labels(y: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(y, np.int64))


class Trainer:
    """SGD training and evaluation of one model; ``step`` takes tensors from :func:`images` / :func:`labels`."""

    def __init__(self, model: nn.Module, lr: float) -> None:
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> float:
        with torch.no_grad():
            return float(F.cross_entropy(self.model(x), y))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(x)
