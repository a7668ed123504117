"""pool, wired: leads.assigned.v1 in, follow-up workflows on Temporal, leads.recycled.v1 out."""

from leadflow_pool import consumers, db, http
from leadflow_pool.bootstrap import bootstrap
from leadflow_pool.settings import PoolSettings
from leadflow_shared.service import Service

service = Service(
    name="pool",
    http_port=8004,
    description="public pools (公海), follow-up deadlines and recycling",
    metadata=db.metadata,
    settings_class=PoolSettings,
    bootstrap=bootstrap,
    subscriptions=consumers.subscriptions,
    controllers=[http.PoolLeadController],
)
main = service.serve
cli = service.cli()
