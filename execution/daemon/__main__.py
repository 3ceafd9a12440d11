import sys

from execution.daemon.server import main

sys.exit(main())
