"""``python -m airflow_dicomweb.cli``: the ``dicomweb`` command."""

import sys

from airflow_dicomweb.cli.main import main

sys.exit(main())
