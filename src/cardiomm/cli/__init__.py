"""The ``cardiomm`` command line. Sub-commands live in sibling modules and register themselves."""

__all__: list[str] = []
