"""Private-network compliance auditor for AWS.

The pipeline flows one way: config -> collect -> snapshot -> model -> (analyzers,
evaluation, reports in later layers). Nothing here does work at import time.
"""

__version__ = "0.1.0"
