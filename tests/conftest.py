"""Makes the collection importable as ansible_collections.mptcp.linux for plain pytest."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".tmp", "collections"))

for path in COLLECTIONS.split(os.pathsep):
    if path not in sys.path:
        sys.path.insert(0, path)
