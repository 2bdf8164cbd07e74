"""Loaded once by the workers' zygote, so that every forked worker starts warm.

Only what workers need: the sanitisers with their parsers, the independent verification,
libmagic's compiled database, and libseccomp. Never the daemon's own modules (config,
journal, vault, console) or their crypto libraries: a worker is assumed taken over, and what
is not in its memory it cannot misuse. libmagic compiles its patterns lazily on first use,
so a few typical heads are classified here; each forked worker then shares all of it
copy-on-write. The objects loaded here are then frozen out of the garbage collector: a
worker's collections would otherwise visit (and so copy) every page of them.
"""

from __future__ import annotations

import gc


def warm_up() -> None:
    import gateway.isolation.seccomp
    import gateway.isolation.worker  # noqa: F401
    import sanitizers.registry
    import sanitizers.verification  # noqa: F401
    from sanitizers.detect import warm_up as warm_up_magic

    warm_up_magic()
    gc.freeze()
