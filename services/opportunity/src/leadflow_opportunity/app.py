"""opportunity, wired: leads.assigned.v1 and leads.recycled.v1 in, lead owners over HTTP."""

from leadflow_opportunity import consumers, db, http
from leadflow_opportunity.settings import OpportunitySettings
from leadflow_shared.service import Service

service = Service(
    name="opportunity",
    http_port=8005,
    description="converts qualified leads into customers and opportunities",
    metadata=db.metadata,
    controllers=[http.LeadOwnerController],
    subscriptions=consumers.subscriptions,
    settings_class=OpportunitySettings,
)
main = service.serve
cli = service.cli()
