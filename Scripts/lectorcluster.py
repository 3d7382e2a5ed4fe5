"""Real Lector clusters for the soak and the network-namespace test: a PostgreSQL server started
from Debian's binaries in a temporary folder, a cluster.yaml, certificates from `lector certs`,
and every node its own `lector` process (optionally inside a network namespace)."""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from glob import glob


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def pg_binary(name):
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit(f"PostgreSQL's {name} is missing: install Debian's postgresql (make deps)")
    return found[-1]


class Postgres:
    """One PostgreSQL server, run as the `postgres` user when this is root (initdb refuses root),
    on `host:port`, its data under `folder`; `wrap` prefixes its command (`ip netns exec NS`)."""

    def __init__(self, folder, host="127.0.0.1", port=None, wrap=()):
        self.folder = folder
        self.host = host
        self.port = port or free_port()
        self.wrap = list(wrap)
        self.process = None
        self.as_postgres = os.geteuid() == 0
        os.makedirs(folder, exist_ok=True)
        if self.as_postgres:
            shutil.chown(folder, "postgres", "postgres")
        self._run([pg_binary("initdb"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                   "-D", self.data], quiet=True)
        if host != "127.0.0.1":
            # initdb trusts loopback only; this server is on a private network the test made.
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                f.write("host all all 0.0.0.0/0 trust\n")
        os.makedirs(self.sock, exist_ok=True)
        if self.as_postgres:
            shutil.chown(self.sock, "postgres", "postgres")

    data = property(lambda self: os.path.join(self.folder, "data"))
    sock = property(lambda self: os.path.join(self.folder, "sock"))

    def _user(self, command):
        return (["runuser", "-u", "postgres", "--"] if self.as_postgres else []) + command

    def _run(self, command, quiet=False):
        result = subprocess.run(self.wrap + self._user(command), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def start(self):
        log = open(os.path.join(self.folder, "postgres.log"), "a")
        self.process = subprocess.Popen(
            self.wrap + self._user([pg_binary("postgres"), "-D", self.data, "-p", str(self.port), "-k", self.sock,
                                    "-c", f"listen_addresses={self.host}", "-c", "max_connections=300"]),
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run([pg_binary("pg_isready"), "-q", "-h", self.host, "-p", str(self.port)])
            if ready.returncode == 0:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not start; see " + os.path.join(self.folder, "postgres.log"))

    def _signal_postmaster(self, number):
        """To the postmaster itself: `runuser` in between does not pass signals on."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                os.kill(int(f.readline().strip()), number)
        except (OSError, ValueError):
            if self.process:
                self.process.send_signal(number)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop_immediately(self):
        """The server goes away as if its machine had (SIGQUIT: no checkpoint, clients cut off)."""
        if self.process and self.process.poll() is None:
            self._signal_postmaster(signal.SIGQUIT)

    def stop(self):
        if self.process and self.process.poll() is None:
            self._signal_postmaster(signal.SIGINT)

    def create_database(self, name):
        result = subprocess.run([pg_binary("createdb"), "-h", self.host, "-p", str(self.port), "-U", "postgres", name],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"createdb {name} failed: {result.stderr}")
        return f"postgres://postgres@{self.host}:{self.port}/{name}"

    def query(self, database, sql):
        """Rows of `sql`, each a list of its columns' text."""
        out = subprocess.run(["psql", "-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", database,
                              "-At", "-F", "\t", "-c", sql], check=True, capture_output=True, text=True, timeout=120)
        return [line.split("\t") for line in out.stdout.splitlines() if line]


class Node:
    def __init__(self, name, role, host, port, wrap=(), http=None):
        self.name, self.role, self.host, self.port, self.http = name, role, host, port, http
        self.wrap = list(wrap)
        self.process = None
        self.starts = 0


class Cluster:
    """A cluster.yaml in `folder`, its certificates, and each node a `lector` process."""

    def __init__(self, folder, binary, nodes, store_url=None, timings=None):
        self.folder, self.binary, self.store_url = folder, os.path.abspath(binary), store_url
        self.nodes = {node.name: node for node in nodes}
        os.makedirs(os.path.join(folder, "logs"), exist_ok=True)
        timings = timings or {"heartbeat_interval": "250ms", "failure_timeout": "3s", "call_timeout": "5s"}
        lines = ["cluster: soak", "tls:", "  ca: certs/ca.pem", "  ca_key: certs/ca-key.pem", "  dir: certs",
                 "timings:"] + [f"  {key}: {value}" for key, value in timings.items()]
        if store_url:
            lines += ["store:", f'  postgres: "{store_url}"']
        lines.append("nodes:")
        for node in nodes:
            lines += [f"  - name: {node.name}", f"    role: {node.role}", f"    listen: {node.host}:{node.port}"]
            if node.role == "gateway":
                lines.append(f"    http: {node.http}")
            if node.role == "coordinator":
                lines += [f"    database: data/{node.name}.sqlite", f"    audio_dir: data/{node.name}-audio"]
            if node.role == "worker":
                lines.append("    concurrency: 1")
        self.config = os.path.join(folder, "cluster.yaml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        result = subprocess.run([self.binary, "certs", "--config", self.config], capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            raise RuntimeError("lector certs failed: " + result.stdout + result.stderr)
        gateway = next(node for node in nodes if node.role == "gateway")
        self.base = f"http://{gateway.http}"

    def log(self, name):
        return os.path.join(self.folder, "logs", f"{name}.log")

    def start(self, name):
        node = self.nodes[name]
        env = dict(os.environ, LECTOR_VOICES="none", OMP_THREAD_LIMIT="1")
        env.pop("LECTOR_SUPERVISOR_PID", None)
        log = open(self.log(name), "a")
        log.write(f"===== start {node.starts + 1} at {time.strftime('%H:%M:%S')}\n")
        log.flush()
        node.process = subprocess.Popen(
            node.wrap + [self.binary, node.role, "--config", self.config, "--node", name],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.folder)
        node.starts += 1

    def start_all(self):
        for name in self.nodes:
            self.start(name)

    def kill9(self, name):
        process = self.nodes[name].process
        if process and process.poll() is None:
            process.kill()
            process.wait()

    def running(self, name):
        process = self.nodes[name].process
        return process is not None and process.poll() is None

    def stop_all(self):
        for node in self.nodes.values():
            if node.process and node.process.poll() is None:
                node.process.terminate()
        deadline = time.monotonic() + 20
        for node in self.nodes.values():
            if node.process:
                try:
                    node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()

    # HTTP

    def get(self, path, timeout=10):
        """(status, body bytes)."""
        sent = time.monotonic()
        try:
            return self._get(path, timeout)
        finally:
            if time.monotonic() - sent > 3:
                print(f"[http] GET {path} took {time.monotonic() - sent:.1f} s", flush=True)

    def _get(self, path, timeout):
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, path, timeout=10):
        status, body = self.get(path, timeout)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {}

    def upload(self, pdf, title, timeout=60):
        request = urllib.request.Request(f"{self.base}/api/books/upload/?title={title}", data=pdf, method="POST",
                                         headers={"Content-Type": "application/pdf"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                return error.code, json.loads(body)
            except ValueError:
                return error.code, {"raw": body[:200].decode(errors="replace")}

    def leadership(self):
        """(active coordinator or None, epoch or None, standby names)."""
        try:
            status, body = self.json("/api/cluster/", timeout=5)
        except (OSError, urllib.error.URLError):
            return None, None, []
        coordinator = (body.get("data") or {}).get("coordinator") or {}
        return coordinator.get("active"), coordinator.get("epoch"), coordinator.get("standby", [])

    def wait_until(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except (OSError, urllib.error.URLError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what}")

    def book_status(self, book):
        status, body = self.json(f"/api/books/{book}/status/")
        return (body.get("data") or {}) if status == 200 else {}


def is_mp3(data):
    return data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def audio_check(cluster, store, pg=None, database=None, sqlite_path=None, audio_root=None):
    """What is stored, checked against what the pages say. Returns a dict of counts:
    pages, completed, failed, unfinished, missing_audio, bad_audio, duplicated, orphans."""
    if store == "postgres":
        rows = pg.query(database, "SELECT book_id, page_number, processing_status, COALESCE(audio_path, '') FROM page")
        blobs = pg.query(database, "SELECT id, book_id, page_number, total_bytes FROM audio_blob WHERE page_number > 0")
        per_page = {}
        by_ref = {}
        for blob_id, book, page, total in blobs:
            per_page[(book, page)] = per_page.get((book, page), 0) + 1
            by_ref[f"pg:{blob_id}"] = int(total)
        stored = lambda path: by_ref.get(path)
        duplicated = sum(1 for count in per_page.values() if count > 1)
        referenced = {path for *_, path in rows if path}
        orphans = sum(1 for ref in by_ref if ref not in referenced)
    else:
        db = sqlite3.connect(sqlite_path)
        rows = [[str(a), str(b), c, d or ""] for a, b, c, d in
                db.execute("SELECT book_id, page_number, processing_status, audio_path FROM page")]
        db.close()
        root = audio_root
        files = {}
        for path in glob(os.path.join(root, "books", "*", "*.mp3")):
            files[os.path.relpath(path, root)] = os.path.getsize(path)
        stored = lambda path: files.get(path)
        referenced = {path for *_, path in rows if path}
        # A page's file name is fixed, so a second copy of a page would be a file no page names,
        # or two pages naming one file.
        orphans = sum(1 for path in files if path not in referenced)
        names = [r[3] for r in rows if r[3]]
        duplicated = len(names) - len(set(names))
    counts = dict(pages=len(rows), completed=0, failed=0, unfinished=0, missing_audio=0, bad_audio=0,
                  duplicated=duplicated, orphans=orphans)
    for book, page, status, path in rows:
        if status == "completed":
            counts["completed"] += 1
            if path:
                size = stored(path)
                if size is None:
                    counts["missing_audio"] += 1
                    continue
                code, body = cluster.get(f"/media/books/{book}/page_{int(page):04d}.mp3", timeout=30)
                if code != 200 or len(body) != size or not is_mp3(body):
                    counts["bad_audio"] += 1
        elif status == "failed":
            counts["failed"] += 1
        else:
            counts["unfinished"] += 1
    return counts


def temporary_folder(prefix):
    folder = tempfile.mkdtemp(prefix=prefix)
    os.chmod(folder, 0o755)  # the postgres user reaches its data folder inside
    return folder
