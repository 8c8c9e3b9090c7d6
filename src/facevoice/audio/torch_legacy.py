"""Read a checkpoint written by ``torch.save`` in torch's *legacy* format, without torch.

The legacy format (torch < 1.6, and ``_use_new_zipfile_serialization=False``) is a plain stream:

1. a pickled magic number, a pickled protocol version and a pickled dict of the writer's type sizes;
2. the pickled object itself, whose tensors name their storages through ``persistent_load``
   (``('storage', StorageClass, key, location, numel, view_metadata)``) and are rebuilt by
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``;
3. a pickled list of the storage keys, in the order their bytes follow;
4. each storage's bytes, after an 8-byte little-endian element count.

Several tensors may share one storage (an LSTM's layers do), so each tensor is a strided view at its
offset. The unpickler is restricted: ``find_class`` allows only the names listed in ``ALLOWED``
(a checkpoint is never unpickled freely); anything else is an error naming the class.
"""
from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import InputError

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                  "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                  "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _Storage:
    """A storage named by the pickle; its bytes are read after the pickle (``data`` is filled then)."""

    def __init__(self, dtype, numel: int):
        self.dtype, self.numel, self.data = dtype, numel, None


class _Tensor:
    """A tensor waiting for its storage's bytes: (storage, offset, size, stride)."""

    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        data = self.storage.data
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size,
                                               strides=[s * item for s in self.stride])
        return np.array(view)  # a copy: no view into the shared storage survives


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, *extra):
    return _Tensor(storage, offset, size, stride)


def _storage_class(name: str):
    dtype = STORAGE_DTYPES[name]
    return type(name, (), {"dtype": dtype})


ALLOWED = {("collections", "OrderedDict"): OrderedDict, ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
           **{("torch", name): _storage_class(name) for name in STORAGE_DTYPES}}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, path: Path, storages: dict):
        super().__init__(file)
        self.path, self.storages = path, storages

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise InputError(str(self.path), f"checkpoint names {module}.{name}, which is not allowed "
                                             f"(allowed: {', '.join(sorted(f'{m}.{n}' for m, n in ALLOWED))})")
        return ALLOWED[(module, name)]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise InputError(str(self.path), f"unexpected persistent id {pid!r:.80}")
        _, cls, key, _location, numel = pid[:5]
        if key not in self.storages:
            self.storages[key] = _Storage(cls.dtype, int(numel))
        return self.storages[key]


def _header(f, path: Path) -> None:
    try:
        magic, protocol, _sys_info = (pickle.load(f) for _ in range(3))
    except Exception as exc:  # a zip checkpoint, a truncated file, text: one line naming the file
        raise InputError(str(path), f"not a legacy torch checkpoint ({type(exc).__name__})") from None
    if magic != MAGIC or protocol != PROTOCOL:
        raise InputError(str(path), f"not a legacy torch checkpoint (magic {magic!r:.30}, protocol {protocol!r:.30})")


def _read_storages(f, path: Path, storages: dict, keys: list) -> None:
    for key in keys:
        st = storages.get(key)
        count = np.frombuffer(f.read(8), dtype="<i8")
        if st is None or count.size != 1:
            raise InputError(str(path), f"storage {key!r} is damaged or missing")
        nbytes = int(count[0]) * np.dtype(st.dtype).itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise InputError(str(path), f"storage {key!r} is truncated ({len(raw)} of {nbytes} bytes)")
        st.data = np.frombuffer(raw, dtype=st.dtype)


def _resolve(obj):
    if isinstance(obj, _Tensor):
        return obj.array()
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v) for v in obj)
    return obj


def load(path: str | Path, key: str | None = None):
    """The checkpoint at ``path`` with every tensor as a NumPy array; ``key``: only that entry of the top-level
    dict (e.g. ``model_state``; the rest, e.g. optimiser state, is parsed but never copied)."""
    path = Path(path)
    storages: dict = {}
    with open(path, "rb") as f:
        _header(f, path)
        try:
            obj = _Unpickler(f, path, storages).load()
            keys = pickle.load(f)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(str(path), f"damaged checkpoint ({type(exc).__name__}: {exc})"[:200]) from None
        _read_storages(f, path, storages, keys)
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            raise InputError(str(path), f"checkpoint has no {key!r} entry")
        obj = obj[key]
    return _resolve(obj)
