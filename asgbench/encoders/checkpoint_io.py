"""Read released checkpoints without running code from them.

Supported containers: safetensors files; torch pickles (zip or legacy format), read through a restricted
unpickler that rebuilds tensors and plain containers and turns every other pickled object (OmegaConf
configs, argparse namespaces, Lightning callback states, ... or a malicious ``__reduce__``) into an inert
placeholder that is named in the load report; and zip archives that wrap one of these (MedCLIP's
``medclip-pretrained.zip``). Full unpickling happens only when the caller passes ``trust=True``
(``--trust-checkpoint``).
"""
from __future__ import annotations

import hashlib
import io
import pickle
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from asgbench.errors import DataLayoutError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")


class Placeholder:
    """Stands in for a pickled object asgbench would not construct; keeps what was pickled, runs nothing."""

    qualified_name = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs, self.state, self.items, self.elements = args, kwargs, None, {}, []

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items[key] = value

    def append(self, value: Any) -> None:
        self.elements.append(value)

    def extend(self, values: Any) -> None:
        self.elements.extend(values)

    def __repr__(self) -> str:
        return f"<placeholder for {self.qualified_name}>"


@lru_cache(maxsize=1)
def _allowed_globals() -> dict[str, Any]:
    """torch's own weights-only allow-list (tensor rebuilders, dtypes, OrderedDict, ...) plus numpy arrays."""
    import numpy as np
    from numpy._core import multiarray
    from torch import _weights_only_unpickler

    allowed = dict(_weights_only_unpickler._get_allowed_globals())
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[f"{module}._reconstruct"] = multiarray._reconstruct
        allowed[f"{module}.scalar"] = multiarray.scalar
    allowed["numpy.ndarray"] = np.ndarray
    allowed["numpy.dtype"] = np.dtype
    for dtype_name in ("Float16DType", "Float32DType", "Float64DType", "Int64DType", "Int32DType", "UInt8DType", "BoolDType"):
        allowed[f"numpy.dtypes.{dtype_name}"] = getattr(np.dtypes, dtype_name)
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals; records and neutralises everything else."""

    replaced: list[str]

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        allowed = _allowed_globals()
        if qualified in allowed:
            return allowed[qualified]
        self.replaced.append(qualified)
        return type(name, (Placeholder,), {"qualified_name": qualified})


def _restricted_module(replaced: list[str]) -> SimpleNamespace:
    class Unpickler(RestrictedUnpickler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.replaced = replaced

    def load(handle: Any, **kwargs: Any) -> Any:
        return Unpickler(handle, **kwargs).load()

    return SimpleNamespace(Unpickler=Unpickler, load=load, __name__="asgbench_restricted_pickle")


@dataclass
class RawCheckpoint:
    """What a file contained, before any key mapping."""

    path: Path
    sha256: str
    content: Any                          # the top-level object (dict of tensors or a container dict)
    container: str                        # safetensors | torch | zip:<member>
    placeholders: list[str] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _torch_load(source: Any, *, trust: bool, what: str) -> tuple[Any, list[str]]:
    import torch

    replaced: list[str] = []
    try:
        if trust:
            return torch.load(source, map_location="cpu", weights_only=False), replaced
        return torch.load(source, map_location="cpu", weights_only=False, pickle_module=_restricted_module(replaced)), sorted(set(replaced))
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise DataLayoutError(f"{what}: not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from exc


def _is_torch_zip(archive: zipfile.ZipFile) -> bool:
    return any(name.endswith("/data.pkl") or name == "data.pkl" for name in archive.namelist())


def read_checkpoint(path: str | Path, *, trust: bool = False) -> RawCheckpoint:
    """Load ``path`` into memory (CPU tensors), safely unless ``trust`` is set."""
    path = Path(path)
    if not path.is_file():
        raise DataLayoutError(f"{path}: checkpoint file not found")
    sha = file_sha256(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return RawCheckpoint(path, sha, load_file(str(path)), "safetensors")
        except Exception as exc:  # safetensors raises its own error types
            raise DataLayoutError(f"{path}: not a readable safetensors file ({exc})") from exc
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if not _is_torch_zip(archive):
                members = [m for m in archive.namelist() if m.endswith(WEIGHT_SUFFIXES) and not m.endswith("/")]
                if len(members) != 1:
                    raise DataLayoutError(
                        f"{path}: a zip archive must hold exactly one weights file ({', '.join(WEIGHT_SUFFIXES)}), found {members or 'none'}"
                    )
                data = io.BytesIO(archive.read(members[0]))
                if members[0].endswith(".safetensors"):
                    from safetensors.torch import load

                    return RawCheckpoint(path, sha, load(data.getvalue()), f"zip:{members[0]}")
                content, replaced = _torch_load(data, trust=trust, what=f"{path}!{members[0]}")
                return RawCheckpoint(path, sha, content, f"zip:{members[0]}", replaced)
    content, replaced = _torch_load(str(path), trust=trust, what=str(path))
    return RawCheckpoint(path, sha, content, "torch", replaced)
