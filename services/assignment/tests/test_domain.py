from leadflow_assignment.domain.routing import route


def test_a_referred_lead_goes_back_to_its_referrer() -> None:
    decision = route("rep-wang", default_pool="public")
    assert (decision.rule, decision.owner_id, decision.pool_id) == ("referral", "rep-wang", None)


def test_a_lead_no_rule_routes_waits_in_the_default_pool() -> None:
    decision = route(None, default_pool="east-china")
    assert (decision.rule, decision.owner_id, decision.pool_id) == ("default_pool", None, "east-china")
