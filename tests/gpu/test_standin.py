"""The CuPy stand-in is as strict as CuPy where the GPU path can go wrong, and it catches planted bugs."""

import inspect
import textwrap

import numpy as np
import pytest
from devtools import assert_close, params

from minivgg import losses
from minivgg.backend import get_backend, to_numpy
from minivgg.fast import winograd
from minivgg.objective import StyleTransfer
from minivgg.vgg import VGG19

IMPLICIT = "Implicit conversion to a NumPy array is not allowed"


def test_no_implicit_conversion_to_numpy(standin):
    a = standin.xp.asarray(np.arange(6.0).reshape(2, 3))
    for convert in (np.asarray, np.array, lambda v: np.float32(v), lambda v: np.ascontiguousarray(v)):
        with pytest.raises(TypeError, match=IMPLICIT):
            convert(a)
    np.testing.assert_array_equal(a.get(), np.arange(6.0).reshape(2, 3))      # the explicit way
    np.testing.assert_array_equal(standin.xp.asnumpy(a), np.arange(6.0).reshape(2, 3))


def test_numpy_arrays_are_refused_as_operands_out_and_values(standin):
    xp = standin.xp
    a, host = xp.zeros((2, 3)), np.ones((2, 3))
    for mixed in (lambda: a + host, lambda: host + a, lambda: a * host, lambda: xp.add(a, host),
                  lambda: np.add(host, a), lambda: xp.matmul(a, host.T), lambda: xp.maximum(host, a)):
        with pytest.raises(TypeError, match="Unsupported type"):
            mixed()
    with pytest.raises(TypeError, match="Output arguments"):
        xp.add(a, 1.0, out=host)
    with pytest.raises(TypeError, match="host->device"):
        a[...] = host
    a[...] = xp.asarray(host)                                                  # explicit: fine
    a[0, 0] = 5.0                                                              # scalars too
    assert a.get()[0, 0] == 5.0 and a.get()[1, 2] == 1.0


def test_only_cupy_names_and_keywords(standin):
    xp = standin.xp
    for numpy_only in ("errstate", "asanyarray_chkfinite", "random_sample", "nanpercentile_fake"):
        assert not hasattr(xp, numpy_only)
    with pytest.raises(TypeError):
        xp.zeros((2,), like=np.zeros(2))                 # NumPy's keyword, not CuPy's
    with pytest.raises(TypeError):
        xp.asarray([1.0], copy=False)                    # ditto (CuPy: asarray(a, dtype, order, *, blocking))
    with pytest.raises(TypeError):
        xp.zeros_like(np.zeros(2))                       # a host array is not a device array's template


def test_reductions_and_single_elements_stay_on_the_device(standin):
    xp = standin.xp
    a = xp.asarray(np.arange(12.0).reshape(3, 4))
    with xp.counting() as t:
        s, m, e = a.sum(), a.max(), a[1, 2]
        assert all(type(v) is xp.ndarray and v.shape == () for v in (s, m, e))
    assert t.syncs == 0 and t.d2h == 0
    with xp.counting() as t:
        assert float(s) == 66.0 and int(m) == 11 and bool(e == 6.0) and e.item() == 6.0
    assert t.syncs == 4
    e[...] = -1.0                                        # a 0-d view writes through, as on CuPy
    assert float(a[1, 2]) == -1.0


def test_counts_copies_and_kernel_launches(standin):
    xp = standin.xp
    with xp.counting() as t:
        a = xp.asarray(np.ones((4, 6), dtype=np.float32))        # host -> device
        b = xp.empty((4, 6), dtype=np.float32)                   # allocation, no kernel
        c = a.T                                                  # a view
        d = a[:, ::2]                                            # a view
        xp.add(a, 1.0, out=b)                                    # 1
        e = b @ c                                                # 1
        f = d @ xp.ones((3, 2), dtype=np.float32)                # ones 1, strided operand copied 1, product 1
        g = e.sum()                                              # 1
        h = f.get()                                              # device -> host, sync
    assert (t.h2d, t.d2h, t.syncs, t.hidden_copies) == (1, 1, 1, 1)
    assert t.ops == 6 and float(g) == 4 * 4 * 6 * 2.0 and h.shape == (4, 2)


def test_get_backend_gpu_runs_on_the_standin_with_its_smoke_test(standin):
    xp = standin.xp
    with xp.counting() as t:
        be = get_backend("gpu", "float64")
    assert be.xp is xp and be.device == "gpu" and t.ops >= 2 and t.d2h == 1        # one product, one op, one copy
    with xp.counting() as t:
        get_backend("gpu")
    assert t.ops == 0                                                               # once per process
    assert type(be.asarray([1, 2])).__module__ == "cupy"


# ------------------------------------------------------------------------------------------------
# planted bugs: each passes on the CPU and is caught on the stand-in
# ------------------------------------------------------------------------------------------------
def _planted_copy(func, old: str, new: str):
    """A copy of ``func`` with one line of its source changed (the planted bug)."""
    src = textwrap.dedent(inspect.getsource(func))
    assert old in src, old
    namespace = dict(vars(inspect.getmodule(func)))
    exec(compile(src.replace(old, new), f"<planted {func.__name__}>", "exec"), namespace)
    return namespace[func.__name__]


def test_planted_implicit_conversion_is_caught(standin):
    """``np.asarray(x)`` in TV's code: harmless on the CPU, CuPy's TypeError on the device."""
    buggy = _planted_copy(losses.tv_loss, "    dv = x[:, 1:, :]", "    x = np.asarray(x) * 1.0\n    dv = x[:, 1:, :]")
    buggy.__globals__["np"] = np
    x = np.random.default_rng(0).standard_normal((3, 5, 6))
    assert buggy(x)[0] == pytest.approx(losses.tv_loss(x)[0])                 # the CPU does not notice
    with pytest.raises(TypeError, match=IMPLICIT):
        buggy(standin.xp.asarray(x))


def test_planted_host_array_in_a_device_operation_is_caught(standin):
    """A content target left on the host: the CPU computes on, the device refuses the mixed operation."""
    p = params()
    rng = np.random.default_rng(1)
    content, style, x = (rng.uniform(-100, 100, (3, 16, 16)) for _ in range(3))
    for device in ("cpu", "gpu"):
        st = StyleTransfer(VGG19(p, device=device), content, [style])
        st.content_targets = {k: to_numpy(v) for k, v in st.content_targets.items()}     # the bug
        if device == "cpu":
            st.loss_and_grad(x)
        else:
            with pytest.raises(TypeError, match="Unsupported type"):
                st.loss_and_grad(st.net.backend.asarray(x))


def one_evaluation(st, x):
    """The traffic of one ``loss_and_grad`` after a warm-up one."""
    st.loss_and_grad(x)
    with st.xp.counting() as t:
        st.loss_and_grad(x)
    return t


def tiny_objective_on_the_device(seed: int):
    """The tiny network's default objective on 16 x 16 random pictures, on the device, and an image there."""
    rng = np.random.default_rng(seed)
    content, style, x = (rng.uniform(-100, 100, (3, 16, 16)) for _ in range(3))
    st = StyleTransfer(VGG19(params(), device="gpu"), content, [style])
    return st, st.net.backend.asarray(x)


def assert_one_sync_no_upload(st, x):
    t = one_evaluation(st, x)
    assert t.syncs == 1, f"{t.syncs} device->host syncs per evaluation, budget 1"
    assert t.h2d == 0, f"{t.h2d} host->device copies per evaluation, budget 0"


def test_planted_sync_per_loss_breaks_the_budget(standin, monkeypatch):
    """A ``float()`` per loss, as the code had before: the traffic budget fails, and says why."""
    from minivgg import objective

    st, xd = tiny_objective_on_the_device(2)
    assert_one_sync_no_upload(st, xd)
    buggy = _planted_copy(losses.content_loss, "return 0.5 * _sum_of_squares(diff), diff",
                          "return 0.5 * float(_sum_of_squares(diff)), diff")
    monkeypatch.setattr(objective, "content_loss", buggy)
    with pytest.raises(AssertionError, match="2 device->host syncs per evaluation"):
        assert_one_sync_no_upload(st, xd)


def test_planted_upload_per_call_breaks_the_budget(standin, monkeypatch):
    """Winograd's transform matrices made per call (uncached): host->device copies every evaluation."""
    from minivgg.fast import policy

    monkeypatch.setattr(policy, "WINOGRAD_MIN_CHANNELS", 8)     # the tiny net's wider layers run Winograd
    monkeypatch.setattr(policy, "WINOGRAD_MIN_PIXELS", 4)
    monkeypatch.setattr(policy, "GPU_WINOGRAD_MIN_WORK", 1)
    st, xd = tiny_objective_on_the_device(3)
    assert_one_sync_no_upload(st, xd)
    monkeypatch.setattr(winograd, "data_transforms", winograd.data_transforms.__wrapped__)
    with pytest.raises(AssertionError, match="host->device copies per evaluation"):
        assert_one_sync_no_upload(st, xd)


def test_the_planted_bugs_leave_the_cpu_result_alone(standin):
    """(The stand-in's own results equal NumPy's: the bugs above are caught by strictness, not numbers.)"""
    p = params()
    rng = np.random.default_rng(4)
    content, style, x = (rng.uniform(-100, 100, (3, 16, 16)) for _ in range(3))
    cpu = StyleTransfer(VGG19(p, conv_algo="im2col"), content, [style]).loss_and_grad(x)
    dev = StyleTransfer(VGG19(p, device="gpu", conv_algo="im2col"), content, [style]).loss_and_grad(
        standin.xp.asarray(x, dtype=np.float32))
    assert dev[0] == pytest.approx(cpu[0], rel=1e-6)
    assert_close(dev[1], cpu[1], 1e-5, "gradient")
