"""Imported once by the workers' zygote (gateway.zygote), so that every forked worker starts warm.

Importing the sanitisers loads their parsers and libmagic's compiled database
(sanitizers.detect opens it at import). libmagic also compiles its patterns lazily on first
use, so a few typical heads are classified here; each forked worker then shares all of it
copy-on-write instead of paying for it again with every file.  The objects loaded here
are then frozen out of the garbage collector: a worker's collections would otherwise
visit (and so copy) every page of them.
"""

from __future__ import annotations

import gc

import gateway.cli
import gateway.isolation
import sanitizers.registry
from sanitizers.detect import warm_up

warm_up()
gc.freeze()

__all__ = ["gateway", "sanitizers"]
