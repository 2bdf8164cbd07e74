"""The web console: transfers, reasons, approvals and release of originals (four-eyes).

Server-rendered (jinja2), Japanese by default with an English switch, served by the daemon
on loopback or a unix socket behind a TLS-terminating reverse proxy.
"""
