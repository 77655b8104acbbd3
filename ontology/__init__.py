"""The standard mosaico ontology, as YAML (shipped so user ontologies can import it)."""
