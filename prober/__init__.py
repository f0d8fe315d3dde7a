"""Probe runtime: plugin contract, registry, runner, sens rechecks, worker and bus."""
