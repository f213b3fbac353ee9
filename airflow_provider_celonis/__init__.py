"""Apache Airflow provider for Celonis.

Kept import-free on purpose: Airflow imports provider packages while it parses DAGs, so
this module must not pull in requests, aiohttp or the hook.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
