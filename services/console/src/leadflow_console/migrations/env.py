from leadflow_console.db import metadata
from leadflow_shared.migrations import run_migrations

run_migrations(metadata)
