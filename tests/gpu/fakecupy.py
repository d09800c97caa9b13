"""A strict CuPy stand-in: computes with NumPy, behaves like CuPy where the GPU path can go wrong.

``make_standin()`` returns a module object named ``cupy`` (install it as ``sys.modules["cupy"]``) whose
``ndarray`` wraps a NumPy array that stands for device memory. It is stricter than nothing and, where
it matters, as strict as CuPy:

* a device array never turns into a NumPy array by itself: ``__array__`` raises CuPy's TypeError
  (so ``np.asarray(a)``, ``np.array(a)``, ``np.float32(a)``, Pillow ... fail as they do on a GPU);
  ``.get()`` / ``cupy.asnumpy`` copy to the host, ``cupy.asarray(numpy_array)`` to the device;
* NumPy arrays are refused wherever CuPy refuses them: as operands of its functions and operators
  (``device + host``), as ``out=``, and as the value of ``a[...] = v`` (CuPy itself would copy such
  a value to the device silently; here that hidden host->device copy is an error);
* only the functions, methods and keywords CuPy has are there (``cupy.foo`` for a NumPy-only ``foo``
  is an AttributeError; an unknown keyword a TypeError);
* reductions return 0-d device arrays, and indexing to a single element too: ``float(a.sum())`` is a
  device->host sync, as on a GPU;
* ``__array_ufunc__`` / ``__array_function__`` dispatch ``np.add(dev, dev)``, ``np.sum(dev)`` to the
  stand-in, as CuPy does; a NumPy array among the operands is a TypeError.

It counts what costs time on a GPU (:class:`Traffic`): **syncs** (``float()``, ``int()``, ``bool()``,
``.item()``, ``.tolist()``, ``repr``/``format``, ``.get()``, ``cupy.asnumpy``, ``Device.synchronize``),
**host->device** copies (``cupy.asarray``/``cupy.array`` of host data) and **device->host** copies of
arrays (``.get()``, ``cupy.asnumpy``, ``.tolist()``; a scalar's ``float()`` is a sync only), and
**device operations** -- kernel launches: each
elementwise function or operator, reduction, matrix product, copy (``a[...] = b``, ``astype``,
``copy``, a ``reshape`` that cannot be a view, ``ascontiguousarray`` of a strided array), fill
(``zeros``, ``ones``), and the **hidden copies** CuPy makes of a matrix-product operand that is
neither C- nor F-contiguous (counted apart too). ``empty`` and views (slices, transposes, reshapes of
contiguous arrays) are free, as on a GPU.

The stand-in also answers ``cupy.cuda.runtime.getDeviceCount()`` (1), ``memGetInfo()`` and
``cupy.get_default_memory_pool()`` (a pool whose ``free_bytes`` can be set), so that
``minivgg.backend.get_backend("gpu")`` and the memory check run on it unchanged.
``make_standin(broken="matmul")`` makes every matrix product fail the way a CuPy without CUDA's
libraries does (at the first kernel, not at import).
"""

from __future__ import annotations

import contextlib
import dataclasses
import types

import numpy as np

IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly.")
SCALARS = (bool, int, float, complex, np.generic)


@dataclasses.dataclass
class Traffic:
    """What a piece of code cost the device. ``ops`` includes the ``hidden_copies``."""

    syncs: int = 0
    h2d: int = 0
    d2h: int = 0
    ops: int = 0
    hidden_copies: int = 0

    def copy(self) -> Traffic:
        return dataclasses.replace(self)

    def __sub__(self, other: Traffic) -> Traffic:
        return Traffic(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in dataclasses.fields(self)})


class DeviceArrayBase:
    """Common base of every stand-in's ``ndarray`` class (each stand-in module has its own)."""

    __slots__ = ()


def make_standin(broken: str | None = None, free_bytes: int = 64 << 30, total_bytes: int = 80 << 30,
                 pool_free_bytes: int = 0) -> types.ModuleType:
    """A fresh stand-in module (its own ndarray class and counters; see the module docstring).

    ``mod.traffic`` is the running :class:`Traffic`; ``with mod.counting() as t:`` gives the traffic of
    the block in ``t`` (filled in when the block ends). free_bytes, total_bytes: what ``memGetInfo``
    says; pool_free_bytes: what the memory pool holds free (``mod.pool.free`` may be changed later).
    """
    mod = types.ModuleType("cupy", "A strict CuPy stand-in (tests/gpu/fakecupy.py).")
    mod.__version__ = "0.0-standin"
    traffic = Traffic()
    mod.traffic = traffic

    # ------------------------------------------------------------------------------------------
    def op(n: int = 1):
        traffic.ops += n

    def sync():
        traffic.syncs += 1

    def dev(v, what="argument"):
        """The NumPy array behind a device argument; scalars pass; NumPy arrays and the like are refused."""
        if isinstance(v, ndarray):
            return v._a
        if isinstance(v, DeviceArrayBase):
            raise ValueError("the array belongs to another (stand-in) device")
        if isinstance(v, SCALARS) or v is None:
            return v
        raise TypeError(f"Unsupported type {type(v)}")

    def wrap(a) -> ndarray:
        return ndarray._make(np.asarray(a) if not isinstance(a, np.ndarray) else a)

    def check_out(out):
        if out is not None and not isinstance(out, ndarray):
            raise TypeError(f"Output arguments must be cupy.ndarray, got {type(out)}")
        return None if out is None else out._a

    def computed(np_func, vals, out):
        """One device operation: ``np_func(*vals)`` (host arrays) into ``out`` (checked) or a new array."""
        o = check_out(out)
        op()
        if o is not None:
            np_func(*vals, out=o)
            return out
        return wrap(np_func(*vals))

    # ------------------------------------------------------------------------------------------
    class ndarray(DeviceArrayBase):  # noqa: N801  (CuPy's name)
        __module__ = "cupy"                  # what minivgg.backend.get_array_module looks at
        __qualname__ = "ndarray"
        __slots__ = ("_a",)
        __array_priority__ = 100
        __hash__ = None

        @classmethod
        def _make(cls, a: np.ndarray) -> ndarray:
            obj = object.__new__(cls)
            obj._a = a
            return obj

        def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
            self._a = np.empty(shape, dtype=dtype, order=order)

        # --- what a device array is
        shape = property(lambda self: self._a.shape)
        ndim = property(lambda self: self._a.ndim)
        size = property(lambda self: self._a.size)
        dtype = property(lambda self: self._a.dtype)
        strides = property(lambda self: self._a.strides)
        itemsize = property(lambda self: self._a.itemsize)
        nbytes = property(lambda self: self._a.nbytes)
        flags = property(lambda self: self._a.flags)
        T = property(lambda self: ndarray._make(self._a.T))

        def __len__(self):
            return len(self._a)

        # --- the host boundary
        def __array__(self, *args, **kwargs):
            raise TypeError(IMPLICIT)

        def get(self, stream=None, order="C", out=None, blocking=True):
            sync()
            traffic.d2h += 1
            if out is not None:
                out[...] = self._a
                return out
            return np.array(self._a, order=order)

        def item(self):
            sync()
            return self._a.item()

        def tolist(self):
            sync()
            traffic.d2h += 1
            return self._a.tolist()

        def _scalar(self, kind):
            if self._a.size != 1:
                raise TypeError("only length-1 arrays can be converted to Python scalars")
            sync()
            return kind(self._a.reshape(()))

        def __float__(self):
            return self._scalar(float)

        def __int__(self):
            return self._scalar(int)

        def __complex__(self):
            return self._scalar(complex)

        def __bool__(self):
            if self._a.size != 1:
                raise ValueError("The truth value of an array with more than one element is ambiguous.")
            return self._scalar(bool)

        def __repr__(self):
            sync()
            return f"array({np.array2string(self._a, separator=', ')})"

        def __str__(self):
            sync()
            return str(self._a)

        def __format__(self, spec):
            sync()
            return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

        def __iter__(self):
            if self._a.ndim == 0:
                raise TypeError("iteration over a 0-d array")
            return (self[i] for i in range(len(self._a)))

        # --- NumPy's protocols: dispatched to the stand-in, as CuPy does
        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            f = getattr(mod, ufunc.__name__, None)
            if method != "__call__" or f is None:
                return NotImplemented
            if isinstance(kwargs.get("out"), tuple):       # NumPy passes out= as a tuple
                (kwargs["out"],) = kwargs["out"]
            return f(*inputs, **kwargs)

        def __array_function__(self, func, types_, args, kwargs):
            f = getattr(mod, func.__name__, None)
            if f is None:
                return NotImplemented
            return f(*args, **kwargs)

        # --- indexing
        def _index(self, idx):
            if isinstance(idx, tuple):
                return tuple(self._index(i) for i in idx)
            if isinstance(idx, ndarray):
                return idx._a
            if isinstance(idx, (np.ndarray, list)):
                raise TypeError(f"a host index {type(idx)} on a device array (make it a device array first)")
            return idx

        def __getitem__(self, idx):
            ix = self._index(idx)
            parts = ix if isinstance(ix, tuple) else (ix,)
            if any(isinstance(p, np.ndarray) for p in parts):
                op()                                     # advanced indexing: a gather kernel
                return wrap(self._a[ix])
            res = self._a[ix]
            if not isinstance(res, np.ndarray):          # one element: CuPy gives a 0-d view, not a scalar
                res = self._a[parts + (Ellipsis,)]
            return ndarray._make(res)

        def __setitem__(self, idx, value):
            if isinstance(value, np.ndarray):
                raise TypeError("a NumPy array assigned into a device array (a hidden host->device copy): "
                                "use cupy.asarray() first")
            v = dev(value, "value")
            op()
            self._a[self._index(idx)] = v

        # --- methods CuPy has
        def reshape(self, *shape, order="C"):
            if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
                shape = tuple(shape[0])
            res = self._a.reshape(shape, order=order)
            if res.size and not np.may_share_memory(res, self._a):
                op()
            return ndarray._make(res)

        def transpose(self, *axes):
            if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
                axes = tuple(axes[0])
            return ndarray._make(self._a.transpose(*axes) if axes else self._a.transpose())

        def swapaxes(self, axis1, axis2):
            return ndarray._make(self._a.swapaxes(axis1, axis2))

        def squeeze(self, axis=None):
            return ndarray._make(self._a.squeeze(axis))

        def ravel(self, order="C"):
            return self.reshape(-1, order=order)

        def flatten(self, order="C"):
            op()
            return wrap(self._a.flatten(order))

        def copy(self, order="C"):
            op()
            return wrap(self._a.copy(order=order))

        def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
            if not copy and np.dtype(dtype) == self._a.dtype:
                return self
            op()
            return wrap(self._a.astype(dtype, order=order, casting=casting or "unsafe"))

        def fill(self, value):
            op()
            self._a.fill(dev(value))

        def view(self, dtype=None):
            return ndarray._make(self._a.view() if dtype is None else self._a.view(dtype))

        def sum(self, axis=None, dtype=None, out=None, keepdims=False):
            return mod.sum(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims)

        def mean(self, axis=None, dtype=None, out=None, keepdims=False):
            return mod.mean(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims)

        def max(self, axis=None, out=None, keepdims=False):
            return mod.amax(self, axis=axis, out=out, keepdims=keepdims)

        def min(self, axis=None, out=None, keepdims=False):
            return mod.amin(self, axis=axis, out=out, keepdims=keepdims)

        def all(self, axis=None, out=None, keepdims=False):
            return mod.all(self, axis=axis, out=out, keepdims=keepdims)

        def any(self, axis=None, out=None, keepdims=False):
            return mod.any(self, axis=axis, out=out, keepdims=keepdims)

        def clip(self, min=None, max=None, out=None):  # noqa: A002  (CuPy's names)
            return mod.clip(self, min, max, out=out)

        def dot(self, b, out=None):
            return mod.dot(self, b, out=out)

    mod.ndarray = ndarray

    # ------------------------------------------------------------------------------------------
    # elementwise functions and their operators
    def elementwise(np_func, name):
        def f(*args, out=None, dtype=None, casting="same_kind"):
            if broken == "elementwise":
                raise RuntimeError("CUDA driver version is insufficient for CUDA runtime version")
            vals = [dev(a) for a in args]
            o = check_out(out)
            op()
            kw = {"casting": casting}
            if dtype is not None:
                kw["dtype"] = dtype
            if o is not None:
                np_func(*vals, out=o, **kw)
                return out
            return wrap(np_func(*vals, **kw))
        f.__name__ = name
        return f

    ufuncs = ("add subtract multiply divide true_divide floor_divide power remainder negative positive "
              "absolute sqrt square exp log log1p sign maximum minimum fmax fmin rint floor ceil "
              "isfinite isnan isinf equal not_equal less less_equal greater greater_equal logical_and "
              "logical_or logical_not logical_xor bitwise_and bitwise_or bitwise_xor invert").split()
    for name in ufuncs:
        setattr(mod, name, elementwise(getattr(np, name), name))
    mod.abs = mod.absolute

    def binop(name, reflected=False):
        f = getattr(mod, name)

        def method(self, other):
            if isinstance(other, np.ndarray):
                raise TypeError(f"Unsupported type {type(other)}")
            if not isinstance(other, (ndarray,) + SCALARS):
                return NotImplemented
            return f(other, self) if reflected else f(self, other)
        return method

    def inplace(name):
        f = getattr(mod, name)

        def method(self, other):
            if isinstance(other, np.ndarray):
                raise TypeError(f"Unsupported type {type(other)}")
            return f(self, other, out=self)
        return method

    for dunder, name in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
                         ("floordiv", "floor_divide"), ("pow", "power"), ("mod", "remainder"),
                         ("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor")):
        setattr(ndarray, f"__{dunder}__", binop(name))
        setattr(ndarray, f"__r{dunder}__", binop(name, reflected=True))
        setattr(ndarray, f"__i{dunder}__", inplace(name))
    for dunder, name in (("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal"),
                         ("eq", "equal"), ("ne", "not_equal")):
        setattr(ndarray, f"__{dunder}__", binop(name))
    ndarray.__neg__ = lambda self: mod.negative(self)
    ndarray.__pos__ = lambda self: mod.positive(self)
    ndarray.__abs__ = lambda self: mod.absolute(self)
    ndarray.__invert__ = lambda self: mod.invert(self)
    ndarray.__matmul__ = lambda self, other: mod.matmul(self, other)
    ndarray.__rmatmul__ = lambda self, other: mod.matmul(other, self)

    def __imatmul__(self, other):
        return mod.matmul(self, other, out=self)
    ndarray.__imatmul__ = __imatmul__

    # ------------------------------------------------------------------------------------------
    # reductions: 0-d device arrays, never host scalars
    def reduction(np_func, name, has_dtype=True):
        def f(a, axis=None, dtype=None, out=None, keepdims=False):
            v = dev(a)
            o = check_out(out)
            op()
            kw = {"axis": axis, "keepdims": keepdims}
            if dtype is not None:
                kw["dtype"] = dtype
            res = np.asarray(np_func(v, **kw))
            if o is not None:
                o[...] = res
                return out
            return wrap(res)

        def g(a, axis=None, out=None, keepdims=False):
            return f(a, axis=axis, out=out, keepdims=keepdims)
        (f if has_dtype else g).__name__ = name
        return f if has_dtype else g

    for name, np_func, has_dtype in (("sum", np.sum, True), ("prod", np.prod, True), ("mean", np.mean, True),
                                     ("amax", np.max, False), ("amin", np.min, False), ("all", np.all, False),
                                     ("any", np.any, False)):
        setattr(mod, name, reduction(np_func, name, has_dtype))
    mod.max, mod.min = mod.amax, mod.amin

    # ------------------------------------------------------------------------------------------
    # matrix products (cuBLAS needs each matrix C- or F-contiguous; CuPy copies any other operand)
    def gemm_operand(v):
        a = dev(v)
        if not isinstance(a, np.ndarray):
            raise TypeError("Scalar operands are not allowed, use '*' instead")
        if a.ndim >= 2 and not (a.flags.c_contiguous or a.flags.f_contiguous):
            traffic.hidden_copies += 1
            op()
        return a

    def matmul(x1, x2, out=None, **kwargs):
        if kwargs:
            raise TypeError(f"matmul: unsupported keywords {sorted(kwargs)}")
        if broken == "matmul":
            raise RuntimeError("CuPy failed to load libcublas.so.12: OSError: libcublas.so.12: "
                               "cannot open shared object file: No such file or directory")
        return computed(np.matmul, (gemm_operand(x1), gemm_operand(x2)), out)

    def dot(a, b, out=None):
        return computed(np.dot, (gemm_operand(a), gemm_operand(b)), out)

    def kron(a, b):
        x, y = dev(a), dev(b)
        op()
        return wrap(np.kron(x, y))

    def vdot(a, b):
        x, y = dev(a), dev(b)
        op()
        return wrap(np.vdot(x, y))

    def inner(a, b):
        x, y = dev(a), dev(b)
        op()
        return wrap(np.inner(x, y))

    def outer(a, b, out=None):
        return computed(np.outer, (dev(a), dev(b)), out)

    def tensordot(a, b, axes=2):
        x, y = dev(a), dev(b)
        op()
        return wrap(np.tensordot(x, y, axes=axes))

    def einsum(subscripts, *operands, **kwargs):
        vals = [dev(v) for v in operands]
        op()
        return wrap(np.einsum(subscripts, *vals, **kwargs))

    mod.matmul, mod.dot, mod.kron, mod.vdot, mod.inner, mod.outer = matmul, dot, kron, vdot, inner, outer
    mod.tensordot, mod.einsum = tensordot, einsum

    linalg = types.ModuleType("cupy.linalg")

    def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002  (CuPy's name)
        v = dev(x)
        op(2)                                          # square-and-sum, then sqrt
        return wrap(np.asarray(np.linalg.norm(v, ord=ord, axis=axis, keepdims=keepdims)))
    linalg.norm = norm
    mod.linalg = linalg

    # ------------------------------------------------------------------------------------------
    # creation and the host boundary
    def host_to_device(a, dtype):
        traffic.h2d += 1
        return wrap(np.array(a, dtype=dtype, copy=True))

    def asarray(a, dtype=None, order=None, *, blocking=False):
        if isinstance(a, ndarray):
            if dtype is None or np.dtype(dtype) == a.dtype:
                return a
            return a.astype(dtype)
        if isinstance(a, DeviceArrayBase):
            raise ValueError("the array belongs to another (stand-in) device")
        return host_to_device(a, dtype)

    def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, blocking=False):
        if isinstance(obj, ndarray):
            if not copy and (dtype is None or np.dtype(dtype) == obj.dtype):
                return obj
            op()
            return wrap(np.array(obj._a, dtype=dtype, order=order, ndmin=ndmin))
        return host_to_device(obj, dtype)

    def ascontiguousarray(a, dtype=None):
        v = dev(a)
        if not isinstance(v, np.ndarray):
            raise TypeError(f"Unsupported type {type(a)}")
        if v.flags.c_contiguous and (dtype is None or np.dtype(dtype) == v.dtype):
            return a
        op()
        return wrap(np.ascontiguousarray(v, dtype=dtype))

    def asnumpy(a, stream=None, order="C", out=None, blocking=True):
        if isinstance(a, ndarray):
            return a.get(stream=stream, order=order, out=out)
        return np.asarray(a, order=order)

    def empty(shape, dtype=float, order="C"):
        return wrap(np.empty(shape, dtype=dtype, order=order))

    def filled(np_func, name):
        def f(shape, dtype=float, order="C"):
            op()
            return wrap(np_func(shape, dtype=dtype, order=order))
        f.__name__ = name
        return f

    def full(shape, fill_value, dtype=None, order="C"):
        op()
        return wrap(np.full(shape, dev(fill_value), dtype=dtype, order=order))

    def like(np_func, name, fills=True):
        def f(a, dtype=None, order="K", subok=None, shape=None):
            v = dev(a)
            if not isinstance(v, np.ndarray):
                raise TypeError(f"Unsupported type {type(a)}")
            if fills:
                op()
            return wrap(np_func(v, dtype=dtype, order=order, shape=shape))
        f.__name__ = name
        return f

    def full_like(a, fill_value, dtype=None, order="K", subok=None, shape=None):
        v = dev(a)
        op()
        return wrap(np.full_like(v, dev(fill_value), dtype=dtype, order=order, shape=shape))

    def arange(start, stop=None, step=1, dtype=None):
        op()
        return wrap(np.arange(start, stop, step, dtype=dtype) if stop is not None else np.arange(start, dtype=dtype))

    mod.asarray, mod.array, mod.ascontiguousarray, mod.asnumpy = asarray, array, ascontiguousarray, asnumpy
    mod.empty, mod.full, mod.full_like, mod.arange = empty, full, full_like, arange
    mod.zeros, mod.ones = filled(np.zeros, "zeros"), filled(np.ones, "ones")
    mod.empty_like = like(np.empty_like, "empty_like", fills=False)
    mod.zeros_like, mod.ones_like = like(np.zeros_like, "zeros_like"), like(np.ones_like, "ones_like")

    # ------------------------------------------------------------------------------------------
    # shape manipulation and other routines
    def where(condition, x=None, y=None):
        c = dev(condition)
        if x is None and y is None:
            sync()                                     # the result's size is data-dependent
            op()
            return tuple(wrap(i) for i in np.nonzero(c))
        op()
        return wrap(np.where(c, dev(x), dev(y)))

    def clip(a, a_min=None, a_max=None, out=None):
        return computed(np.clip, (dev(a), dev(a_min), dev(a_max)), out)

    def pad(array, pad_width, mode="constant", **kwargs):
        v = dev(array)
        op(2)                                          # fill, then copy in
        return wrap(np.pad(v, pad_width, mode=mode, **kwargs))

    def repeat(a, repeats, axis=None):
        v = dev(a)
        op()
        return wrap(np.repeat(v, repeats, axis=axis))

    def joined(np_func, name):
        def f(tup, axis=0, out=None, *, dtype=None, casting="same_kind"):
            vals = [dev(t) for t in tup]
            o = check_out(out)
            op()
            res = np_func(vals, axis=axis, dtype=dtype, casting=casting)
            if o is not None:
                o[...] = res
                return out
            return wrap(res)
        f.__name__ = name
        return f

    def reshape(a, newshape, order="C"):
        if not isinstance(a, ndarray):
            dev(a)
        return a.reshape(newshape, order=order)

    def transpose(a, axes=None):
        if not isinstance(a, ndarray):
            dev(a)
        return a.transpose(axes) if axes is not None else a.transpose()

    def view_of(np_func, name):
        def f(a, *args, **kwargs):
            v = dev(a)
            return ndarray._make(np_func(v, *args, **kwargs))
        f.__name__ = name
        return f

    def shape(a):
        return tuple(a.shape) if isinstance(a, ndarray) else np.shape(dev(a))

    def ndim(a):
        return a.ndim if isinstance(a, ndarray) else np.ndim(dev(a))

    def get_array_module(*args):
        return mod if any(isinstance(a, ndarray) for a in args) else np

    mod.where, mod.clip, mod.pad, mod.repeat = where, clip, pad, repeat
    mod.concatenate, mod.stack = joined(np.concatenate, "concatenate"), joined(np.stack, "stack")
    mod.reshape, mod.transpose, mod.shape, mod.ndim = reshape, transpose, shape, ndim
    for name in ("moveaxis", "swapaxes", "expand_dims", "squeeze", "broadcast_to", "flip"):
        setattr(mod, name, view_of(getattr(np, name), name))
    mod.get_array_module = get_array_module

    stride_tricks = types.ModuleType("cupy.lib.stride_tricks")

    def as_strided(x, shape=None, strides=None):
        return ndarray._make(np.lib.stride_tricks.as_strided(dev(x), shape=shape, strides=strides))
    stride_tricks.as_strided = as_strided
    mod.lib = types.ModuleType("cupy.lib")
    mod.lib.stride_tricks = stride_tricks

    # dtypes and constants: CuPy's are NumPy's own
    for name in ("float16", "float32", "float64", "complex64", "complex128", "int8", "int16", "int32", "int64",
                 "uint8", "uint16", "uint32", "uint64", "intp", "bool_", "dtype", "finfo", "iinfo", "result_type",
                 "can_cast", "newaxis", "inf", "nan", "pi", "e"):
        setattr(mod, name, getattr(np, name))

    # ------------------------------------------------------------------------------------------
    # the CUDA side: one device, a memory pool
    class MemoryPool:
        def __init__(self):
            self.free = pool_free_bytes

        def free_bytes(self):
            return self.free

        def used_bytes(self):
            return 0

        def total_bytes(self):
            return self.free

        def free_all_blocks(self):
            self.free = 0

        def set_limit(self, size=None, fraction=None):
            self.limit = int(size or 0)

        def get_limit(self):
            return getattr(self, "limit", 0)

    pool = MemoryPool()
    mod.pool = pool
    mod.get_default_memory_pool = lambda: pool

    class Device:
        def __init__(self, device=None):
            self.id = 0 if device is None else int(device)

        def synchronize(self):
            sync()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    runtime = types.ModuleType("cupy.cuda.runtime")
    runtime.getDeviceCount = lambda: 1
    runtime.memGetInfo = lambda: (free_bytes, total_bytes)
    runtime.getDeviceProperties = lambda device: {"name": b"CuPy stand-in (NumPy)", "totalGlobalMem": total_bytes}
    cuda = types.ModuleType("cupy.cuda")
    cuda.runtime, cuda.Device = runtime, Device
    cuda.is_available = lambda: True
    mod.cuda = cuda

    # ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def counting():
        """``with mod.counting() as t:`` -- t holds the block's traffic once the block ends."""
        before = traffic.copy()
        result = Traffic()
        try:
            yield result
        finally:
            for f in dataclasses.fields(Traffic):
                setattr(result, f.name, getattr(traffic - before, f.name))

    mod.counting = counting
    mod.is_standin = True
    return mod


def is_standin(xp) -> bool:
    return bool(getattr(xp, "is_standin", False))


__all__ = ["make_standin", "is_standin", "Traffic", "IMPLICIT", "DeviceArrayBase"]
