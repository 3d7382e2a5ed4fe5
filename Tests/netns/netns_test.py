#!/usr/bin/env python3
"""A real multi-host test: the gateway, two coordinators, PostgreSQL and two workers, each in its
own network namespace on a private bridge this test creates (and removes). Mid-book the active
coordinator's link is cut: the standby must take over, the book complete, and no page be stored
twice; with the link back, the cut-off coordinator must come back as a standby.

Needs root (`ip netns`); elsewhere it says why and is skipped (exit 0)."""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Scripts"))
from lectorcluster import Cluster, Node, Postgres, audio_check, temporary_folder  # noqa: E402

SUFFIX = str(os.getpid() % 10000)
BRIDGE = f"lbr{SUFFIX}"
SUBNET = "10.231.0"
HOSTS = {"gw": 10, "c1": 11, "c2": 12, "db": 13, "w1": 14, "w2": 15}


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def namespace(host):
    return f"ln{SUFFIX}-{host}"


def veth(host):
    return f"lv{SUFFIX}{host}"  # the bridge's end; at most 15 characters


def create_network():
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "add", f"{SUBNET}.1/24", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")
    for host, number in HOSTS.items():
        ns = namespace(host)
        ip("netns", "add", ns)
        ip("link", "add", veth(host), "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("link", "set", veth(host), "master", BRIDGE)
        ip("link", "set", veth(host), "up")
        ip("-n", ns, "addr", "add", f"{SUBNET}.{number}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")


def remove_network():
    for host in HOSTS:
        ip("link", "del", veth(host), check=False)
        subprocess.run(["ip", "netns", "pids", namespace(host)], capture_output=True)
        ip("netns", "del", namespace(host), check=False)
    ip("link", "del", BRIDGE, check=False)


def wrap(host):
    return ["ip", "netns", "exec", namespace(host)]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "lector")
    if os.geteuid() != 0:
        print("netns: skipped: network namespaces need root (CI runs as root)")
        return 0
    probe = ip("netns", "add", f"ln{SUFFIX}-probe", check=False)
    if probe.returncode != 0:
        print(f"netns: skipped: this machine does not allow network namespaces ({probe.stderr.strip()})")
        return 0
    ip("netns", "del", f"ln{SUFFIX}-probe", check=False)

    folder = temporary_folder("lector-netns-")
    cluster = pg = None
    ok = False
    try:
        create_network()
        address = lambda host: f"{SUBNET}.{HOSTS[host]}"
        pg = Postgres(os.path.join(folder, "pg"), host=address("db"), port=5432, wrap=wrap("db"))
        pg.start()
        url = pg.create_database("lector")
        nodes = [
            Node("gateway", "gateway", address("gw"), 7400, wrap=wrap("gw"), http=f"{address('gw')}:8000"),
            Node("coordinator", "coordinator", address("c1"), 7401, wrap=wrap("c1")),
            Node("coordinator-2", "coordinator", address("c2"), 7401, wrap=wrap("c2")),
            Node("worker-1", "worker", address("w1"), 7402, wrap=wrap("w1")),
            Node("worker-2", "worker", address("w2"), 7402, wrap=wrap("w2")),
        ]
        cluster = Cluster(os.path.join(folder, "cluster"), binary, nodes, store_url=url)
        cluster.start_all()
        cluster.wait_until(lambda: cluster.leadership()[0] is not None and len(cluster.leadership()[2]) == 1, 90,
                           "one active coordinator and one standby")
        active, epoch, standby = cluster.leadership()
        print(f"netns: {active} is active (epoch {epoch}), {standby[0]} stands by; every node in its own namespace")

        pdf = open(os.path.join(ROOT, "Tests", "LectorTests", "Fixtures", "english-40p.pdf"), "rb").read()
        status, body = cluster.upload(pdf, "netns")
        assert status == 200, f"upload: {status} {body}"
        book = body["data"]["book_id"]
        cluster.wait_until(lambda: cluster.book_status(book)["pages_status"]["completed"] >= 3, 120,
                           "three pages voiced")
        done_before = cluster.book_status(book)["pages_status"]["completed"]
        cut = "c1" if active == "coordinator" else "c2"
        ip("link", "set", veth(cut), "down")
        print(f"netns: cut {active}'s link after {done_before} of 40 pages")

        cluster.wait_until(lambda: cluster.leadership()[0] not in (None, active), 60, "the standby to take over")
        taken, taken_epoch, _ = cluster.leadership()
        assert taken_epoch > epoch, f"the takeover kept epoch {taken_epoch}"
        print(f"netns: {taken} took over (epoch {taken_epoch})")
        cluster.wait_until(lambda: cluster.book_status(book)["processing_status"] in ("completed", "failed"), 300,
                           "the book to finish")
        final = cluster.book_status(book)
        assert done_before < 39, "the cut must come mid-book"
        assert final["processing_status"] == "completed", final
        assert final["pages_status"]["failed"] == 0, final

        # The cut-off coordinator, its link back, comes back as a standby; the active one stays.
        ip("link", "set", veth(cut), "up")
        cluster.wait_until(lambda: active in cluster.leadership()[2], 60, f"{active} to come back as a standby")
        back, back_epoch, _ = cluster.leadership()
        assert (back, back_epoch) == (taken, taken_epoch), (back, back_epoch)
        log = open(cluster.log(active)).read()
        assert f"{active} steps down" in log, "the cut-off coordinator never stepped down"

        counts = audio_check(cluster, "postgres", pg=pg, database="lector")
        print(f"netns: pages={counts['pages']} completed={counts['completed']} duplicated={counts['duplicated']} "
              f"orphans={counts['orphans']} missing_audio={counts['missing_audio']} bad_audio={counts['bad_audio']}")
        assert counts["pages"] == 40 and counts["completed"] == 40, counts
        assert counts["duplicated"] == 0 and counts["orphans"] == 0, counts
        assert counts["missing_audio"] == 0 and counts["bad_audio"] == 0, counts
        blobs = pg.query("lector", f"SELECT COUNT(*) FROM audio_blob WHERE book_id = {book} AND page_number > 0")
        assert blobs == [["39"]], f"39 voiced pages, one stored audio each: {blobs}"
        print("netns: passed: the standby took over across the cut link, the book completed, each page stored once")
        ok = True
    finally:
        if cluster:
            cluster.stop_all()
        if pg:
            pg.stop()
        remove_network()
        if not ok:
            artifacts = os.path.join(ROOT, "test-output", "netns")
            os.makedirs(artifacts, exist_ok=True)
            subprocess.run(["cp", "-r", os.path.join(folder, "cluster", "logs"), artifacts], check=False)
            print(f"netns: FAILED; the nodes' logs are in {artifacts}")
        subprocess.run(["rm", "-rf", folder], check=False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
