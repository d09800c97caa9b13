"""Long runs resume: ``--checkpoint-every``, ``--restart``, Ctrl-C and SIGTERM, the log across a resume,
and the checkpoint under the one output policy (tiny random weights, 32 px images)."""

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import call_cli, interrupt_when
from PIL import Image

import minivgg.stylize
from minivgg.app.checkpoint import Checkpoint, checkpoint_path, cut_log, setting_differences
from minivgg.app.pipeline import stylize_images
from minivgg.errors import MinivggError
from minivgg.optim import AdamState, adam
from minivgg.stylize import PROG, main
from minivgg.vgg import VGG19

ROOT = Path(__file__).resolve().parents[2]




def argv_for(imgs, tiny_weights, *extra, iterations=8, optimizer="adam"):
    return ["--content", imgs["content"], "--style", imgs["style"], "--output", imgs["out"], "--size", "32",
            "--iterations", str(iterations), "--weights", str(tiny_weights), "--optimizer", optimizer,
            "--init", "noise", "--log", imgs["log"], "--print-every", "1", *extra]


def cli(argv, capsys):
    return call_cli(main, argv, capsys, prog=PROG)


def stop_at(monkeypatch, n, exc=KeyboardInterrupt):
    """Make the run raise ``exc`` while printing iteration ``n`` (after its log row and checkpoint point)."""
    real = minivgg.stylize.iteration_line

    def line(it, *args):
        if it == n:
            raise exc()
        return real(it, *args)

    monkeypatch.setattr(minivgg.stylize, "iteration_line", line)


def log_records(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def rows_of(path):
    return [r for r in log_records(path) if "iter" in r]


def same_rows(a, b):
    """Log rows equal in everything but the wall-clock seconds."""
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in (a + b)]
    return strip[:len(a)] == strip[len(a):]


def uninterrupted(imgs, tiny_weights, capsys, argv, tmp_path):
    """The output bytes and log rows of ``argv`` run in one go (into a side folder)."""
    ref = tmp_path / "ref"
    ref.mkdir()
    argv = list(argv)
    argv[argv.index("--output") + 1] = str(ref / "out.png")
    argv[argv.index("--log") + 1] = str(ref / "run.jsonl")
    rc, _, err = cli(argv, capsys)
    assert rc == 0, err
    return (ref / "out.png").read_bytes(), rows_of(ref / "run.jsonl")


# ------------------------------------------------------------------------------------------------
# the pieces


def test_adam_state_continues_exactly():
    """Adam split in two with its state in between takes exactly the steps of one run."""
    rng = np.random.default_rng(1)
    target = rng.standard_normal((3, 5, 4)).astype(np.float32)

    def fun(x):
        return float(((x - target) ** 2).sum()), 2 * (x - target)

    x0 = np.zeros_like(target)
    whole = adam(fun, x0, 9, lr=0.1)
    state = AdamState()
    half = adam(fun, x0, 4, lr=0.1, state=state)
    assert state.t == 4
    restored = AdamState.from_state_dict({k: np.array(v) for k, v in state.state_dict().items()})
    rest = adam(fun, half, 5, lr=0.1, state=restored)
    assert rest.tobytes() == whole.tobytes() and restored.t == 9


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs-xp"])
def test_pipeline_resume_at_every_point_is_bitwise_the_uninterrupted_run(optimizer, tiny_weights, tmp_path):
    """Multi-scale, with either optimiser whose state is a Python object: stopped anywhere (mid-scale, at a
    scale's end), saved, loaded and resumed, the final image is the uninterrupted run's, bit for bit."""
    net = VGG19.load(tiny_weights)
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    style = rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)
    kw = dict(sizes=(24, 32), iterations=(4, 3), optimizer=optimizer, init="noise", bounds=optimizer == "adam",
              tv_weight=1.0)
    whole = []
    stylize_images(net, content, [style], callback=lambda it, x, p: whole.append(np.array(x)), **kw)

    for stop in (2, 4, 5):                              # in scale 1, at its end, in scale 2
        live, points, seen = {}, [], []

        def record(it, x, parts, stop=stop, seen=seen, points=points, live=live):
            seen.append(1)
            points.append(Checkpoint(image=x, level=parts["scale"], level_iteration=it, iteration=len(seen),
                                     seconds=0.0, settings={}, optimizer=optimizer,
                                     optimizer_state=live["state"].copy()))
            if len(seen) == stop:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            stylize_images(net, content, [style], callback=record, on_state=lambda s, live=live: live.update(state=s),
                           **kw)
        path = tmp_path / f"stop{stop}.checkpoint.npz"
        points[-1].save(path)
        point, _ = Checkpoint.load(path)
        rest = []
        stylize_images(net, content, [style], callback=lambda it, x, p, rest=rest: rest.append(np.array(x)),
                       resume=point, **kw)
        assert len(rest) == 7 - stop
        assert rest[-1].tobytes() == whole[-1].tobytes(), stop


def test_checkpoint_file_round_trip_and_damage(tmp_path):
    state = AdamState(3, np.ones((3, 2, 2), np.float32), np.full((3, 2, 2), 2, np.float32))
    point = Checkpoint(image=np.arange(12, dtype=np.float32).reshape(3, 2, 2), level=1, level_iteration=3,
                       iteration=7, seconds=1.5, settings={"a": [1, 2], "b": "x"}, optimizer="adam",
                       optimizer_state=state)
    history = [{"iter": i, "size": 32, "total": 1.0 / i, "content": 0.5, "style": 0.25, "tv": 0.0, "scale": 1}
               for i in range(1, 8)]
    path = tmp_path / "o.checkpoint.npz"
    point.save(path, history)
    back, hist = Checkpoint.load(path)
    assert back.image.tobytes() == point.image.tobytes() and back.image.dtype == np.float32
    assert (back.level, back.level_iteration, back.iteration, back.seconds) == (1, 3, 7, 1.5)
    assert back.settings == {"a": [1, 2], "b": "x"} and back.optimizer == "adam"
    assert back.optimizer_state.t == 3 and (back.optimizer_state.v == 2).all()
    assert hist == [{k: v for k, v in r.items() if k != "scale"} for r in history]
    # SciPy's L-BFGS-B: no state
    Checkpoint(point.image, 0, 2, 2, 0.1, {}, "lbfgs").save(path)
    assert Checkpoint.load(path)[0].optimizer_state is None
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(MinivggError, match="cannot read the checkpoint .*--restart"):
        Checkpoint.load(path)


def test_setting_differences_name_what_differs():
    saved = {"style_weight": 1000.0, "content": "sha256:aa", "style": ["sha256:bb"], "content_layers": ["conv4_2"]}
    now = {"style_weight": 100.0, "content": "sha256:cc", "style": ["sha256:bb"], "content_layers": ("conv4_2",)}
    assert setting_differences(saved, now) == ["--style-weight 1000.0 there, 100.0 now", "--content: another file"]
    assert setting_differences(saved, saved) == []
    assert setting_differences({"style": ["sha256:1"]}, {"style": ["sha256:2"]}) == ["--style: other files"]


def test_cut_log_keeps_the_rows_up_to_the_checkpoint(tmp_path):
    log = tmp_path / "run.jsonl"
    lines = ([{"config": {}}] + [{"iter": i} for i in range(1, 5)] + [{"resumed": {"iter": 2}}]
             + [{"iter": i} for i in range(3, 7)])
    log.write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"iter": 7, "lo')   # killed mid-line
    assert cut_log(log, 4) is True
    assert log_records(log) == [{"config": {}}, {"iter": 1}, {"iter": 2}, {"iter": 3}, {"iter": 4},
                                {"resumed": {"iter": 2}}, {"iter": 3}, {"iter": 4}]
    assert cut_log(tmp_path / "none.jsonl", 3) is False


# ------------------------------------------------------------------------------------------------
# the command line


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs-xp"])
def test_interrupted_run_resumes_to_the_same_image_and_one_log(optimizer, imgs, tiny_weights, tmp_path, capsys,
                                                               monkeypatch):
    argv = argv_for(imgs, tiny_weights, "--checkpoint-every", "3", "--scales", "24,32", "--scale-iterations", "4,4",
                    optimizer=optimizer)
    ref_png, ref_rows = uninterrupted(imgs, tiny_weights, capsys, argv, tmp_path)
    ckpt = checkpoint_path(imgs["out"])
    handler = signal.getsignal(signal.SIGINT)
    with monkeypatch.context() as m:
        stop_at(m, 6)
        rc, _, err = cli(argv, capsys)
    assert rc == 130, err
    assert err == f"{PROG}: interrupted at iteration 6: wrote {imgs['out']} and {ckpt}; rerun the same command " \
                  "to resume\n"
    assert signal.getsignal(signal.SIGINT) is handler           # the handlers are put back
    assert Checkpoint.load(ckpt)[0].iteration == 6

    rc, out, err = cli(argv, capsys)
    assert rc == 0, err
    assert f"resumed at level 2 of 2 (32 px), iteration 6 of 8 from {ckpt}\n" in out
    assert Path(imgs["out"]).read_bytes() == ref_png
    assert not os.path.exists(ckpt)                              # the run is done
    records = log_records(imgs["log"])
    assert sum("config" in r for r in records) == 1
    assert [r for r in records if "resumed" in r] == [
        {"resumed": {"iter": 6, "seconds": pytest.approx(records[6]["seconds"], abs=1),
                     "optimizer_state": "restored", "size": 32, "scale_iter": 2}}]
    rows = rows_of(imgs["log"])
    assert [r["iter"] for r in rows] == list(range(1, 9))        # one run, ending at the count asked for
    assert same_rows(rows, ref_rows)                              # the very same losses


def test_a_run_killed_after_its_last_checkpoint_resumes_there_and_cuts_the_log(imgs, tiny_weights, tmp_path, capsys,
                                                                               monkeypatch):
    """SIGKILL, a crash, a power cut: no save at the end; the last periodic checkpoint (3) is where the run
    goes on, and the log rows written after it (4, 5) are not repeated."""
    argv = argv_for(imgs, tiny_weights, "--checkpoint-every", "3", "--plot", str(tmp_path / "loss.png"))
    ref_png, ref_rows = uninterrupted(imgs, tiny_weights, capsys, argv, tmp_path)
    with monkeypatch.context() as m:
        stop_at(m, 5, exc=lambda: RuntimeError("killed"))
        rc, _, err = cli(argv, capsys)
    assert rc == 1 and "killed" in err
    assert [r["iter"] for r in rows_of(imgs["log"])] == [1, 2, 3, 4, 5]
    rc, out, err = cli(argv, capsys)
    assert rc == 0, err
    assert "resumed at iteration 3 of 8" in out
    assert [r["iter"] for r in rows_of(imgs["log"])] == list(range(1, 9))
    assert same_rows(rows_of(imgs["log"]), ref_rows)
    assert Path(imgs["out"]).read_bytes() == ref_png
    assert (tmp_path / "loss.png").is_file()


def test_lbfgs_resumes_from_the_saved_image_and_says_its_history_restarts(imgs, tiny_weights, capsys,
                                                                         monkeypatch):
    argv = argv_for(imgs, tiny_weights, "--checkpoint-every", "10", optimizer="lbfgs")
    with monkeypatch.context() as m:
        stop_at(m, 3)
        rc, _, err = cli(argv, capsys)
    assert rc == 130, err
    point, history = Checkpoint.load(checkpoint_path(imgs["out"]))
    assert (point.iteration, point.level_iteration, point.optimizer_state) == (3, 3, None)
    assert [h["iter"] for h in history] == [1, 2, 3]
    first = rows_of(imgs["log"])
    rc, out, err = cli(argv, capsys)
    assert rc == 0, err
    resumed = [line for line in out.splitlines() if line.startswith("resumed")]
    assert resumed == [f"resumed at iteration 3 of 8 from {checkpoint_path(imgs['out'])}; SciPy's L-BFGS-B cannot "
                       "save its history, so it starts a new one from the saved image"]
    rows = rows_of(imgs["log"])
    assert [r["iter"] for r in rows] == list(range(1, 9)) and rows[:3] == first
    assert [r for r in log_records(imgs["log"]) if "resumed" in r][0]["resumed"]["optimizer_state"] == "restarted"
    # the new history starts from the saved image: its first loss is below the saved image's
    assert rows[3]["loss"] <= rows[2]["loss"]
    assert not os.path.exists(checkpoint_path(imgs["out"]))


def test_other_settings_are_refused_in_one_line_and_restart_starts_over(imgs, tiny_weights, tmp_path, capsys,
                                                                      monkeypatch):
    argv = argv_for(imgs, tiny_weights, "--checkpoint-every", "2")
    ckpt = Path(checkpoint_path(imgs["out"]))
    with monkeypatch.context() as m:
        stop_at(m, 3)
        assert cli(argv, capsys)[0] == 130
    saved, image = ckpt.read_bytes(), Path(imgs["out"]).read_bytes()

    rc, out, err = cli(argv + ["--style-weight", "5", "--tv-weight", "0"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert err == (f"{PROG}: error: the checkpoint {ckpt} was made with other settings (--style-weight 1000.0 there, "
                   "5.0 now; --tv-weight 10.0 there, 0.0 now): rerun with its settings to resume it, or add --restart "
                   "to start over\n")
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(imgs["content"])      # same name, another photo
    rc, _, err = cli(argv, capsys)
    assert rc == 2 and "--content: another file" in err
    assert ckpt.read_bytes() == saved and Path(imgs["out"]).read_bytes() == image   # nothing touched

    rc, out, err = cli(argv + ["--restart"], capsys)
    assert rc == 0, err
    assert f"--restart: removed the checkpoint {ckpt}" in out and "resumed" not in out
    assert not ckpt.exists()
    assert [r["iter"] for r in rows_of(imgs["log"])] == list(range(1, 9))
    assert not any("resumed" in r for r in log_records(imgs["log"]))


def test_settings_that_do_not_change_the_pixels_do_not_refuse(imgs, tiny_weights, tmp_path, capsys, monkeypatch):
    argv = argv_for(imgs, tiny_weights, "--checkpoint-every", "2", "--init", "content")
    with monkeypatch.context() as m:
        stop_at(m, 3)
        assert cli(argv, capsys)[0] == 130
    # another seed (no noise init), another print period and checkpoint period, another log, a plot
    rc, out, err = cli(argv + ["--seed", "7", "--print-every", "2", "--checkpoint-every", "5",
                               "--log", str(tmp_path / "other.jsonl"), "--plot", str(tmp_path / "p.png")], capsys)
    assert rc == 0, err
    assert "resumed at iteration 3 of 8" in out
    records = log_records(tmp_path / "other.jsonl")              # a new log: its config, then the resumption
    assert "config" in records[0] and records[1]["resumed"]["iter"] == 3
    assert [r["iter"] for r in records[2:]] == list(range(4, 9))


def test_without_checkpoint_every_a_checkpoint_is_left_alone(imgs, tiny_weights, capsys, monkeypatch):
    argv = argv_for(imgs, tiny_weights, "--checkpoint-every", "2")
    with monkeypatch.context() as m:
        stop_at(m, 3)
        assert cli(argv, capsys)[0] == 130
    ckpt = Path(checkpoint_path(imgs["out"]))
    saved = ckpt.read_bytes()
    plain = argv[:-2]
    with monkeypatch.context() as m:                             # Ctrl-C without --checkpoint-every: no checkpoint
        stop_at(m, 2)
        rc, _, err = cli(plain, capsys)
    assert rc == 130 and ".checkpoint.npz" not in err
    rc, out, err = cli(plain, capsys)
    assert rc == 0, err
    assert out.startswith(f"note: {ckpt} holds an unfinished run of this output, left as it is: add "
                          "--checkpoint-every N to resume it, or --restart to delete it\n")
    assert ckpt.read_bytes() == saved
    assert [r["iter"] for r in rows_of(imgs["log"])] == list(range(1, 9))


def test_the_checkpoint_obeys_the_output_policy(imgs, tiny_weights, tmp_path, capsys):
    ckpt = checkpoint_path(imgs["out"])
    argv = argv_for(imgs, tiny_weights, "--checkpoint-every", "2")
    argv[argv.index("--log") + 1] = ckpt
    rc, _, err = cli(argv, capsys)
    assert rc == 2
    assert err == f"{PROG}: error: --log {ckpt} is the same file as the checkpoint {ckpt}: choose another path\n"
    shutil.copyfile(tiny_weights, ckpt)                          # the weights where the checkpoint would go
    before = Path(ckpt).read_bytes()
    for flag in ("--checkpoint-every", "--restart"):
        argv = argv_for(imgs, tiny_weights, *([flag, "2"] if flag == "--checkpoint-every" else [flag]))
        argv[argv.index("--weights") + 1] = ckpt
        rc, _, err = cli(argv, capsys)
        assert rc == 2 and f"the checkpoint {ckpt} is the same file as --weights {ckpt}" in err, err
    assert Path(ckpt).read_bytes() == before and not os.path.exists(imgs["out"])
    argv = argv_for(imgs, tiny_weights, iterations=2)            # no checkpointing: the path is no output
    argv[argv.index("--weights") + 1] = ckpt
    rc, out, err = cli(argv, capsys)
    assert rc == 0 and "note" not in out, err


@pytest.mark.parametrize("sig, code, how", [(signal.SIGINT, 130, "interrupted"),
                                            (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_ctrl_c_and_sigterm_write_the_image_and_the_checkpoint(sig, code, how, imgs, tiny_weights, capsys):
    argv = argv_for(imgs, tiny_weights, "--checkpoint-every", "100000", iterations=100000)
    rc, err = interrupt_when([sys.executable, "-m", "minivgg.stylize", *argv], lambda line: line.startswith("iter"),
                             sig=sig, cwd=ROOT)
    assert rc == code, err
    assert "Traceback" not in err
    point, history = Checkpoint.load(checkpoint_path(imgs["out"]))
    assert err == (f"{PROG}: {how} at iteration {point.iteration}: wrote {imgs['out']} and "
                   f"{checkpoint_path(imgs['out'])}; rerun the same command to resume\n")
    assert point.iteration >= 1 and point.optimizer_state.t == point.iteration == len(history)
    with Image.open(imgs["out"]) as im:
        assert im.size == (32, 24)
    assert [r["iter"] for r in rows_of(imgs["log"])][:point.iteration] == list(range(1, point.iteration + 1))


def test_sigterm_without_checkpointing_still_writes_the_image(imgs, tiny_weights):
    argv = argv_for(imgs, tiny_weights, iterations=100000)
    rc, err = interrupt_when([sys.executable, "-m", "minivgg.stylize", *argv], lambda line: line.startswith("iter"),
                             sig=signal.SIGTERM, cwd=ROOT)
    assert rc == 143, err
    assert err.startswith(f"{PROG}: terminated (SIGTERM) at iteration ") and err.endswith(f": wrote {imgs['out']}\n")
    assert os.path.exists(imgs["out"]) and not os.path.exists(checkpoint_path(imgs["out"]))


def test_ctrl_c_before_the_first_resumed_iteration_keeps_the_checkpoint(imgs, tiny_weights, capsys, monkeypatch):
    import minivgg.app.pipeline

    argv = argv_for(imgs, tiny_weights, "--checkpoint-every", "2")
    with monkeypatch.context() as m:
        stop_at(m, 3)
        assert cli(argv, capsys)[0] == 130
    ckpt = checkpoint_path(imgs["out"])
    before = Checkpoint.load(ckpt)

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(minivgg.app.pipeline.StyleTransfer, "run", interrupted)
        rc, _, err = cli(argv, capsys)
    assert rc == 130 and err.startswith(f"{PROG}: interrupted at iteration 3: wrote {imgs['out']} and {ckpt}")
    after = Checkpoint.load(ckpt)
    assert after[1] == before[1] and after[0].optimizer_state.t == before[0].optimizer_state.t == 3
    assert after[0].image.tobytes() == before[0].image.tobytes()
