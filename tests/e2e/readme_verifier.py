"""The back-end's signature check from README.md ("For back-end authors"), run as written.

The README's Python block is the one copy: this module cuts it out of the README and runs it,
with the secret file it opens replaced by the test's secret, so a test that verifies a
notification verifies it exactly the way the README tells back-end authors to.
"""

import io
import os
import re

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")


def readme_block():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## For back-end authors", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def load(secret):
    """The README's namespace (signed_by_bitsd, handle, SECRET, ...) with `secret` as the key."""
    namespace = {"open": lambda *args, **kwargs: io.BytesIO(secret + b"\n")}
    exec(compile(readme_block(), README, "exec"), namespace)
    return namespace


class Headers:
    """A received request's headers as a web framework gives them: names case-insensitive."""

    def __init__(self, pairs):
        self._values = {}
        for name, value in pairs:
            self._values.setdefault(name.lower(), value)

    def __getitem__(self, name):
        return self._values[name.lower()]

    def get(self, name, default=None):
        return self._values.get(name.lower(), default)

    def replaced(self, name, value):
        copy = Headers([])
        copy._values = dict(self._values)
        copy._values[name.lower()] = value
        return copy
