"""The values of ``--device-map``, ``--max-memory`` and ``--model-kwargs``, read as accelerate and transformers do.

Each option has one canonical form, whichever door it came through (a flag is a
string; the `evaluate` metric's keyword arguments may be dicts), so that
``results.json`` records one configuration one way and a loaded model's key is
the same from both doors:

* device map: a preset name (`DEVICE_MAP_PRESETS`), or a JSON object of module
  names to devices written with sorted keys;
* max memory: ``DEVICE=SIZE`` entries in accelerate's order of devices (GPUs by
  index, then ``mps``, ``cpu``, ``disk``), sizes as written (``8GiB``) or in bytes;
* model keyword arguments: ``KEY=VALUE`` entries sorted by key, VALUE as written
  where it is a string that does not read as JSON, else as compact JSON.

Each ``canonical_*`` function raises `ValueError` with one line that says what
to write; the ``*_value`` functions turn a canonical form into what
``from_pretrained`` takes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

DEVICE_MAP_PRESETS = ("auto", "balanced", "balanced_low_0", "sequential")
"""accelerate's strategies of a device map (transformers passes them to ``infer_auto_device_map``)."""
MEMORY_DEVICES = ("mps", "cpu", "disk")
"""The devices of a memory budget besides GPU indexes, in accelerate's order (``get_max_memory``): ``disk`` bounds
what is offloaded to the offload folder, the last resort after the CPU."""
_MAP_DEVICE = re.compile(r"^(cpu|disk|mps|meta|[a-z]+:\d+|cuda)$")
"""A device in a JSON device map besides a GPU index: accelerate's names, or a torch device (``cuda:1``)."""
_KEYWORD = re.compile(r"^[A-Za-z_]\w*$")
TENSOR_PARALLEL_KEYWORDS = frozenset({"tp_plan", "tp_size", "distributed_config", "device_mesh"})
"""``from_pretrained`` keywords that split each layer over the processes of a ``torchrun`` (tensor parallelism):
``from_pretrained`` then places the weights, and every process runs every batch with its part of them."""
SECRET_KEYWORDS = frozenset({"token", "use_auth_token"})
"""``from_pretrained`` keywords that carry a Hub token. Refused: results.json records every option, and a board
publishes results.json; huggingface_hub reads the token from ``HF_TOKEN`` or ``hf auth login`` without one."""


def canonical_device_map(value: str | Mapping[str, Any] | None) -> str | None:
    """``value`` as recorded: a preset, or the JSON map with sorted keys; None for none."""
    if value is None or value in DEVICE_MAP_PRESETS:
        return value if value is None else str(value)
    mapping: Any = value
    if isinstance(value, str):
        try:
            mapping = json.loads(value)
        except ValueError:
            mapping = None
    wrong = _map_problem(mapping)
    if wrong:
        raise ValueError(
            f"device_map {value!r}: {wrong}; write {', '.join(DEVICE_MAP_PRESETS)}, or a JSON object of module "
            'names to devices (\'{"model.embed_tokens": 0, "lm_head": "cpu"}\')'
        )
    return json.dumps(dict(mapping), sort_keys=True)


def _map_problem(mapping: Any) -> str:
    """What is wrong with a device map object ('' when nothing)."""
    if not isinstance(mapping, Mapping) or not mapping:
        return "not a preset nor a non-empty JSON object"
    for module, device in mapping.items():
        if not isinstance(module, str):
            return f"module name {module!r} is not a string"
        gpu = isinstance(device, int) and not isinstance(device, bool) and device >= 0
        if not gpu and not (isinstance(device, str) and _MAP_DEVICE.match(device)):
            return f"module {module!r} goes to {device!r}, which is no device (a GPU index, cpu, disk, cuda:N)"
    return ""


def device_map_value(canonical: str | None) -> str | dict[str, Any] | None:
    """What ``from_pretrained(device_map=...)`` takes for a canonical device map."""
    if canonical is None or canonical in DEVICE_MAP_PRESETS:
        return canonical
    return dict(json.loads(canonical))


def canonical_max_memory(value: Mapping[Any, Any] | Iterable[str] | str | None) -> tuple[str, ...]:
    """``value`` (``{"cpu": "8GiB", 0: "70GiB"}`` or ``["cpu=8GiB", "0=70GiB"]``) as recorded entries."""
    pairs = _pairs(value, "max_memory", "DEVICE=SIZE (cpu=8GiB)")
    entries: dict[int | str, str] = {}
    for key, size in pairs:
        device = _memory_device(key)
        if device in entries:
            raise ValueError(f"max_memory gives device {key!r} twice: give each device one size")
        entries[device] = _memory_size(device, size)
    order = sorted(d for d in entries if isinstance(d, int)) + [d for d in MEMORY_DEVICES if d in entries]
    return tuple(f"{device}={entries[device]}" for device in order)


def _memory_device(key: Any) -> int | str:
    """A max-memory device as accelerate names it: a GPU index (int), or one of `MEMORY_DEVICES`."""
    text = str(key).strip()
    if isinstance(key, bool) or not (text in MEMORY_DEVICES or text.isdigit()):
        raise ValueError(
            f"max_memory device {key!r}: write a GPU index (0, 1, ...), {', '.join(MEMORY_DEVICES)} (DEVICE=SIZE)"
        )
    return int(text) if text.isdigit() else text


def _memory_size(device: int | str, size: Any) -> str:
    """A size as recorded (as written, spaces dropped; an int in bytes), checked by accelerate's own parser."""
    # accelerate imports torch: loaded only when a memory budget is given, not for `s2sbench --help` or a results file
    from accelerate.utils import convert_file_size_to_int

    text = str(size).replace(" ", "")
    try:
        if isinstance(size, bool) or not (isinstance(size, (int, str)) and text):
            raise ValueError(size)
        convert_file_size_to_int(int(text) if text.isdigit() else text)
    except (ValueError, OverflowError, TypeError):
        raise ValueError(
            f"max_memory size {size!r} of {device}: write bytes, or a number and a unit as accelerate reads it "
            "(8GiB, 500MiB, 2.5GB)"
        ) from None
    return text


def max_memory_value(canonical: Iterable[str]) -> dict[int | str, int | str]:
    """What ``from_pretrained(max_memory=...)`` takes for canonical entries (a new dict: accelerate changes it)."""
    out: dict[int | str, int | str] = {}
    for entry in canonical:
        device, size = entry.split("=", 1)
        out[int(device) if device.isdigit() else device] = int(size) if size.isdigit() else size
    return out


def canonical_model_kwargs(value: Mapping[str, Any] | Iterable[str] | str | None) -> tuple[str, ...]:
    """``value`` (a dict, or ``KEY=VALUE`` strings with VALUE read as JSON where it is JSON) as recorded entries."""
    pairs = _pairs(value, "model_kwargs", "KEY=VALUE (quantization_config='{\"load_in_8bit\": true}')")
    entries: dict[str, str] = {}
    for key, raw in pairs:
        if not isinstance(key, str) or not _KEYWORD.match(key):
            raise ValueError(f"model_kwargs key {key!r} is not a keyword argument name: write KEY=VALUE")
        if key in entries:
            raise ValueError(f"model_kwargs gives {key!r} twice: give each keyword once")
        if key in SECRET_KEYWORDS:
            raise ValueError(
                f"model_kwargs {key!r} would write your Hub token into results.json: set HF_TOKEN or run "
                "`hf auth login` instead, and the model loads with it"
            )
        parsed = raw if isinstance(value, Mapping) else _json_or_text(raw)
        try:
            text = parsed if isinstance(parsed, str) and _json_or_text(parsed) == parsed else _compact(parsed)
        except (TypeError, ValueError):
            raise ValueError(
                f"model_kwargs {key!r}: its value {raw!r} is not JSON (a dict, list, number, string, true, false or "
                "null); pass a config object as its to_dict()"
            ) from None
        entries[key] = text
    return tuple(f"{key}={entries[key]}" for key in sorted(entries))


def model_kwargs_value(canonical: Iterable[str]) -> dict[str, Any]:
    """What ``from_pretrained(**...)`` takes for canonical entries."""
    return {key: _json_or_text(text) for key, text in (entry.split("=", 1) for entry in canonical)}


def _json_or_text(text: Any) -> Any:
    """``text`` read as JSON where it is JSON, else ``text`` itself (``tp_plan=auto``: the string ``auto``)."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _compact(value: Any) -> str:
    """``value`` as compact JSON with sorted keys (`ValueError`/`TypeError` where it is no JSON value)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _pairs(value: Mapping[Any, Any] | Iterable[str] | str | None, name: str, form: str) -> list[tuple[Any, Any]]:
    """(key, value) pairs of a dict, or of ``KEY=VALUE`` strings (one string is one entry)."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(value.items())
    entries = [value] if isinstance(value, str) else list(value)
    pairs = []
    for entry in entries:
        if not isinstance(entry, str) or "=" not in entry or not entry.split("=", 1)[0].strip():
            raise ValueError(f"{name} entry {entry!r}: write {form}")
        key, text = entry.split("=", 1)
        pairs.append((key.strip(), text))
    return pairs
