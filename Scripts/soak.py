#!/usr/bin/env python3
"""`make soak MINUTES=N [STORE=postgres|sqlite]`: a real cluster (every node its own `lector`
process on loopback; with PostgreSQL two coordinators and a real server) gets books uploaded
continuously while, every few seconds, a random worker or the active coordinator is killed with
SIGKILL (and started again), or (PostgreSQL) the database is stopped immediately and restarted.
At the end every book must finish and the database and the stored audio are checked:

    pages=N lost=0 duplicated=0 failed=0 takeovers=K kills=M

lost: a page of an accepted upload that never finished, or whose audio is missing or unreadable;
duplicated: a page stored more than once; failed: a page that ended `failed`. Exits non-zero
unless all three are 0 and no node died by itself."""

import argparse
import faulthandler
import os
import random
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lectorcluster import Cluster, Node, Postgres, audio_check, free_port, temporary_folder  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "LectorTests", "Fixtures")


def clock(seconds):
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "lector"))
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--store", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--fault-every", type=float, default=5, help="seconds between faults")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the cluster's folder and logs")
    args = parser.parse_args()
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1` prints where the soak is
    if not os.access(args.binary, os.X_OK):
        raise SystemExit(f"soak: {args.binary} is missing (build it first)")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    folder = temporary_folder("lector-soak-")
    print(f"[soak] {args.minutes:g} min on {args.store}, a fault every {args.fault_every:g} s, seed {seed}, "
          f"logs in {folder}/cluster/logs", flush=True)

    pg = None
    url = None
    if args.store == "postgres":
        pg = Postgres(os.path.join(folder, "pg"))
        pg.start()
        url = pg.create_database("lector")
    coordinators = ["coordinator", "coordinator-2"] if pg else ["coordinator"]
    workers = [f"worker-{i}" for i in range(1, args.workers + 1)]
    nodes = [Node("gateway", "gateway", "127.0.0.1", free_port(), http=f"127.0.0.1:{free_port()}")]
    nodes += [Node(name, "coordinator", "127.0.0.1", free_port()) for name in coordinators]
    nodes += [Node(name, "worker", "127.0.0.1", free_port()) for name in workers]
    cluster = Cluster(os.path.join(folder, "cluster"), args.binary, nodes, store_url=url)
    ok = False
    try:
        cluster.start_all()
        cluster.wait_until(lambda: cluster.leadership()[0] is not None, 90, "an active coordinator")
        first_epoch = cluster.leadership()[1]
        ok = soak(args, rng, cluster, pg, url, coordinators, workers, first_epoch, folder)
    finally:
        cluster.stop_all()
        if pg:
            pg.stop()
        if ok and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"[soak] the cluster's folder and logs are kept in {folder}", flush=True)
    sys.exit(0 if ok else 1)


def soak(args, rng, cluster, pg, url, coordinators, workers, first_epoch, folder):
    pdfs = {name: open(os.path.join(FIXTURES, f"{name}.pdf"), "rb").read() for name in ["english-8p", "english-40p"]}
    pages_of = {"english-8p": 8, "english-40p": 40}
    books = {}  # id -> expected pages
    settled = set()
    kills = db_restarts = refused_uploads = crashes = 0
    unexpected = []
    restarts = []  # (when, node)
    killed = set()
    started = time.monotonic()
    end = started + args.minutes * 60
    next_fault = started + args.fault_every
    next_report = started + 10
    next_poll = started
    while time.monotonic() < end:
        now = time.monotonic()
        # Nodes killed on purpose come back; one that died by itself is a crash.
        for when, name in list(restarts):
            if when <= now:
                restarts.remove((when, name))
                killed.discard(name)
                cluster.start(name)
        for name in cluster.nodes:
            if name not in killed and not cluster.running(name):
                crashes += 1
                print(f"[soak] {name} died by itself; see {cluster.log(name)}", flush=True)
                cluster.start(name)

        if now >= next_fault:
            next_fault = now + args.fault_every
            choices = ["worker", "coordinator"] + (["database"] if pg else [])
            weights = [0.4, 0.4] + ([0.2] if pg else [])
            fault = rng.choices(choices, weights)[0]
            standby_ready = all(cluster.running(name) for name in coordinators)
            if fault == "coordinator" and (pg is None or standby_ready):
                active = cluster.leadership()[0] if pg else "coordinator"
                if active in coordinators and cluster.running(active):
                    cluster.kill9(active)
                    killed.add(active)
                    kills += 1
                    restarts.append((now + rng.uniform(1, 3), active))
                    print(f"[soak] {clock(now - started)} kill -9 the active coordinator {active}", flush=True)
                    fault = None
            if fault == "database":
                pg.stop_immediately()
                time.sleep(rng.uniform(0.5, 2))
                pg.start()
                db_restarts += 1
                print(f"[soak] {clock(now - started)} restarted PostgreSQL", flush=True)
                fault = None
            if fault is not None:
                alive = [name for name in workers if cluster.running(name)]
                if alive:
                    name = rng.choice(alive)
                    cluster.kill9(name)
                    killed.add(name)
                    kills += 1
                    restarts.append((now + rng.uniform(1, 3), name))
                    print(f"[soak] {clock(now - started)} kill -9 {name}", flush=True)

        if now >= next_poll:
            next_poll = now + 2
            for book in [b for b in books if b not in settled]:
                try:
                    code, body = cluster.json(f"/api/books/{book}/status/")
                except OSError:
                    break
                # Mid-fault a client may be told to try again (503), never that the server broke.
                if code not in (200, 503):
                    unexpected.append((code, body))
                    print(f"[soak] status of book {book} answered {code}: {body}", flush=True)
                status = (body.get("data") or {}).get("processing_status") if code == 200 else None
                if status in ("completed", "failed"):
                    settled.add(book)
        # A steady supply: a few books at a time, so the faults land mid-book.
        if len(books) - len(settled) < 3:
            name = rng.choice(list(pdfs))
            sent = time.monotonic()
            try:
                status, body = cluster.upload(pdfs[name], f"soak-{len(books) + 1}")
            except OSError as error:
                status, body = 0, {"raw": str(error)}
            if time.monotonic() - sent > 10:
                print(f"[soak] {clock(sent - started)} an upload took {time.monotonic() - sent:.0f} s "
                      f"(answered {status})", flush=True)
            if status == 200:
                books[body["data"]["book_id"]] = pages_of[name]
            elif status == 503:
                refused_uploads += 1  # retryable: no coordinator active this moment
            else:
                unexpected.append((status, body))
                print(f"[soak] upload answered {status}: {body}", flush=True)

        if now >= next_report:
            next_report = now + 10
            active, epoch, _ = cluster.leadership()
            print(f"[soak] {clock(now - started)}/{clock(args.minutes * 60)} books={len(books)} "
                  f"settled={len(settled)} kills={kills} db_restarts={db_restarts} "
                  f"active={active} epoch={epoch}", flush=True)
        time.sleep(0.2)

    print(f"[soak] faults stop; waiting for {len(books) - len(settled)} books to finish", flush=True)
    for when, name in restarts:
        killed.discard(name)
        cluster.start(name)
    restarts.clear()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(settled) < len(books):
        for book in [b for b in books if b not in settled]:
            try:
                if cluster.book_status(book).get("processing_status") in ("completed", "failed"):
                    settled.add(book)
            except OSError:
                pass
        time.sleep(1)
    for name in cluster.nodes:
        if not cluster.running(name):
            crashes += 1
            print(f"[soak] {name} is not running at the end; see {cluster.log(name)}", flush=True)

    if pg:
        counts = audio_check(cluster, "postgres", pg=pg, database="lector")
        last_epoch = int(pg.query("lector", "SELECT epoch FROM coordinator_lease")[0][0])
        takeovers = last_epoch - (first_epoch or last_epoch)
        stored_books = {int(row[0]): int(row[1]) for row in
                        pg.query("lector", "SELECT id, total_pages FROM book")}
    else:
        data = os.path.join(cluster.folder, "data")
        counts = audio_check(cluster, "sqlite", sqlite_path=os.path.join(data, "coordinator.sqlite"),
                             audio_root=os.path.join(data, "coordinator-audio"))
        takeovers = 0
        import sqlite3
        db = sqlite3.connect(os.path.join(data, "coordinator.sqlite"))
        stored_books = {row[0]: row[1] for row in db.execute("SELECT id, total_pages FROM book")}
        db.close()
    missing_pages = sum(pages for book, pages in books.items() if stored_books.get(book) != pages)
    lost = counts["unfinished"] + counts["missing_audio"] + counts["bad_audio"] + missing_pages
    print(f"[soak] books={len(books)} uploads_refused_503={refused_uploads} db_restarts={db_restarts} "
          f"orphan_audio={counts['orphans']} crashes={crashes} unexpected_answers={len(unexpected)}", flush=True)
    print(f"pages={counts['pages']} lost={lost} duplicated={counts['duplicated']} failed={counts['failed']} "
          f"takeovers={takeovers} kills={kills}", flush=True)
    return (lost == 0 and counts["duplicated"] == 0 and counts["failed"] == 0 and crashes == 0 and not unexpected
            and counts["orphans"] == 0 and len(books) > 0)


if __name__ == "__main__":
    main()
