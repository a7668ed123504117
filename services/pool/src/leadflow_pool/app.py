"""pool, wired: leads.assigned.v1 in, follow-up workflows on Temporal, leads.recycled.v1 out."""

from leadflow_pool import consumers, db, http
from leadflow_pool.settings import PoolSettings
from leadflow_pool.temporal import TemporalWorker
from leadflow_shared.service import Service

service = Service(
    name="pool",
    http_port=8004,
    description="public pools (公海), follow-up deadlines and recycling",
    metadata=db.metadata,
    controllers=[http.PoolLeadController],
    subscriptions=consumers.make_subscriptions,
    components=[TemporalWorker],
    settings_class=PoolSettings,
)
main = service.serve
cli = service.cli()
