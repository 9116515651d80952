"""Presenting: a run's Stats as people and programs read them.

Takes :class:`~tunestats.job.results.Stats`; hands on text, JSON and HTML (written through
``io``), and a progress bar while a run goes.

- ``text``: the text report and the sentences every output shares (tokenizer, media lines).
- ``view``: the page model of a run (what the HTML page and a batch record's page show).
- ``html``: the page and the batch index rendered from page models.
- ``report_json``: ``--report-json``, everything the text report shows as JSON.
- ``progress``: the progress bar and the counters workers report to.
"""
