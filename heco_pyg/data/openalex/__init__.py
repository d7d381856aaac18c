"""OpenAlex works (saved API pages, snapshot parts, or the live API) to a HeCo graph:
:func:`~heco_pyg.data.openalex.ingest.ingest_works` is the whole chain (:mod:`.ingest`)."""

from heco_pyg.data.openalex.api import OpenAlexClient
from heco_pyg.data.openalex.ingest import ingest_works, read_works

__all__ = ["OpenAlexClient", "ingest_works", "read_works"]
