# mukaika — two commands set up a fresh Debian 12 machine and use it:
#   make run    install what is needed, start the gateway on the embedded default config
#   make test   install what is needed, run ruff, mypy and every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest soak fuzz bootstrap clean install install-files
.PHONY: service-packages uninstall deb

# `make bench` writes bench/REPORT.md; the tools it compares against are installed only for it.
.PHONY: bench bench-tools

# Installation as a systemd service (as root): `make install`, then
# `systemctl enable --now mukaika`; `make uninstall` (PURGE=yes: the state too); `make deb`.
# DESTDIR installs into another root (an image, the tests): the user and folders are made there.
PREFIX ?= /opt/mukaika
BINDIR ?= /usr/local/bin
DESTDIR ?=
# The service runs as the mukaika user: its interpreter is the system's unless PYTHON= names
# one, never whatever python3 comes first on root's PATH (pyenv's, under /root, is unreadable).
SERVICE_PYTHON := $(if $(filter command line environment,$(origin PYTHON)),$(PYTHON),/usr/bin/python3)
ROOT_OPTION := $(if $(DESTDIR),--root=$(DESTDIR))
UNITS := $(notdir $(wildcard systemd/*.service systemd/*.socket))

run: $(STAMP)
	$(BIN)/mukaika run

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two processes, one test module each at a time (module fixtures such as a LibreOffice-written
# document are made once): the suite is mostly waiting on subprocesses, and 2 cores halve it.
pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile

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

# A mixed stream with random worker and daemon kills for MINUTES, then the no-loss check;
# NODES=4: two gateway and two worker nodes on a private PostgreSQL, nodes killed too.
MINUTES ?= 5
soak: $(STAMP)
	$(BIN)/python -m bench.soak --minutes $(MINUTES) $(if $(NODES),--nodes $(NODES))

# System packages are checked by what they provide, and installed with apt when root.
# clamav-daemon, samba and postfix are for the tests, which start their own clamd, smbd and
# Postfix instances privately (postfix installed unconfigured: debconf "No configuration");
# chromium and its driver are for the web console's browser tests (headless); 7z (p7zip-full)
# and genisoimage build the archives of the archive tests. prometheus is only for promtool, which
# checks the example alert rules: the server it brings is disabled and stopped once installed.
# lintian checks the package of `make deb`.
bootstrap: service-packages
	@missing=""; \
	command -v 7z >/dev/null || missing="$$missing p7zip-full"; \
	command -v genisoimage >/dev/null || missing="$$missing genisoimage"; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	$(PYTHON) -c '$(HAS_PYTHON_HEADERS)' 2>/dev/null || missing="$$missing python3-dev"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v clamd >/dev/null || [ -x /usr/sbin/clamd ] || missing="$$missing clamav-daemon"; \
	command -v smbd >/dev/null || [ -x /usr/sbin/smbd ] || missing="$$missing samba"; \
	command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] || missing="$$missing postfix"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v lintian >/dev/null || missing="$$missing lintian"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
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

# What the service itself needs (`make install`; the Depends and Recommends of `make deb`), and
# what builds its compiled modules (setup.py: the OpenType Sanitizer, Type 1 decryption): a C++
# compiler, and the headers of zlib and of the interpreter the venv is made with.
HAS_PYTHON_HEADERS := import os, sys, sysconfig; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))
service-packages:
	@missing=""; \
	ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1 ' || missing="$$missing libmagic1"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	[ -f /usr/include/zlib.h ] || missing="$$missing zlib1g-dev"; \
	$(SERVICE_PYTHON) -c '$(HAS_PYTHON_HEADERS)' 2>/dev/null || missing="$$missing python3-dev"; \
	ldconfig -p 2>/dev/null | grep -q 'libarchive\.so\.13 ' || missing="$$missing libarchive13"; \
	$(SERVICE_PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	command -v soffice >/dev/null || missing="$$missing libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui"; \
	fc-list :lang=ja 2>/dev/null | grep -qi 'noto' || missing="$$missing fonts-noto-cjk"; \
	command -v systemd-sysusers >/dev/null || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
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

# The venv is made again when the project's requirements or its compiled modules change.
$(STAMP): pyproject.toml setup.py sanitizers/_ots.cc sanitizers/pdf/_eexec.c $(wildcard third_party/ots/*/*) | bootstrap
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Safe to run again (after an update, say): the venv is rebuilt beside the old one and swapped
# in; the config, key and users file stay. It comes first: an interpreter or a download that
# fails leaves the machine as it was. tmpfiles gives the key and users file to mukaika.
# A running systemd must see the new unit: a reload that fails stops here.
install: service-packages
	packaging/build-venv.sh $(SERVICE_PYTHON) $(DESTDIR)$(PREFIX)/.venv $(PREFIX)/.venv
	$(MAKE) --no-print-directory install-files
	systemd-sysusers $(ROOT_OPTION) $(DESTDIR)/etc/sysusers.d/mukaika.conf
	systemd-tmpfiles --create $(ROOT_OPTION) $(DESTDIR)/etc/tmpfiles.d/mukaika.conf
	if [ -d $(DESTDIR)/run/systemd/system ]; then systemctl daemon-reload; \
	else echo "systemd is not running in $(or $(DESTDIR),/): it reads the unit when it starts"; fi

# Unit, sysusers, tmpfiles, and a config for /srv/mukaika + /var/lib/mukaika unless one exists;
# the key that encrypts retained originals (0600) and the console's users file, never replaced;
# the README where the units' Documentation= points, and `mukaika` on PATH.
install-files:
	install -D -m 0644 systemd/mukaika.service $(DESTDIR)/etc/systemd/system/mukaika.service
	sed -i 's|/opt/mukaika/|$(PREFIX)/|' $(DESTDIR)/etc/systemd/system/mukaika.service
	install -D -m 0644 systemd/mukaika-http.socket $(DESTDIR)/etc/systemd/system/mukaika-http.socket
	install -D -m 0644 systemd/mukaika-worker.service $(DESTDIR)/etc/systemd/system/mukaika-worker.service
	sed -i 's|/opt/mukaika/|$(PREFIX)/|' $(DESTDIR)/etc/systemd/system/mukaika-worker.service
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
	install -D -m 0644 README.md $(DESTDIR)/usr/share/doc/mukaika/README.md
	install -d -m 0755 $(DESTDIR)$(BINDIR)
	ln -sfr $(DESTDIR)$(PREFIX)/.venv/bin/mukaika $(DESTDIR)$(BINDIR)/mukaika

# Removes what `make install` put in place, its units stopped and disabled first. The config,
# the key, the users file and the spool stay unless PURGE=yes; the shares under /srv/mukaika
# (staff's files) and the mukaika user always stay.
uninstall:
	units=$$(cd $(DESTDIR)/etc/systemd/system 2>/dev/null && ls $(UNITS) 2>/dev/null); \
	if [ -z "$$units" ]; then :; \
	elif [ -d $(DESTDIR)/run/systemd/system ]; then systemctl disable --now $$units; \
	else systemctl --root=$(or $(DESTDIR),/) disable $$units; fi
	rm -f $(addprefix $(DESTDIR)/etc/systemd/system/,$(UNITS)) $(DESTDIR)$(BINDIR)/mukaika \
	  $(DESTDIR)/etc/sysusers.d/mukaika.conf $(DESTDIR)/etc/tmpfiles.d/mukaika.conf
	rm -rf $(DESTDIR)$(PREFIX)/.venv $(DESTDIR)/usr/share/doc/mukaika
	if [ -d $(DESTDIR)$(PREFIX) ]; then rmdir --ignore-fail-on-non-empty $(DESTDIR)$(PREFIX); fi
	if [ "$(PURGE)" = yes ]; then rm -rf $(DESTDIR)/etc/mukaika $(DESTDIR)/var/lib/mukaika; fi
	if [ -d $(DESTDIR)/run/systemd/system ]; then systemctl daemon-reload; fi

# The same installation as a Debian package, dist/mukaika_<version>_<arch>.deb (DEBDIR= elsewhere),
# its Python packages from PyPI bundled; `apt install ./mukaika_*.deb` on the gateway.
DEBDIR ?= dist
deb:
	PYTHON=$(SERVICE_PYTHON) packaging/deb/build.sh $(DEBDIR)

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache *.egg-info
