"""The SMTP relay on several nodes: every gateway node receives, the node holding the relay's
lock delivers, and a mail is delivered once however it moved between the nodes."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

from gateway.config import MAIL_CHANNEL
from tests.gateway.cluster_harness import Cluster
from tests.gateway.mail_harness import EML_RULE, LGWAN, Sink, mail, send, smtp_table, token_of
from tests.gateway.postfix_harness import free_port
from tests.postgres_harness import PostgresCluster

ALICE = f"alice@{LGWAN}"


def delivered_tokens(sink: Sink) -> list[str]:
    return sorted(
        token_of(message_from_bytes(data, policy=policy.default)) for _, _, data, _ in sink.received
    )


def test_mail_received_by_any_gateway_node_is_delivered_once_by_the_relays_owner_even_after_it_dies(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    ports = {"gw1": free_port(), "gw2": free_port()}
    with Sink() as sink:
        cluster = Cluster(tmp_path, postgres.new_database(), extra_rules=EML_RULE)
        gateways = [cluster.add("gateway", name, extra="[smtp]\n" + smtp_table(port, sink.port))
                    for name, port in ports.items()]  # fmt: skip
        try:
            gateways[0].start()  # first: it holds every lock, the relay's among them
            cluster.start(gateways[1], cluster.add("worker", "wk1", workers=2))
            assert cluster.owners([MAIL_CHANNEL]) == {MAIL_CHANNEL: "gw1"}
            send(ports["gw1"], mail("one_attachment", "by-the-owner", [ALICE]))
            send(ports["gw2"], mail("html", "by-the-standby", [ALICE]))
            cluster.wait_for(lambda: len(gateways[0].events("mail")) == 2, 60, "two mails delivered")
            assert gateways[1].events("mail") == [], (
                "the standby delivered while not holding the relay's lock"
            )

            gateways[0].kill()
            cluster.wait_for(
                lambda: cluster.owners([MAIL_CHANNEL]) == {MAIL_CHANNEL: "gw2"},
                10,
                "gw2 taking the relay over",
            )
            send(ports["gw2"], mail("plain", "after-the-owner-died", [ALICE]))
            cluster.wait_for(lambda: len(gateways[1].events("mail")) == 1, 60, "the third mail delivered")
            rows = cluster.rows(
                "SELECT m.state, t.state AS verdict FROM mail m JOIN transfers t ON t.id = m.transfer_id"
            )
        finally:
            cluster.stop_all()
    assert delivered_tokens(sink) == ["after-the-owner-died", "by-the-owner", "by-the-standby"]  # each once
    assert sorted((row["state"], row["verdict"]) for row in rows) == [("delivered", "released")] * 3
    for _, _, data, _ in sink.received:  # each went through a worker node's mail sanitiser
        assert message_from_bytes(data, policy=policy.default)["X-Mukaika-Sanitized"] is not None
