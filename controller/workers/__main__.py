"""`python -m controller.workers`: one worker process of the API's pool."""

import sys

from controller.workers.child import main

sys.exit(main())
