"""Isolation: how the gateway has hostile files parsed without trusting the parser.

    provider.py     the interface the daemon uses (start job, verify output, cancel, stats)
    zygote.py       the warm process that forks every worker and reaps what they leave behind
    confinement.py  the walls put around a worker right after the fork
    landlock.py     filesystem (and TCP, signal) confinement
    seccomp.py      the system calls a worker may not make
    job.py          jobs out, and the checked reading of results and verdicts back
    worker.py       the entry points production workers run: sanitise, verify
    preload.py      what the zygote loads once so that every worker starts warm

This package is the one place that knows how workers are made.
"""
