"""mosaico's ontology code generator: YAML -> typed model -> Jinja2 templates -> package.

A build tool: generated packages import only the ``mosaico.ontology`` runtime, never this
package. It needs the ``codegen`` extra (jinja2, pyyaml, ruff).
"""

from mosaico.extras import require

require("codegen", "jinja2", "yaml", "ruff")
