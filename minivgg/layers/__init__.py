"""The layers of VGG19, each a forward/backward pair with an explicit cache (CS231n style).

Every ``*_forward(x, ...)`` returns ``(out, cache)``; every ``*_backward(dout, cache)`` returns
the gradient w.r.t. the forward's input (conv also returns dW, db). Layout: one image,
``(C, H, W)``; no batch axis, because style transfer optimises a single image.
"""

from .conv import (
    FrozenConv2d,
    conv2d_backward,
    conv2d_backward_dx,
    conv2d_forward,
    conv2d_naive_backward,
    conv2d_naive_backward_dx,
    conv2d_naive_forward,
)
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from .relu import relu_backward, relu_forward

__all__ = [
    "conv2d_naive_forward", "conv2d_naive_backward", "conv2d_naive_backward_dx",
    "conv2d_forward", "conv2d_backward", "conv2d_backward_dx", "FrozenConv2d",
    "relu_forward", "relu_backward",
    "avg_pool2d_forward", "avg_pool2d_backward", "max_pool2d_forward", "max_pool2d_backward",
]
