"""Look at the data: downsampled series of a topic's numeric fields, and plots of them.

- `downsample`: first/min/max/last per pixel bucket of a time range (M4), read batch by
  batch with only the fields' columns; `numeric_fields` lists the fields one can plot.
- `plot` (needs the ``plot`` extra, matplotlib): a figure of several fields overlaid, for
  notebooks and ``mosaico plot``.
- `mosaico.viewer.app.create_app` (needs the ``ui`` extra, Starlette; not imported here):
  the web viewer ``mosaico ui`` (its pages and the HTTP API they read).

>>> from mosaico.viewer import downsample, plot
>>> handler = client.topic_handler("run-1", "/imu")
>>> fig = plot(handler, ["acceleration.x", "acceleration.y"])
>>> fig.savefig("imu.png")
"""

from mosaico.viewer.errors import ViewerError
from mosaico.viewer.plot import plot
from mosaico.viewer.series import NumericField, Series, downsample, numeric_fields

__all__ = ["NumericField", "Series", "ViewerError", "downsample", "numeric_fields", "plot"]
