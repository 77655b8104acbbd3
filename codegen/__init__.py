"""mosaico's ontology code generator: YAML -> IR -> Jinja2 templates -> Python package."""
