"""Fuzz suite of the format readers (issue 16 item 7).

Seeded mutations of small valid files of every format (``seeds``, ``mutators``) are read by the public
readers of :mod:`cardiomm.io` in worker processes with a watchdog (``runner``, ``worker``), and every
outcome is classified (``oracle``): ``ok`` (a result that passes validation), ``typed`` (a
:class:`~cardiomm.errors.CardiommError` naming the file) or a failure (``crash``, ``hang``,
``untyped``, ``invalid``, ``unnamed``, ``silent``). ``python -m tests.fuzz --help`` runs a campaign.
"""
