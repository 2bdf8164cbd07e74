"""Layered config: the embedded default, the admin's file, its drop-ins; and where each value came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import EMBEDDED_NAME, Config, ConfigError, load_config
from gateway.layers import config_changes
from sanitizers.base import Registry
from sanitizers.registry import default_registry


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


@pytest.fixture
def etc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """/etc/mukaika of the test: the system file's place, its drop-in folder and two shares."""
    monkeypatch.delenv("MUKAIKA_CONFIG", raising=False)
    monkeypatch.setattr("gateway.config.SYSTEM_CONFIG", tmp_path / "mukaika.toml")
    (tmp_path / "mukaika.d").mkdir()
    for share in ("in", "out", "rejected", "b-in", "b-out", "b-rejected"):
        (tmp_path / "srv" / share).mkdir(parents=True)
    return tmp_path


def channel(root: Path, name: str, prefix: str = "") -> str:
    return (f'[[channels]]\nname = "{name}"\ninbox = "{root / "srv" / f"{prefix}in"}"\n'
            f'outbox = "{root / "srv" / f"{prefix}out"}"\nrejected = "{root / "srv" / f"{prefix}rejected"}"\n')  # fmt: skip


def test_a_file_with_only_gateway_and_channels_keeps_the_embedded_rules(
    etc: Path, registry: Registry
) -> None:
    (etc / "mukaika.toml").write_text(f'[gateway]\nspool_dir = "{etc / "spool"}"\n' + channel(etc, "soumu"))
    config = load_config(None, registry)
    assert config.source == str(etc / "mukaika.toml")
    assert config.layers == (EMBEDDED_NAME, str(etc / "mukaika.toml"))
    assert [c.name for c in config.channels] == ["soumu"]  # the embedded channels give way as a whole
    assert config.policy("soumu").rule_for("pdf") is not None  # files are not all refused as type.no_rule
    assert config.rules["exe"].methods == ("reject",)
    assert config.gateway.spool_dir == etc / "spool" and config.limits.max_pages == 2000


def test_three_layers_and_drop_ins_in_the_order_of_their_names(etc: Path, registry: Registry) -> None:
    (etc / "mukaika.toml").write_text(
        '[gateway]\nworkers = 2\nsettle_seconds = 5.0\n[limits]\nmax_pages = 100\n'
        '[rules.docx]\ncomments = "remove"\n' + channel(etc, "soumu")
    )  # fmt: skip
    # written out of order: the names decide, not the order on disk
    (etc / "mukaika.d" / "20-later.toml").write_text(
        '[gateway]\nworkers = 4\n[rules.docx]\nmethod = "pdf"\n[[channels]]\nname = "soumu"\nreturn_rejected = true\n'
        + channel(etc, "kikaku", "b-")
    )  # fmt: skip
    (etc / "mukaika.d" / "10-first.toml").write_text("[gateway]\nworkers = 3\nsettle_seconds = 1.0\n")
    (etc / "mukaika.d" / ".#30-editing.toml").write_text("not toml at all [")  # an editor's, hidden
    (etc / "mukaika.d" / "notes.txt").write_text("not a layer")
    config = load_config(None, registry)
    assert config.layers == (EMBEDDED_NAME, *(str(etc / p) for p in
                             ("mukaika.toml", "mukaika.d/10-first.toml", "mukaika.d/20-later.toml")))  # fmt: skip
    assert config.gateway.workers == 4 and config.gateway.settle_seconds == 1.0
    assert config.limits.max_pages == 100 and config.limits.max_objects == 500_000
    # a later `method` keeps the earlier file's options for that type
    assert config.rules["docx"].methods == ("pdf",) and config.rules["docx"].options == {"comments": "remove"}
    soumu, kikaku = config.channels
    assert (soumu.name, soumu.inbox, soumu.return_rejected) == ("soumu", etc / "srv" / "in", True)
    assert (kikaku.name, kikaku.inbox) == ("kikaku", etc / "srv" / "b-in")
    assert config.origin("gateway.workers") == str(etc / "mukaika.d" / "20-later.toml")
    assert config.origin("gateway.settle_seconds") == str(etc / "mukaika.d" / "10-first.toml")
    assert config.origin("limits.max_objects") == EMBEDDED_NAME
    assert config.origin("channels[0].inbox") == str(etc / "mukaika.toml")
    assert config.origin("channels[0].return_rejected") == str(etc / "mukaika.d" / "20-later.toml")


def test_a_channels_rules_merge_by_name_and_method_reject_refuses_a_default_type(
    etc: Path, registry: Registry
) -> None:
    (etc / "mukaika.toml").write_text(
        channel(etc, "soumu") + '[channels.rules.pdf]\nmethod = "image"\n[rules.png]\nmethod = "reject"\n'
    )
    (etc / "mukaika.d" / "50.toml").write_text(
        '[[channels]]\nname = "soumu"\n[channels.rules.docx]\nmethod = "text"\n'
    )
    config = load_config(None, registry)
    policy = config.policy("soumu")
    assert [policy.rule_for(t).methods for t in ("pdf", "docx", "png")] == [
        ("image",),
        ("text",),
        ("reject",),
    ]  # type: ignore[union-attr]


def test_embedded_rules_false_keeps_only_the_admins_rules(etc: Path, registry: Registry) -> None:
    (etc / "mukaika.toml").write_text(
        '[gateway]\nembedded_rules = false\n[rules.pdf]\nmethod = "image"\n' + channel(etc, "soumu")
    )
    config = load_config(None, registry)
    assert set(config.rules) == {"pdf"}
    (etc / "mukaika.d" / "10.toml").write_text(
        '[rules.docx]\ncomments = "remove"\n'
    )  # no method of its own now
    with pytest.raises(ConfigError) as caught:
        load_config(None, registry)
    assert caught.value.located() == [f"{etc / 'mukaika.d' / '10.toml'}: rules.docx.method: missing "
                                      "(a method name or a list tried in order)"]  # fmt: skip


def test_channels_empty_list_leaves_the_relay_alone_and_a_name_twice_in_one_file_is_refused(
    etc: Path, registry: Registry
) -> None:
    (etc / "mukaika.toml").write_text("channels = []\n")
    assert load_config(None, registry).channels == ()
    (etc / "mukaika.toml").write_text(channel(etc, "soumu") + channel(etc, "soumu", "b-"))
    with pytest.raises(ConfigError) as caught:
        load_config(None, registry)
    assert caught.value.problems == ["channels[1].name: channel 'soumu' is defined twice in this file"]
    assert caught.value.files == [str(etc / "mukaika.toml")]


def test_each_problem_names_the_file_that_set_the_key(etc: Path, registry: Registry) -> None:
    (etc / "mukaika.toml").write_text('[gateway]\nworkers = "many"\n' + channel(etc, "soumu"))
    (etc / "mukaika.d" / "10.toml").write_text('[rules.pdf]\nmethod = "shred"\n')
    (etc / "mukaika.d" / "20.toml").write_text("[limits\n")
    with pytest.raises(ConfigError) as caught:
        load_config(None, registry)
    assert caught.value.files == [str(etc / "mukaika.d" / "20.toml")]  # unreadable layers first, alone
    assert caught.value.problems[0].startswith("not valid TOML")
    (etc / "mukaika.d" / "20.toml").unlink()
    with pytest.raises(ConfigError) as caught:
        load_config(None, registry)
    assert sorted(caught.value.located()) == [
        f"{etc / 'mukaika.d' / '10.toml'}: rules.pdf.method: unknown method 'shred' (allowed: "
        "rebuild, pdf, image, text, reject)",
        f"{etc / 'mukaika.toml'}: gateway.workers: expected an integer, got str",
    ]


def test_an_explicit_file_is_layered_too_with_its_own_drop_in_folder(
    etc: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    (etc / "mukaika.toml").write_text("[gateway]\nworkers = 9\n")  # not read: another file is named
    site = etc / "site"
    (site / "gateway.d").mkdir(parents=True)
    (site / "gateway.toml").write_text(channel(etc, "soumu"))
    (site / "gateway.d" / "10.toml").write_text("[gateway]\nworkers = 3\n")
    for config in (
        load_config(str(site / "gateway.toml"), registry),
        _from_environment(site, monkeypatch, registry),
    ):
        assert config.layers == (
            EMBEDDED_NAME,
            str(site / "gateway.toml"),
            str(site / "gateway.d" / "10.toml"),
        )
        assert config.gateway.workers == 3 and config.rules["pdf"].methods == ("rebuild", "image")


def _from_environment(site: Path, monkeypatch: pytest.MonkeyPatch, registry: Registry) -> Config:
    monkeypatch.setenv("MUKAIKA_CONFIG", str(site / "gateway.toml"))
    return load_config(None, registry)


def test_drop_ins_apply_without_the_admins_file(etc: Path, registry: Registry) -> None:
    (etc / "mukaika.d" / "10.toml").write_text("[gateway]\nworkers = 3\n")
    config = load_config(None, registry)
    assert config.source == EMBEDDED_NAME and config.gateway.workers == 3
    assert [c.name for c in config.channels] == ["internet-to-lgwan", "lgwan-to-internet"]


def test_check_config_effective_names_the_source_of_every_value_and_channel_rule(
    etc: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    system, drop_in = etc / "mukaika.toml", etc / "mukaika.d" / "10-soumu.toml"
    system.write_text('[gateway]\nworkers = 2\n[rules.docx]\ncomments = "remove"\n' + channel(etc, "soumu"))
    drop_in.write_text('[[channels]]\nname = "soumu"\n[channels.rules.docx]\nmethod = "pdf"\n')
    assert main(["check-config", "--effective"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["ok", f"# layers, lowest first: {EMBEDDED_NAME}, {system}, {drop_in}"]

    entries = {line.split("  # ")[0].rstrip(): line.rsplit("  # ", 1)[1] for line in lines if "  # " in line}
    assert entries["workers = 2"] == str(system)
    assert entries['spool_dir = "./var/mukaika/spool"'] == EMBEDDED_NAME
    assert entries['max_file_size = "200 MiB"'] == EMBEDDED_NAME
    assert entries[f'inbox = "{etc / "srv" / "in"}"'] == str(system)
    assert entries['approval = "none"'] == "built-in default"
    channel_rule = lines.index("[channels.rules.docx]")
    assert [line.split("  # ")[0].rstrip() for line in lines[channel_rule + 1 : channel_rule + 3]] == [
        'method = "pdf"', 'comments = "remove"']  # fmt: skip
    assert lines[channel_rule + 1].endswith(f"# {drop_in}")
    assert lines[channel_rule + 2].endswith(f"# {system}, from [rules.docx]")


def test_check_config_refuses_a_folder_an_admin_named_that_does_not_exist(
    etc: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (etc / "srv" / "out").rmdir()
    (etc / "mukaika.toml").write_text(channel(etc, "soumu"))
    assert main(["check-config"]) == 1
    err = capsys.readouterr().err
    assert (
        f"{etc / 'mukaika.toml'}: channels[0].outbox: {etc / 'srv' / 'out'} does not exist; create it" in err
    )
    (etc / "srv" / "out").mkdir()
    assert main(["check-config"]) == 0
    assert not (
        etc / "srv" / "out-approved"
    ).exists()  # a default folder is made by the daemon, not the check


def test_a_reload_reports_what_changed_with_channels_by_name(etc: Path, registry: Registry) -> None:
    (etc / "mukaika.toml").write_text(channel(etc, "soumu") + channel(etc, "kikaku", "b-"))
    before = load_config(None, registry)
    (etc / "mukaika.d" / "10.toml").write_text(
        '[gateway]\nsettle_seconds = 0.5\n[rules.png]\nmethod = "reject"\n'
        '[[channels]]\nname = "kikaku"\nreturn_rejected = true\n'
    )  # fmt: skip
    after = load_config(None, registry)
    assert config_changes(before.settings, after.settings) == [
        "gateway.settle_seconds: 2.0 -> 0.5",
        'rules.png.method: "rebuild" -> "reject"',
        "channels[kikaku].return_rejected: (not set) -> true",
    ]
    (etc / "mukaika.toml").write_text(channel(etc, "kikaku", "b-"))
    assert (
        config_changes(after.settings, load_config(None, registry).settings)[-1] == "channels[soumu]: removed"
    )
