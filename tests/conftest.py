"""What this environment collects.

The tests under ``tests/reference`` drive the reference client ``mosaicolabs``, which lives
in its own environment (``tests/reference/environment.py``); the main environment runs them
there through ``test_reference_client.py`` and reports each one. Inside the reference
environment they run directly.

The scale tier's services (a PostgreSQL catalog, a Ceph S3 gateway) are fixtures of every
test (``tests/scale/services.py``), started only when one asks for them.
"""

import importlib.util

from tests.scale.services import catalog_url, postgres, rgw, s3_env, s3_store  # noqa: F401

_REFERENCE_CLIENT_HERE = importlib.util.find_spec("mosaicolabs") is not None
collect_ignore = ["test_reference_client.py"] if _REFERENCE_CLIENT_HERE else ["reference"]
