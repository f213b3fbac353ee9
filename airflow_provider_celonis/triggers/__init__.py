"""Celonis triggers for Airflow; import the submodules directly."""
