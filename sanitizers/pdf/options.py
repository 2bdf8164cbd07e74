"""Rule options, merged with their defaults and checked against their specs."""

from __future__ import annotations

from sanitizers.base import Options, OptionValue, Sanitizer


def checked_options(sanitizer: Sanitizer, options: Options) -> dict[str, OptionValue]:
    """The sanitiser's options with defaults filled in; a bad value is a configuration bug."""
    chosen = sanitizer.resolved_options(options)
    for name, value in chosen.items():
        problem = sanitizer.options[name].check(value)
        if problem is not None:
            raise ValueError(f"{type(sanitizer).__name__} option {name}: {problem}")
    return chosen
