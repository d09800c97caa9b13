"""The cost model behind `python -m minivgg.vgg summary` and the benchmark."""

import pytest

from minivgg.machine.cost import conv_flop, layer_costs, param_count, summary_main, unit_flop
from minivgg.vgg import main as vgg_main


def test_unit_flop_counts():
    assert round(unit_flop(256) / 1e9, 1) == 94.7
    assert round(unit_flop(512) / 1e9, 1) == 378.7
    assert unit_flop(512) == pytest.approx(4 * unit_flop(256))


def test_parameter_count_of_vgg19_convolutions():
    assert param_count() == 20_024_384


def test_layer_rows():
    rows = layer_costs(512, "conv5_1")
    assert [r.name for r in rows][-3:] == ["conv4_4", "pool4", "conv5_1"]
    c12 = next(r for r in rows if r.name == "conv1_2")
    assert c12.out_shape == (64, 512, 512) and c12.params == 64 * 64 * 9 + 64
    assert c12.act_bytes == 64 * 512 * 512 * 4
    assert c12.flop_forward == c12.flop_dx == conv_flop(64, 64, 512, 512) == 2 * 64 * 64 * 9 * 512 * 512
    assert layer_costs((300, 200), "conv2_1")[-1].out_shape == (128, 150, 100)


def test_summary_command(capsys):
    assert vgg_main(["summary", "--size", "512"]) == 0
    out = capsys.readouterr().out
    assert "conv1_2" in out and "378.7 GFLOP" in out and "12,944,960" in out
    assert summary_main(["summary", "--size", "256", "--upto", "conv5_4"]) == 0
    assert "20,024,384" in capsys.readouterr().out


def test_summary_bad_flags_exit_2():
    with pytest.raises(SystemExit) as e:
        summary_main(["summary", "--upto", "conv9_9"])
    assert e.value.code == 2


def test_summary_says_which_algorithm_computes_each_forward_and_dx(capsys):
    """One answer, in one place: per layer, what the default policy runs for the forward and for dx
    (dx is an O -> C convolution, so conv1_1's dx is shift-add while its forward is im2col)."""
    assert vgg_main(["summary", "--size", "256"]) == 0
    out = capsys.readouterr().out
    head = out.splitlines()[1].split()
    assert head[-4:] == ["fwd", "algo", "dx", "algo"]
    algos = {line.split()[0]: line.split()[-2:] for line in out.splitlines() if line.startswith("conv")}
    assert algos["conv1_1"] == ["im2col", "shiftadd"]
    assert algos["conv1_2"] == algos["conv2_1"] == ["mec", "mec"]
    assert all(algos[n] == ["winograd", "winograd"] for n in algos if n not in ("conv1_1", "conv1_2", "conv2_1"))
    assert [line.split()[0] for line in out.splitlines() if line.startswith("pool")] == ["pool1", "pool2", "pool3",
                                                                                       "pool4"]
    assert "conv_algo='auto'" in out
    assert summary_main(["summary", "--size", "64", "--conv-algo", "direct"]) == 0
    algos = {line.split()[0]: line.split()[-2:] for line in capsys.readouterr().out.splitlines()
             if line.startswith("conv")}
    assert algos["conv1_1"] == ["im2col", "shiftadd"] and algos["conv5_1"] == ["mec", "mec"]
    # the GPU's table, without a GPU: im2col where launches dominate, Winograd on the big layers
    assert summary_main(["summary", "--size", "512", "--device", "gpu"]) == 0
    out = capsys.readouterr().out
    algos = {line.split()[0]: line.split()[-2:] for line in out.splitlines() if line.startswith("conv")}
    assert {a for pair in algos.values() for a in pair} == {"im2col", "winograd"} and "on the gpu" in out
    assert algos["conv1_1"] == algos["conv3_1"] == algos["conv5_1"] == ["im2col", "im2col"]
    assert algos["conv4_2"] == ["winograd", "winograd"]


def test_widths_are_the_architectures():
    from minivgg.architecture import VGG19_CHANNELS, layer_widths

    rows = [r for r in layer_costs(32) if r.kind == "conv"]
    assert tuple(r.out_shape[0] for r in rows) == layer_widths() and len(rows) == 16
    assert layer_widths()[:3] == (64, 64, 128) and VGG19_CHANNELS[-1] == 512
