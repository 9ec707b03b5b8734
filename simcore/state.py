"""Simulated state: one JSON-serialisable namespace per area, saved as one document.

Areas own their namespace (a dict) and may only store JSON types in it, so that a state file
can round-trip everything. All access happens under `State.lock`, which a simulator's request
pipeline holds while a handler runs; handlers are therefore serialised.
"""

import copy
import json
import os
import tempfile
import threading

STATE_FORMAT = 1


class State:
    """Namespaces of simulated state with JSON persistence."""

    def __init__(self):
        self.lock = threading.RLock()
        self.namespaces = {}
        self._factories = {}

    def register(self, name, factory):
        """Declare a namespace and the function that builds its initial content."""
        with self.lock:
            self._factories[name] = factory
            if name not in self.namespaces:
                self.namespaces[name] = factory()
            return self.namespaces[name]

    def namespace(self, name):
        """The live dict of a namespace (callers hold `lock` while they use it)."""
        return self.namespaces[name]

    def reset(self):
        """Rebuild every namespace from its factory, in place (areas keep their references)."""
        with self.lock:
            for name, factory in self._factories.items():
                fresh = factory()
                self.namespaces[name].clear()
                self.namespaces[name].update(fresh)

    def dump(self):
        """A deep copy of all namespaces, as JSON types."""
        with self.lock:
            return json.loads(json.dumps({"format": STATE_FORMAT, "namespaces": self.namespaces}))

    def load(self, document):
        """Replace the content of known namespaces with a copy of the saved one (unknown ones are ignored):
        the document stays the caller's, so one saved state can be loaded again and again."""
        with self.lock:
            for name, content in document.get("namespaces", {}).items():
                if name in self.namespaces:
                    self.namespaces[name].clear()
                    self.namespaces[name].update(copy.deepcopy(content))

    def save_file(self, path):
        """Write atomically (temp file + rename), so a crash never leaves half a state file."""
        document = self.dump()
        directory = os.path.dirname(os.path.abspath(path))
        handle, temp_path = tempfile.mkstemp(prefix=".simstate-", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=1, sort_keys=True)
            os.replace(temp_path, path)
        except BaseException:
            os.unlink(temp_path)
            raise

    def load_file(self, path):
        """Load a state file written by save_file."""
        with open(path, encoding="utf-8") as handle:
            self.load(json.load(handle))
