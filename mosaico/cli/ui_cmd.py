"""``mosaico ui``: the web viewer on 127.0.0.1, over the embedded store or any server.

The app (`mosaico.viewer.app`, the ``ui`` extra) reaches the platform through a client
built from the usual connection options, like any user program; only the local machine
can reach the viewer itself::

    mosaico ui --store ./store --open
    mosaico ui --host robot-lab --ui-port 9000
"""

from __future__ import annotations

import socket
import threading
import webbrowser

import click

from mosaico.cli.connection import with_client
from mosaico.client import MosaicoClient
from mosaico.errors import MissingExtraError

DEFAULT_UI_PORT = 8765
UI_HOST = "127.0.0.1"


def _listening_socket(port: int) -> socket.socket:
    """A socket bound to ``127.0.0.1:port``, or a one-line error when it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((UI_HOST, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"cannot listen on {UI_HOST}:{port} ({exc.strerror}); pick another port with --ui-port"
        ) from None
    return sock


@click.command("ui")
@click.option(
    "--ui-port", type=click.IntRange(0, 65535), default=DEFAULT_UI_PORT, show_default=True,
    help="Port of the viewer on 127.0.0.1 (0: any free port).",
)  # fmt: skip
@click.option("--open", "open_browser", is_flag=True, help="Open the viewer in a browser.")
@with_client
def ui(client: MosaicoClient, ui_port: int, open_browser: bool) -> None:
    """Browse, plot and query the platform's recordings in a web browser."""
    try:
        from mosaico.viewer.app import create_app
        from mosaico.viewer.serving import server_for

        app = create_app(client)
    except (MissingExtraError, ModuleNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    sock = _listening_socket(ui_port)
    url = f"http://{UI_HOST}:{sock.getsockname()[1]}/"
    server = server_for(app)
    click.echo(f"mosaico ui: {url} (Ctrl-C to stop)")
    if open_browser:
        threading.Timer(0.5, webbrowser.open, [url]).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
