"""What this environment collects, and the ``backend`` every server-facing test runs on.

The tests under ``tests/reference`` drive the reference client ``mosaicolabs``, which lives
in its own environment (``tests/reference/environment.py``); the main environment runs them
there through ``test_reference_client.py`` and reports each one. Inside the reference
environment they run directly.

The scale tier's services (a PostgreSQL catalog, a Ceph S3 gateway) are fixtures of every
test (``tests/scale/services.py``), started only when one asks for them: the ``scale``
backend does. Every test that needs them is in the scale tier (marked ``scale``), so
``-m "not scale"`` never starts them.
"""

import importlib.util
from collections.abc import Iterator

import pytest

from tests.backends import LOCAL, SCALE, Backend
from tests.scale.services import catalog_url, postgres, rgw, s3_env, s3_store  # noqa: F401

_REFERENCE_CLIENT_HERE = importlib.util.find_spec("mosaicolabs") is not None
collect_ignore = ["test_reference_client.py"] if _REFERENCE_CLIENT_HERE else ["reference"]


@pytest.fixture(
    scope="session",
    params=[pytest.param(LOCAL, id=LOCAL), pytest.param(SCALE, id=SCALE, marks=pytest.mark.scale)],
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The platform a server-facing test runs on: ``local`` (a folder) and ``scale`` (the
    PostgreSQL catalog and S3 chunk storage of the scale-out stack); see `tests.backends`."""
    if request.param == LOCAL:
        yield Backend()
        return
    scale = Backend((request.getfixturevalue("postgres"), request.getfixturevalue("rgw")))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in scale.env.items():
            patch.setenv(name, value)
        yield scale


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``scale`` every test that needs the scale tier's services."""
    for item in items:
        if {"postgres", "rgw"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.scale)
