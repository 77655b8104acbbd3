"""``mosaico serve``: run the platform server over a store until SIGINT/SIGTERM: a folder
(the catalog inside), or chunk storage and a catalog named apart (``--catalog``), which
several servers may share."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import attrs
import click

from mosaico.errors import MosaicoError
from mosaico.ontology.tags import load_plugins
from mosaico.protocol.info import DEFAULT_PORT
from mosaico.server.access import ApiKeys
from mosaico.server.flight import MosaicoFlightServer
from mosaico.server.logs import kv
from mosaico.server.store import MiB, Store, StoreConfig

log = logging.getLogger("mosaico.server")

# How long in-flight calls get to finish after a stop signal before the process exits anyway
# (a client may keep an upload stream open indefinitely). Committed data is safe either way.
SHUTDOWN_GRACE_S = 10.0


@click.command("serve")
@click.option(
    "--store",
    "store_dir",
    required=True,
    help="Where the chunk files live: a folder (created if missing; without --catalog it "
    "holds the catalog too) or an object store, s3://BUCKET/PREFIX (endpoint, region and "
    "keys from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).",
)
@click.option(
    "--catalog", envvar="MOSAICO_CATALOG", metavar="URI|FILE",
    help="The catalog: postgresql://USER@HOST:PORT/DB (libpq URI; PG* variables fill in "
    "what it leaves out), which several servers may share, or an SQLite file. "
    "[env: MOSAICO_CATALOG]",
)  # fmt: skip
@click.option("--s3-endpoint", metavar="URL", help="Object store endpoint (AWS_ENDPOINT_URL).")
@click.option("--s3-region", metavar="REGION", help="Object store region (AWS_REGION).")
@click.option(
    "--server-lease", default=30.0, show_default=True, type=click.FloatRange(min=0.5),
    metavar="SECONDS",
    help="Over a shared catalog: a server silent for this long is taken as dead, and "
    "the others fail its unfinished uploads and delete its unrecorded files.",
)  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="TCP port.")
@click.option(
    "--chunk-mib", default=16, show_default=True, type=click.IntRange(min=1),
    help="Roll a new chunk file after this many MiB of buffered rows per topic.",
)  # fmt: skip
@click.option(
    "--compression",
    default=attrs.fields(StoreConfig).compression.default,
    show_default=True,
    type=click.Choice(["none", "lz4", "snappy", "zstd"]),
    help="Parquet codec for non-image topics: zstd for the least disk, lz4 (or none) for "
    "the fastest uploads and reads.",
)
@click.option(
    "--fsync/--no-fsync", default=True, show_default=True,
    help="Reply to an upload or finalize only once its chunk files and catalog commit are "
    "fsynced. --no-fsync is for scratch stores: faster, and what was acknowledged still "
    "survives a crash of the server, but not a power loss or an OS crash.",
)  # fmt: skip
@click.option(
    "--api-key", "api_key_specs", multiple=True, metavar="KEY[:read,write,delete]",
    help="Require this API key (repeatable); without permissions it may do everything.",
)  # fmt: skip
@click.option(
    "--api-keys-file", type=click.Path(exists=True, dir_okay=False),
    help='JSON object of API keys: {"<key>": ["read", "write", "delete"]}.',
)  # fmt: skip
@click.option(
    "--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate chain."
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key.")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def serve(
    store_dir: str,
    catalog: str | None,
    s3_endpoint: str | None,
    s3_region: str | None,
    server_lease: float,
    host: str,
    port: int,
    chunk_mib: int,
    compression: str,
    fsync: bool,
    api_key_specs: tuple[str, ...],
    api_keys_file: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    log_level: str,
) -> None:
    """Serve the Mosaico protocol over Arrow Flight on HOST:PORT."""
    api_keys, tls = _access(api_key_specs, api_keys_file, tls_cert, tls_key)
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        config = StoreConfig(
            chunk_bytes=chunk_mib * MiB, compression=compression, durable=fsync,
            server_lease_s=server_lease,
        )  # fmt: skip
        store = Store.open(
            store_dir, catalog, config, endpoint=s3_endpoint, region=s3_region
        )
    except MosaicoError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        scheme = "grpc+tls" if tls else "grpc"
        server = MosaicoFlightServer(store, f"{scheme}://{host}:{port}", api_keys=api_keys, tls=tls)
    except Exception as exc:
        store.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info(kv("serve.signal", signal=signal.Signals(signum).name))
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Installed ontology packages, loaded now so that a broken one is reported at start.
    for plugin in load_plugins():
        log.info(kv("serve.ontology", entry_point=plugin))
    where = store.catalog.database.describe()
    log.info(kv("serve.ready", host=host, port=server.port, store=store_dir, catalog=where,
                fsync=fsync))  # fmt: skip
    while not stop.wait(0.5):
        pass

    store.closing.set()
    closer = threading.Thread(target=server.shutdown, daemon=True)
    closer.start()
    closer.join(SHUTDOWN_GRACE_S)
    if closer.is_alive():
        log.warning(kv("serve.shutdown_timeout", seconds=SHUTDOWN_GRACE_S))
    else:
        store.close()
    log.info(kv("serve.stopped"))


def _access(
    specs: tuple[str, ...], keys_file: str | None, cert: str | None, key: str | None
) -> tuple[ApiKeys | None, tuple[bytes, bytes] | None]:
    """API keys (from options and/or a file) and TLS files, checked before anything starts."""
    if bool(cert) != bool(key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    tls = (Path(cert).read_bytes(), Path(key).read_bytes()) if cert and key else None
    try:
        grants = dict(ApiKeys.parse(specs).grants)
        if keys_file:
            grants.update(ApiKeys.from_file(keys_file).grants)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    return (ApiKeys(grants) if grants else None), tls
