"""How the DAGs run: task callables, Cosmos layers, params, pipeline configuration."""
