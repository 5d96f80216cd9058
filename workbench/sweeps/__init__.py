"""The parts of :mod:`workbench.sweep` (batch runs over a grid of config values).

``axes`` parses the axes (``KEY=V1,V2``, ``linspace(a,b,n)``...) and expands them into
combinations; ``plan`` resolves every combination into a run before anything runs;
``progress`` reports progress; ``results`` holds what a sweep did and shows it (table,
failures, plot); ``worker`` is what runs in a worker process (a local pool process or a Dask
worker): it must stay importable without the parent's ``__main__``; ``local`` and
``dask_executor`` run tasks; ``summary`` writes and reads ``summary.csv``/``summary.json`` and
draws the sweep plot. The public API is :mod:`workbench.sweep`.
"""
