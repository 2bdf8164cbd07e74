# mukaika — two commands set up a fresh Debian 12 machine and use it:
#   make run    install what is needed, start the gateway on the embedded default config
#   make test   install what is needed, run ruff, mypy and every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest soak fuzz bootstrap clean install install-files

# `make bench` writes bench/REPORT.md; the tools it compares against are installed only for it.
.PHONY: bench bench-tools

# Installation as a systemd service (as root): `make install`, then
# `systemctl enable --now mukaika`. DESTDIR stages the files elsewhere (packaging, tests).
PREFIX ?= /opt/mukaika
DESTDIR ?=

run: $(STAMP)
	$(BIN)/mukaika run

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

# docs/reasons.md from the reason catalogue, docs/mukaika.1 from the command line: run it after
# changing either (tests/test_docs.py fails while they differ).
.PHONY: docs
docs: $(STAMP)
	$(BIN)/python -m gateway.docgen docs

# The fuzz harnesses of tests/fuzz with fresh random inputs, EXAMPLES per harness (scaled by
# each harness' cost); `make test` runs them briefly with fixed inputs. Failures are kept in
# .hypothesis/ and replayed first next time; each failing input is also saved under $TMPDIR.
EXAMPLES ?= 1000
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long FUZZ_EXAMPLES=$(EXAMPLES) $(BIN)/pytest tests/fuzz --timeout=0

# A mixed stream with random worker and daemon kills for MINUTES, then the no-loss check.
MINUTES ?= 5
soak: $(STAMP)
	$(BIN)/python -m bench.soak --minutes $(MINUTES)

# System packages are checked by what they provide, and installed with apt when root.
# clamav-daemon, samba and postfix are for the tests, which start their own clamd, smbd and
# Postfix instances privately (postfix installed unconfigured: debconf "No configuration");
# chromium and its driver are for the web console's browser tests (headless); 7z (p7zip-full)
# and genisoimage build the archives of the archive tests. prometheus is only for promtool, which
# checks the example alert rules: the server it brings is disabled and stopped once installed.
bootstrap:
	@missing=""; \
	ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1 ' || missing="$$missing libmagic1"; \
	ldconfig -p 2>/dev/null | grep -q 'libarchive\.so\.13 ' || missing="$$missing libarchive13"; \
	command -v 7z >/dev/null || missing="$$missing p7zip-full"; \
	command -v genisoimage >/dev/null || missing="$$missing genisoimage"; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	command -v soffice >/dev/null || missing="$$missing libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui"; \
	fc-list :lang=ja 2>/dev/null | grep -qi 'noto' || missing="$$missing fonts-noto-cjk"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v clamd >/dev/null || [ -x /usr/sbin/clamd ] || missing="$$missing clamav-daemon"; \
	command -v smbd >/dev/null || [ -x /usr/sbin/smbd ] || missing="$$missing samba"; \
	command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] || missing="$$missing postfix"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing && \
	    case " $$missing " in *" prometheus "*) systemctl disable --now prometheus.service 2>/dev/null || true;; esac; \
	  else \
	    echo "mukaika needs these system packages:$$missing" >&2; \
	    echo "install them with: sudo apt-get install$$missing   (then run make again)" >&2; \
	    exit 1; \
	  fi; \
	fi

bench: $(STAMP) bench-tools
	$(BIN)/python bench/report.py

# The reference tools of the report, checked and installed like `bootstrap` does.
bench-tools:
	@missing=""; \
	command -v qpdf >/dev/null || missing="$$missing qpdf"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	command -v mat2 >/dev/null || missing="$$missing mat2"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing bench tools:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      -o DPkg::Lock::Timeout=300 $$missing; \
	  else \
	    echo "the benchmark report needs:$$missing" >&2; \
	    echo "install them with: sudo apt-get install$$missing   (then run make bench again)" >&2; \
	    exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml | bootstrap
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: bootstrap install-files
	python3 -m venv $(DESTDIR)$(PREFIX)/.venv
	$(DESTDIR)$(PREFIX)/.venv/bin/pip install --quiet --upgrade pip
	$(DESTDIR)$(PREFIX)/.venv/bin/pip install --quiet .
	systemd-sysusers $(DESTDIR)/etc/sysusers.d/mukaika.conf
	chown mukaika:mukaika $(DESTDIR)/etc/mukaika/originals.key
	chown mukaika:mukaika $(DESTDIR)/etc/mukaika/users.toml
	systemd-tmpfiles --create $(DESTDIR)/etc/tmpfiles.d/mukaika.conf
	-systemctl daemon-reload

# Unit, sysusers, tmpfiles, and a config for /srv/mukaika + /var/lib/mukaika unless one exists;
# the key that encrypts retained originals (0600) and the console's users file, never replaced.
install-files:
	install -D -m 0644 systemd/mukaika.service $(DESTDIR)/etc/systemd/system/mukaika.service
	install -D -m 0644 systemd/mukaika-http.socket $(DESTDIR)/etc/systemd/system/mukaika-http.socket
	install -D -m 0644 systemd/sysusers-mukaika.conf $(DESTDIR)/etc/sysusers.d/mukaika.conf
	install -D -m 0644 systemd/tmpfiles-mukaika.conf $(DESTDIR)/etc/tmpfiles.d/mukaika.conf
	install -d -m 0755 $(DESTDIR)/etc/mukaika
	test -e $(DESTDIR)/etc/mukaika/mukaika.toml || \
	  sed -e 's|"./var/mukaika/spool"|"/var/lib/mukaika/spool"|' \
	      -e 's|^originals_key = ""|originals_key = "/etc/mukaika/originals.key"|' \
	      -e 's|"./var/mukaika/users.toml"|"/etc/mukaika/users.toml"|' -e 's|"./var/mukaika/|"/srv/mukaika/|' \
	    config/mukaika.toml > $(DESTDIR)/etc/mukaika/mukaika.toml
	test -e $(DESTDIR)/etc/mukaika/originals.key || \
	  (umask 077 && head -c 32 /dev/urandom > $(DESTDIR)/etc/mukaika/originals.key)
	test -e $(DESTDIR)/etc/mukaika/users.toml || install -m 0600 /dev/null $(DESTDIR)/etc/mukaika/users.toml

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache *.egg-info
