"""gunicorn's configuration, named by ``--config python:<this module>`` (``make web``).

gunicorn's master imports it before it forks its workers, so they share one
metrics directory and ``GET /metrics``, whichever worker answers it, adds up
the requests of all of them.
"""

from ..telemetry.metrics import use_multiprocess_mode

use_multiprocess_mode()
