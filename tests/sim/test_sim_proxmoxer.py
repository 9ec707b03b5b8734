"""A client nobody here wrote — proxmoxer used raw — works against the simulator like against PVE."""

import pytest
from proxmoxer import ProxmoxAPI
from proxmoxer.backends.https import AuthenticationError
from proxmoxer.core import ResourceException

pytestmark = pytest.mark.timeout(30)


def password_client(sim):
    return ProxmoxAPI("127.0.0.1", port=sim.port, user="root@pam", password=sim.root_password, verify_ssl=sim.cert_path)


def token_client(sim):
    tokenid, secret = next(iter(sim.tokens.items()))
    user, name = tokenid.split("!", 1)
    return ProxmoxAPI("127.0.0.1", port=sim.port, user=user, token_name=name, token_value=secret, verify_ssl=sim.cert_path)


CLIENTS = pytest.mark.parametrize("make_client", [password_client, token_client], ids=["ticket", "token"])


@CLIENTS
def test_version_and_nodes(sim, make_client):
    client = make_client(sim)
    assert client.version.get() == {"version": "9.1.3", "release": "9.1", "repoid": sim.schema.repoid}
    assert [node["node"] for node in client.nodes.get()] == ["pve1", "pve2", "pve3"]
    assert client.nodes("pve2").status.get()["current-kernel"]["sysname"] == "Linux"


@CLIENTS
def test_failing_post_carries_reason_and_errors(sim, make_client):
    with pytest.raises(ResourceException) as caught:
        make_client(sim).cluster.sdn.zones.post(zone="toolongid", type="simple")
    assert caught.value.status_code == 400
    assert caught.value.content == "Parameter verification failed."
    assert caught.value.errors == {"zone": "invalid format - zone ID 'toolongid' can't be more length than 8 characters\n"}


@CLIENTS
def test_task_status_and_log(sim, make_client):
    client = make_client(sim)
    upid = sim.add_task(node="pve1", type="vzcreate", id="100", log=["creating"], duration=0)
    assert client.nodes("pve1").tasks(upid).status.get()["exitstatus"] == "OK"
    assert client.nodes("pve1").tasks(upid).log.get() == [{"n": 1, "t": "creating"}, {"n": 2, "t": "TASK OK"}]


def test_wrong_password_fails_login(sim):
    with pytest.raises(AuthenticationError, match="code: 401"):
        ProxmoxAPI("127.0.0.1", port=sim.port, user="root@pam", password="wrong", verify_ssl=sim.cert_path)
