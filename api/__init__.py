"""The Vedette controller: HTTP API, storage, scheduler and the result pipeline."""
