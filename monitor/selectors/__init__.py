"""Read queries for the pages: what each one shows, fetched in a few queries.

One module per page (``overview``, ``endpoint``, ``run``, ``compare``, ``alerts``,
``prompt_sets``), with what several share: ``series`` (metric series, downsampling and chart
payloads) and ``metrics`` (labels and ordering of the metrics)."""
