"""What VGG19 costs: per layer output shape, parameters, activation memory and FLOP.

A 3x3 convolution from C to O channels on an H x W map (stride 1, pad 1) does ``O * C * 9 * H * W``
multiply-adds, counted as 2 FLOP each. The input gradient ``dx`` is itself such a convolution
(O to C channels, flipped kernel: see :mod:`minivgg.layers.conv`), so it costs the same again.
Pooling, ReLU and biases are a rounding error next to that and are counted as 0.

The *unit of work* used by the benchmark (``bench/bench_vgg.py``) is one forward plus the
input-gradient backward through VGG19 up to ``conv5_1`` (no weight gradients): 94.7 GFLOP at
256 x 256 and 378.7 GFLOP at 512 x 512. These are *direct-convolution* counts: a Winograd
convolution does fewer multiplications for the same result, so its "effective" GFLOP/s can exceed
the machine's GEMM peak.

``python -m minivgg.vgg summary --size 512 [--upto conv5_1] [--conv-algo auto]`` prints the table,
with the algorithm that computes each layer's forward and dx under ``conv_algo`` at that size
(:func:`minivgg.fast.policy.plan`, the function the layers themselves ask).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..architecture import LAYER_NAMES, check_layer_names, layer_widths
from ..fast.policy import CONV_ALGOS, DEFAULT_ALGO, plan

UNIT_UPTO = "conv5_1"


@dataclass(frozen=True)
class LayerCost:
    """One row of the cost table. ``kind`` is "conv" or "pool"; FLOP are 2 per multiply-add."""

    name: str
    kind: str
    in_channels: int
    out_shape: tuple          # (C, H, W) of the layer's output
    params: int               # weights + biases
    act_bytes: int            # bytes of the output activation at the given dtype size
    flop_forward: float
    flop_dx: float

    @property
    def gflop_forward(self) -> float:
        return self.flop_forward / 1e9

    @property
    def gflop_dx(self) -> float:
        return self.flop_dx / 1e9


def conv_flop(C: int, O: int, H: int, W: int, k: int = 3) -> float:
    """FLOP of one stride-1 'same' convolution C -> O on H x W (2 per multiply-add)."""
    return 2.0 * O * C * k * k * H * W


def layer_costs(size, upto: str | None = None, itemsize: int = 4, widths=None, in_channels: int = 3):
    """The cost rows of VGG19 (convs and the pools between blocks) up to ``upto`` (default: all).

    size: an int (square image) or (H, W); widths: output channels per conv layer (default VGG19's).
    """
    widths = layer_widths() if widths is None else widths
    H, W = (size, size) if isinstance(size, int) else tuple(size)
    if upto is not None:
        check_layer_names([upto])
    rows, cin = [], in_channels
    for i, (name, O) in enumerate(zip(LAYER_NAMES, widths, strict=True)):
        if i > 0 and name.endswith("_1"):
            H, W = H // 2, W // 2
            rows.append(LayerCost(f"pool{int(name[4]) - 1}", "pool", cin, (cin, H, W), 0, cin * H * W * itemsize,
                                  0.0, 0.0))
        f = conv_flop(cin, O, H, W)
        rows.append(LayerCost(name, "conv", cin, (O, H, W), O * cin * 9 + O, O * H * W * itemsize, f, f))
        cin = O
        if name == upto:
            break
    return rows


def unit_flop(size, upto: str = UNIT_UPTO) -> float:
    """FLOP of the benchmark unit: forward + dx through VGG19 up to ``upto`` (direct-conv count)."""
    return sum(r.flop_forward + r.flop_dx for r in layer_costs(size, upto))


def param_count(upto: str | None = None) -> int:
    """Parameters of the VGG19 convolutions (20,024,384 for all sixteen)."""
    return sum(r.params for r in layer_costs(32, upto))


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def layer_plan(row: LayerCost, conv_algo: str = DEFAULT_ALGO, device: str = "cpu"):
    """The algorithms that compute a conv row's forward and dx under ``conv_algo`` on ``device``
    (None for a pool)."""
    if row.kind != "conv":
        return None
    O, H, W = row.out_shape                  # stride 1, pad 1: the input is H x W too
    return plan(conv_algo, row.in_channels, O, H, W, device=device)


def format_table(rows, conv_algo: str | None = None, device: str = "cpu") -> str:
    """The cost table; with ``conv_algo``, two more columns: the algorithm of each forward and dx on
    ``device``."""
    head = ("layer", "output (C,H,W)", "params", "activation", "GFLOP fwd", "GFLOP dx")
    body = [(r.name, "x".join(map(str, r.out_shape)), f"{r.params:,}", _fmt_bytes(r.act_bytes),
             f"{r.gflop_forward:.2f}", f"{r.gflop_dx:.2f}") for r in rows]
    tot = ("total", "", f"{sum(r.params for r in rows):,}", _fmt_bytes(sum(r.act_bytes for r in rows)),
           f"{sum(r.gflop_forward for r in rows):.2f}", f"{sum(r.gflop_dx for r in rows):.2f}")
    if conv_algo is not None:
        head += ("fwd algo", "dx algo")
        plans = [layer_plan(r, conv_algo, device) for r in rows]
        body = [t + ((p.forward, p.dx) if p else ("", "")) for t, p in zip(body, plans, strict=True)]
        tot += ("", "")
    table = [head] + body + [tot]
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    left = {0, 1, 6, 7}                      # text columns; the numbers are right-aligned
    lines = []
    for j, t in enumerate(table):
        if j == len(table) - 1:
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(c.ljust(w) if i in left else c.rjust(w)
                               for i, (c, w) in enumerate(zip(t, widths, strict=True))).rstrip())
    return "\n".join(lines)


def summary_main(argv=None) -> int:
    """``python -m minivgg.vgg summary --size N [--upto conv5_1] [--conv-algo auto] [--device cpu|gpu]``."""
    from ..app.cli import ArgumentParser, positive_int

    parser = ArgumentParser(prog="python -m minivgg.vgg",
                            description="What each VGG19 layer costs at a given image size.")
    parser.add_argument("command", choices=["summary"], help="summary: print the per-layer cost table")
    parser.add_argument("--size", type=positive_int, nargs="+", default=[512], metavar="N",
                        help="image size: N (square) or H W (default 512)")
    parser.add_argument("--upto", default=UNIT_UPTO, choices=LAYER_NAMES, metavar="LAYER",
                        help=f"last layer (default {UNIT_UPTO}, the benchmark unit's depth)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                        help="element type for the activation memory column (default float32)")
    parser.add_argument("--conv-algo", default=DEFAULT_ALGO, choices=CONV_ALGOS, metavar="ALGO",
                        help=f"conv_algo whose choice per layer the last two columns show: {', '.join(CONV_ALGOS)} "
                             f"(default {DEFAULT_ALGO})")
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"],
                        help="whose algorithm table the last two columns follow (no GPU needed to print it; "
                             "default cpu)")
    args = parser.parse_args(argv)
    if len(args.size) > 2:
        parser.error("--size takes N or H W")
    size = args.size[0] if len(args.size) == 1 else tuple(args.size)
    H, W = (size, size) if isinstance(size, int) else size
    rows = layer_costs(size, args.upto, itemsize=4 if args.dtype == "float32" else 8)
    if any(min(r.out_shape[1:]) < 1 for r in rows):
        parser.error(f"image of {H}x{W} px is too small for {args.upto}")
    print(f"VGG19 up to {args.upto} at {H}x{W}, {args.dtype} (FLOP: 2 per multiply-add of the direct conv)")
    print(format_table(rows, args.conv_algo, args.device))
    fwd = sum(r.gflop_forward for r in rows)
    print(f"unit of work (forward + dx, no weight gradients): {2 * fwd:.1f} GFLOP")
    print(f"fwd algo / dx algo: what conv_algo={args.conv_algo!r} runs at this size on the {args.device} "
          "(minivgg.fast.policy.plan);\n"
          "dx convolves dout with the flipped kernel, O -> C channels, so it may run another algorithm "
          "than the forward")
    return 0
