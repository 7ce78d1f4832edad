"""A dashboard node under a PostgreSQL restart: an error page at most, never a hang, no restart.

A private PostgreSQL cluster (tests/support/nodes.py) is restarted and stopped under a running
`surveillance serve`.
"""

from __future__ import annotations

import pytest

from tests.support.nodes import (
    EMAIL,
    Client,
    Node,
    node_config,
    prepare_database,
)

pytestmark = pytest.mark.thorough  # a restarted database server


@pytest.fixture
def node(private_cluster, tmp_path):
    url = private_cluster.create_database("surveillance")
    prepare_database(url)
    node = Node(node_config(tmp_path / "node", url)).start()
    yield node
    node.stop()


def test_a_database_restart_costs_no_request_once_it_is_back(private_cluster, node):
    nurse = Client(node.port)
    nurse.log_in()
    assert nurse.request("GET", "/")[0] == 200  # the pool now holds a connection
    private_cluster.restart()  # cuts every connection the node holds
    status, page, _ = nurse.request("GET", "/")
    assert status == 200 and EMAIL in page  # the dead connection was replaced
    assert Client(node.port).request("GET", "/healthz")[:2] == (200, "ok\n")


def test_while_the_database_is_down_pages_fail_fast_and_the_node_recovers_alone(
    private_cluster, node
):
    nurse = Client(node.port)
    nurse.log_in()
    private_cluster.stop()
    status, text, _ = Client(node.port).request("GET", "/healthz")
    assert (status, text) == (503, "database unavailable\n")  # the balancer takes it out
    status, page, _ = nurse.request("GET", "/")
    assert status == 503 and "Ingenting ble lagret" in page
    private_cluster.start()
    assert Client(node.port).request("GET", "/healthz")[:2] == (200, "ok\n")
    status, page, _ = nurse.request("GET", "/")
    assert status == 200 and EMAIL in page  # still logged in: the session is stored
    assert node.process.poll() is None  # the same process throughout
