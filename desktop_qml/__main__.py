"""``python -m desktop_qml [--profile FILE] [--overlay]``: the operators' desktop client."""

import sys

from desktop_qml.app import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
