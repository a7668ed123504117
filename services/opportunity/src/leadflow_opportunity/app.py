"""opportunity, wired: leads.assigned.v1 and leads.recycled.v1 in, lead owners over HTTP."""

from leadflow_opportunity import consumers, db, http
from leadflow_opportunity.bootstrap import bootstrap
from leadflow_opportunity.settings import OpportunitySettings
from leadflow_shared.service import Service

service = Service(
    name="opportunity",
    http_port=8005,
    description="converts qualified leads into customers and opportunities",
    metadata=db.metadata,
    settings_class=OpportunitySettings,
    bootstrap=bootstrap,
    subscriptions=consumers.subscriptions,
    controllers=[http.LeadOwnerController],
)
main = service.serve
cli = service.cli()
