"""Several nodes on one PostgreSQL: the job queue, channel ownership, the worker node."""
