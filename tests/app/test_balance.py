"""``--balance-size``: beta scaled with the pixel count, so that every size (and every coarse-to-fine
level) gets the content/style balance the weights give at one size."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import call_cli, random_pictures

import minivgg.app.pipeline as pipeline
from minivgg.app.multiscale import balanced_style_weight
from minivgg.app.pictures import load_image
from minivgg.losses import content_loss, gram, style_layer_loss
from minivgg.objective import StyleTransfer
from minivgg.stylize import PROG, balance_note, main
from minivgg.vgg import VGG19


def test_balanced_style_weight_is_beta_times_the_pixel_ratio():
    assert balanced_style_weight(1e3, (192, 256), (192, 256)) == 1e3
    assert balanced_style_weight(1e3, (384, 512), (192, 256)) == 4e3
    assert balanced_style_weight(1e3, (1362, 2048), (170, 256)) == pytest.approx(1e3 * 1362 * 2048 / (170 * 256))
    assert balanced_style_weight(10.0, (16, 16), (32, 32)) == 2.5


def test_the_rule_at_a_tap_a_picture_repeated_2x2_halves_beta_twice():
    """Why the rule holds, exactly, at one layer: repeat every position of F and of the targets 2 x 2
    (M grows 4x). Eq. 2's gradient stays the same at each position, eq. 6's becomes a quarter
    (G and A grow 4x, 1/M^2 shrinks 16x): beta x 4 gives each position its old balance back."""
    rng = np.random.default_rng(0)
    F, P, S = (rng.standard_normal((8, 6, 5)) for _ in range(3))
    A = gram(S)

    def rep(a):
        return np.repeat(np.repeat(a, 2, axis=1), 2, axis=2)

    _, dc = content_loss(F, P)
    _, dc4 = content_loss(rep(F), rep(P))
    _, ds = style_layer_loss(F, A)
    _, ds4 = style_layer_loss(rep(F), gram(rep(S)))
    np.testing.assert_allclose(dc4, rep(dc), rtol=1e-12)
    np.testing.assert_allclose(4 * ds4, rep(ds), rtol=1e-12)
    assert balanced_style_weight(1.0, (12, 10), (6, 5)) == 4.0


def record_betas(monkeypatch):
    betas = []

    class Recording(StyleTransfer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            betas.append(self.beta)

    monkeypatch.setattr(pipeline, "StyleTransfer", Recording)
    return betas


@pytest.fixture
def pictures(tmp_path):
    return random_pictures(tmp_path, content=(48, 64), style=(40, 50))


def test_each_level_gets_beta_for_its_pixels(monkeypatch, pictures, tiny_weights):
    net = VGG19.load(tiny_weights)
    content, style = load_image(pictures["content"]), load_image(pictures["style"])      # 48 x 64
    betas = record_betas(monkeypatch)
    kwargs = dict(sizes=(32, 64), iterations=(1, 1), init="noise", optimizer="adam", beta=100.0)
    pipeline.stylize_images(net, content, [style], **kwargs)
    assert betas == [100.0, 100.0]                                       # the paper: beta as given
    betas.clear()
    pipeline.stylize_images(net, content, [style], balance_size=64, **kwargs)
    assert betas == [pytest.approx(100.0 * (24 * 32) / (48 * 64)), 100.0]   # the final size is the reference
    betas.clear()
    pipeline.stylize_images(net, content, [style], balance_size=32, **kwargs)
    assert betas == [100.0, pytest.approx(100.0 * (48 * 64) / (24 * 32))]


def test_cli_balance_size(pictures, tiny_weights, tmp_path, capsys):
    common = ["--content", pictures["content"], "--style", pictures["style"], "--size", "64", "--iterations", "2",
              "--weights", str(tiny_weights), "--init", "noise", "--optimizer", "adam"]
    plain, same = tmp_path / "plain.png", tmp_path / "same.png"
    assert call_cli(main, common + ["--output", str(plain), "--quiet"], capsys, prog=PROG)[0] == 0
    # balanced at the output's own size: beta x 1, the same picture, byte for byte
    assert call_cli(main, common + ["--output", str(same), "--quiet", "--balance-size", "64"], capsys,
                    prog=PROG)[0] == 0
    assert plain.read_bytes() == same.read_bytes()
    log = tmp_path / "run.jsonl"
    rc, out, err = call_cli(main, common + ["--output", str(tmp_path / "b.png"), "--balance-size", "32",
                                            "--levels", "2", "--scale-iterations", "1,1", "--log", str(log)],
                            capsys, prog=PROG)
    assert rc == 0, err
    assert "beta balanced as at 32 px: 1000 at 32 px, 4000 at 64 px" in out
    assert json.loads(log.read_text().splitlines()[0])["config"]["balance_size"] == 32
    rc, _, err = call_cli(main, common + ["--output", str(tmp_path / "c.png"), "--balance-size", "0"], capsys,
                          prog=PROG)
    assert rc == 2 and "--balance-size" in err


def test_a_large_picture_without_balance_gets_a_note():
    args = SimpleNamespace(balance_size=None, content_weight=1.0, style_weight=1e3, size=2048)
    note = balance_note(args)
    assert "64x less" in note and "--balance-size 256" in note
    assert balance_note(SimpleNamespace(**{**vars(args), "size": 512})) is None
    assert balance_note(SimpleNamespace(**{**vars(args), "balance_size": 256})) is None
    assert balance_note(SimpleNamespace(**{**vars(args), "style_weight": 0.0})) is None


def test_stylize_files_takes_balance_size(pictures, tiny_weights, monkeypatch):
    from minivgg.app.pipeline import stylize_files
    from minivgg.errors import UsageError

    betas = record_betas(monkeypatch)
    stylize_files(pictures["content"], [pictures["style"]], size=64, levels=2, iterations="1,1",
                  weights=tiny_weights, init="noise", optimizer="adam", style_weight=10.0, balance_size=32)
    assert betas == [10.0, pytest.approx(40.0, rel=0.01)]
    with pytest.raises(UsageError, match="balance_size"):
        stylize_files(pictures["content"], [pictures["style"]], size=64, weights=tiny_weights, balance_size=-3)
