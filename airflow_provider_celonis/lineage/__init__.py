"""Lineage: OpenLineage datasets and Airflow Assets of the Celonis operators.

Internal: operators call it from one small method (``get_openlineage_facets_on_complete``)
and one line in ``__init__`` (their outlets). See docs/lineage.md for what each reports.

- ``naming``: dataset namespaces and names (OpenLineage naming; ``celonis://<team host>``).
- ``assets``: the Asset an extract or push declares as ``outlets``, from arguments only.
- ``facts``: what an operator kept while it ran, and the plain :class:`Lineage` built from it.
- ``reports``: what each operator family reports, read from the operator at completion.
- ``openlineage``: a ``Lineage`` as the OpenLineage provider's ``OperatorLineage`` (imported only
  when that provider asks; the extra ``[openlineage]``), never failing the task.
"""
