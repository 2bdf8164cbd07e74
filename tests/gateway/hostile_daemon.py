"""`mukaika run` whose sanitising workers run a hostile entry point (tests.gateway.hostile_workers).

    python -m tests.gateway.hostile_daemon CONFIG ENTRY_POINT

Everything else is the production daemon: the same zygote, confinement, verifier, journal and
release path; only the provider is given one more entry point, through the interface.
"""

from __future__ import annotations

import asyncio
import sys

from gateway.config import load_config
from gateway.daemon import Gateway
from gateway.isolation.provider import PRODUCTION_ENTRY_POINTS, ZygoteProvider
from gateway.logsetup import configure_logging
from sanitizers.registry import default_registry


def main() -> int:
    config_path, entry = sys.argv[1], sys.argv[2]
    registry = default_registry()
    config = load_config(config_path, registry)
    configure_logging(config.gateway.log_format, config.gateway.log_level)
    provider = ZygoteProvider(config.gateway.worker_count(), config.gateway.confinement,
                              (*PRODUCTION_ENTRY_POINTS, entry), sanitise_entry=entry)  # fmt: skip
    return asyncio.run(Gateway(config, config_path, registry, provider).serve())


if __name__ == "__main__":
    sys.exit(main())
