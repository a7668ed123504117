"""The submission pipeline (what POST /v1/leads, the batch API and imports all run).

One transaction per batch, set-wise: lock the batch's people (and the companies it may create), look
everything up in a few indexed queries, decide lead by lead in memory (a batch may hold the same person
twice), then write leads, contacts, companies, submissions and outgoing events with one statement each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow_intake.db import CustomerByName, IntakeRepository
from leadflow_intake.domain.lead import CleanLead, fill_blanks
from leadflow_intake.domain.matching import CompanyCandidate, CompanyLink, compatible, link_company
from leadflow_intake.domain.model import LeadStatus
from leadflow_shared.normalize import LATIN_CORE, CompanyName, NameReading, typo_variants
from leadflow_intake.domain.risk import RecentTraffic, RiskPolicy, assess
from leadflow_shared.contracts import LEADS_DUPLICATE_DETECTED, LEADS_RECEIVED, LeadSnapshot, Topic
from leadflow_shared.db import UnitOfWork


@dataclass(frozen=True)
class Accepted:
    """What a partner is told about one accepted lead."""

    lead_id: uuid.UUID
    submission_id: uuid.UUID
    outcome: str  # created | merged | flagged
    duplicate_of: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in self.__dict__.items()}


@dataclass
class _Batch:
    """What the batch found in the database, and what it has decided so far."""

    contact_owner: dict[str, uuid.UUID]
    leads: dict[uuid.UUID, dict[str, Any]]
    companies: CompanyIndex
    customers_by_code: dict[str, tuple[uuid.UUID, str | None]]
    customers_by_core: dict[str, list[CustomerByName]]
    customers_by_contact: dict[str, tuple[uuid.UUID, str | None]]
    blocked: set[str]
    by_ip: dict[str, int]
    by_device: dict[str, int]
    new_leads: list[dict[str, Any]] = field(default_factory=list)
    new_lead_ids: set[uuid.UUID] = field(default_factory=set)
    changed_leads: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    new_contacts: list[dict[str, Any]] = field(default_factory=list)
    new_companies: list[dict[str, Any]] = field(default_factory=list)
    new_variants: list[dict[str, Any]] = field(default_factory=list)
    new_submissions: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[Topic, uuid.UUID, dict[str, Any]]] = field(default_factory=list)  # contract-shaped


class SubmissionPipeline:
    def __init__(self, policy: RiskPolicy) -> None:
        self.policy = policy

    async def submit(
        self, uow: UnitOfWork, items: list[CleanLead], *, partner_id: str | None | list[str | None],
        import_id: uuid.UUID | None = None,
    ) -> list[Accepted]:
        """Accept these leads in the uow's transaction, in order; `partner_id` is one partner for all of them,
        or a list of each lead's own (single posts of several partners committed together)."""
        partners = partner_id if isinstance(partner_id, list) else [partner_id] * len(items)
        repo = IntakeRepository(uow.session)
        await repo.lock([k for lead in items for k in lead.contact_keys()])
        batch = await self.look_up(repo, items)
        await self._lock_new_companies(repo, batch, items)
        results = [self._decide(batch, lead, partner, import_id) for lead, partner in zip(items, partners, strict=True)]
        await self._write(repo, uow, batch)
        return results

    async def look_up(self, repo: IntakeRepository, items: list[CleanLead]) -> _Batch:
        """What the dedupe base knows of these leads: their contacts' leads (locked), their customers, the
        companies they may work for (by credit code, core, one-typo variants, tolerant readings, trigrams),
        the blocklist and their visitors' recent traffic."""
        names = [lead.company for lead in items if lead.company]
        read_as = [r.core for lead in items for r in lead.company_readings]
        since = datetime.now(UTC) - timedelta(seconds=self.policy.burst_window_s)
        found = await repo.look_up(
            [k for lead in items for k in lead.contact_keys()],
            [lead.credit_code for lead in items if lead.credit_code],
            [n.core for n in names] + read_as,
            [d for lead in items if (d := lead.email_domain)],
            [lead.client_ip for lead in items if lead.client_ip],
            [lead.device_id for lead in items if lead.device_id],
            since,
        )
        found_leads = await repo.leads_for_update(found.owners.values())
        known = {c.core for c in found.companies.values()}
        unknown = [n.core for n in names if n.core not in known]  # typo variants only where nothing matched
        near, similar = await repo.near_companies(
            {core: typo_variants(core) for core in unknown},
            [core for core in unknown if LATIN_CORE.match(core)],
            known=known,
        ) if unknown else ([], {})
        named = {c.core for c in near} | {c.core for cs in similar.values() for c in cs}
        if named - found.customers_by_core.keys():  # a typo may link to a company the customer master knows
            found.customers_by_core.update(await repo.customers_by_core(named - found.customers_by_core.keys()))
        return _Batch(
            contact_owner=found.owners, leads=found_leads,
            companies=CompanyIndex([*found.companies.values(), *near], similar),
            customers_by_code=found.customers_by_code, customers_by_core=found.customers_by_core,
            customers_by_contact=found.customers_by_contact, blocked=found.blocked,
            by_ip=found.by_ip, by_device=found.by_device,
        )

    async def _lock_new_companies(self, repo: IntakeRepository, batch: _Batch, items: list[CleanLead]) -> None:
        """Lock the companies this batch may create, then look them up again: a batch that created one of
        them while this one waited has committed it. A company already known needs no lock (linking to it
        writes nothing to it), so concurrent batches of known companies never wait for each other."""
        unlinked = [lead for lead in items if lead.company and not _link(batch, lead)]
        if not unlinked:
            return
        await repo.lock([k for lead in unlinked for k in _company_lock_keys(lead)])
        found = await repo.companies([lead.credit_code for lead in unlinked if lead.credit_code],
                                     [lead.company.core for lead in unlinked if lead.company])
        for candidate in found:
            batch.companies.add(candidate)

    def _decide(self, batch: _Batch, lead: CleanLead, partner_id: str | None, import_id: uuid.UUID | None) -> Accepted:
        submission_id = uuid.uuid4()
        reasons = self._risk(batch, lead)
        matched_key, existing_id = _person_match(batch, lead)
        link = _link(batch, lead) if lead.company or lead.credit_code else None
        company_id = self._company(batch, lead, link)
        customer_id, account_owner = _customer(batch, lead, link)
        now = datetime.now(UTC)

        if existing_id is None:
            lead_id, outcome = uuid.uuid4(), ("flagged" if reasons else "created")
            record = {"id": lead_id, "fields": lead.snapshot(), "company_id": company_id, "customer_id": customer_id,
                      "account_owner_id": account_owner, "owner_id": None,
                      "status": LeadStatus.flagged if reasons else LeadStatus.received,
                      "created_at": now, "updated_at": now}
            batch.new_leads.append(record)
            batch.new_lead_ids.add(lead_id)
            batch.leads[lead_id] = record
            duplicate_of = None
        else:
            lead_id, duplicate_of = existing_id, existing_id
            record = batch.leads[existing_id]
            outcome = "flagged" if reasons else "merged"
            if not reasons:  # a suspicious submission never edits a real lead
                self._merge(batch, record, lead, company_id, customer_id, account_owner)
        for key in lead.contact_keys():
            if key not in batch.contact_owner and not (reasons and existing_id):
                batch.contact_owner[key] = lead_id
                batch.new_contacts.append({"key": key, "lead_id": lead_id})
        batch.new_submissions.append({
            "id": submission_id, "lead_id": lead_id, "partner_id": partner_id, "outcome": outcome,
            "duplicate_of": duplicate_of, "risk_reasons": reasons, "fields": lead.fields,
            "client_ip": lead.client_ip, "device_id": lead.device_id, "import_id": import_id, "received_at": now,
        })
        self._count_traffic(batch, lead)
        if outcome != "flagged":
            self._announce(batch, record, lead_id, submission_id, outcome, duplicate_of, partner_id, matched_key)
        return Accepted(lead_id, submission_id, outcome, duplicate_of, record.get("company_id"),
                        record.get("customer_id"))

    def _merge(self, batch: _Batch, record: dict[str, Any], lead: CleanLead, company_id: uuid.UUID | None,
               customer_id: uuid.UUID | None, account_owner: str | None) -> None:
        """Fill the existing lead's blanks; keep its owner and history. A held-back lead is released."""
        record["fields"] = fill_blanks(record["fields"], lead.snapshot())
        record["company_id"] = record.get("company_id") or company_id
        record["customer_id"] = record.get("customer_id") or customer_id
        record["account_owner_id"] = record.get("account_owner_id") or account_owner
        if record["status"] == LeadStatus.flagged:
            record["status"] = LeadStatus.received
        if record["id"] not in batch.new_lead_ids:
            batch.changed_leads[record["id"]] = record

    def _risk(self, batch: _Batch, lead: CleanLead) -> list[str]:
        blocked = [key.split(":", 1)[0] for key in lead.contact_keys() if key in batch.blocked]
        if lead.email_domain and f"email_domain:{lead.email_domain}" in batch.blocked:
            blocked.append("email_domain")
        if lead.client_ip and f"ip_range:{lead.client_ip}" in batch.blocked:
            blocked.append("ip")
        recent = RecentTraffic(by_ip=batch.by_ip.get(lead.client_ip or "", 0),
                               by_device=batch.by_device.get(lead.device_id or "", 0))
        return assess(lead, self.policy, recent, blocked)

    @staticmethod
    def _count_traffic(batch: _Batch, lead: CleanLead) -> None:
        if lead.client_ip:
            batch.by_ip[lead.client_ip] = batch.by_ip.get(lead.client_ip, 0) + 1
        if lead.device_id:
            batch.by_device[lead.device_id] = batch.by_device.get(lead.device_id, 0) + 1

    def _company(self, batch: _Batch, lead: CleanLead, link: CompanyLink | None) -> uuid.UUID | None:
        if not lead.company and not lead.credit_code:
            return None
        if link:
            return link.company_id
        if not lead.company:
            return None  # a credit code alone names no company we could show
        company_id = uuid.uuid4()
        where = lead.whereabouts
        row = {"id": company_id, "name": lead.fields["company_name"], "core": lead.company.core,
               "region": lead.company.region, "city": where.city, "industry": where.industry,
               "credit_code": lead.credit_code}
        batch.new_companies.append(row)
        batch.new_variants += [{"variant": v, "company_id": company_id} for v in typo_variants(lead.company.core)]
        batch.companies.add(CompanyCandidate(company_id, lead.company.core, lead.company.region, lead.credit_code,
                                             where.city, where.industry))
        return company_id

    @staticmethod
    def _announce(batch: _Batch, record: dict[str, Any], lead_id: uuid.UUID, submission_id: uuid.UUID,
                  outcome: str, duplicate_of: uuid.UUID | None, partner_id: str | None, matched_key: str | None) -> None:
        batch.events.append((LEADS_RECEIVED, lead_id, received_data(record, lead_id, submission_id, outcome,
                                                                    duplicate_of, partner_id)))
        if outcome == "merged" and matched_key:
            batch.events.append((LEADS_DUPLICATE_DETECTED, lead_id, {
                "lead_id": lead_id, "submission_id": submission_id, "matched_on": matched_key.split(":", 1)[0],
                "current_owner_id": record.get("owner_id") or record.get("account_owner_id"),
                "partner_id": partner_id,
            }))

    @staticmethod
    async def _write(repo: IntakeRepository, uow: UnitOfWork, batch: _Batch) -> None:
        await repo.update_leads([
            {"id": r["id"], "fields": r["fields"], "status": r["status"], "company_id": r["company_id"],
             "customer_id": r["customer_id"], "account_owner_id": r["account_owner_id"]}
            for r in batch.changed_leads.values()
        ])
        await repo.add_batch(new_companies=batch.new_companies, new_variants=batch.new_variants,
                             new_leads=batch.new_leads, new_contacts=batch.new_contacts,
                             new_submissions=batch.new_submissions, outbox=uow.document_rows(batch.events))


class CompanyIndex:
    """The batch's company candidates, by what can link a lead to them (no lead scans them all)."""

    def __init__(self, candidates: list[CompanyCandidate], similar: dict[str, list[CompanyCandidate]]) -> None:
        self._by_code: dict[str, list[CompanyCandidate]] = {}
        self._by_variant: dict[str, list[CompanyCandidate]] = {}
        self._similar = similar
        for candidate in candidates:
            self.add(candidate)

    def add(self, candidate: CompanyCandidate) -> None:
        if candidate.credit_code:
            self._by_code.setdefault(candidate.credit_code, []).append(candidate)
        for key in {candidate.core, *typo_variants(candidate.core)}:
            self._by_variant.setdefault(key, []).append(candidate)

    def near(self, name: CompanyName | None, credit_code: str | None,
             readings: tuple[NameReading, ...] = ()) -> list[CompanyCandidate]:
        found: dict[uuid.UUID, CompanyCandidate] = {}
        keys = [name.core, *typo_variants(name.core), *(r.core for r in readings)] if name else []
        for candidate in [*self._by_code.get(credit_code or "", []),
                          *(c for key in keys for c in self._by_variant.get(key, [])),
                          *(self._similar.get(name.core, []) if name else [])]:
            found[candidate.id] = candidate
        return list(found.values())


# Every field of the snapshot contract with its default: a lead's stored fields written over them are the
# document LeadSnapshot would dump (extra fields such as company_canonical are kept, as the contract allows).
_SNAPSHOT_DEFAULTS = LeadSnapshot().model_dump(mode="json")


def received_data(record: dict[str, Any], lead_id: uuid.UUID, submission_id: uuid.UUID, outcome: str,
                  duplicate_of: uuid.UUID | None, partner_id: str | None) -> dict[str, Any]:
    """A `leads.received.v1` event's data (the LeadReceived contract) as the JSON-ready dict it is written
    from: validating and dumping a contract model per lead was a twelfth of intake's time. Tests parse it
    with the contract (test_received_contract.py)."""
    return {"lead_id": lead_id, "submission_id": submission_id, "outcome": outcome, "duplicate_of": duplicate_of,
            "company_id": record.get("company_id"), "customer_id": record.get("customer_id"),
            "account_owner_id": record.get("account_owner_id"), "partner_id": partner_id,
            "lead": {**_SNAPSHOT_DEFAULTS, "custom": {}, **record["fields"]}}


def _link(batch: _Batch, lead: CleanLead) -> CompanyLink | None:
    return link_company(lead.company, lead.credit_code, lead.whereabouts,
                        batch.companies.near(lead.company, lead.credit_code, lead.company_readings),
                        lead.company_readings)


def _company_lock_keys(lead: CleanLead) -> list[str]:
    """What two batches creating the same company share (the person's own keys are locked first)."""
    keys = [f"company:{lead.company.core}"] if lead.company else []
    return keys + ([f"company-code:{lead.credit_code}"] if lead.credit_code else [])


def _person_match(batch: _Batch, lead: CleanLead) -> tuple[str | None, uuid.UUID | None]:
    """The existing lead of the same person: first by mobile, then WeChat, then e-mail (oldest wins)."""
    for key in lead.contact_keys():
        if key in batch.contact_owner:
            return key, batch.contact_owner[key]
    return None, None


def _customer(batch: _Batch, lead: CleanLead, link: CompanyLink | None) -> tuple[uuid.UUID | None, str | None]:
    """The customer the lead is of: by credit code, a contact, or its company's name (as written, as the
    company it was linked to is known, or read through a slip), never another region's."""
    if lead.credit_code and lead.credit_code in batch.customers_by_code:
        return batch.customers_by_code[lead.credit_code]
    for key in lead.contact_keys():
        if key in batch.customers_by_contact:
            return batch.customers_by_contact[key]
    names = [(lead.company.core, lead.company.region)] if lead.company else []
    names += [(link.core, link.region)] if link else []
    names += [(r.core, r.region) for r in lead.company_readings if not r.region_guesses]
    for core, region in names:
        for customer in batch.customers_by_core.get(core, []):
            if compatible(region, customer.region):
                return customer.id, customer.owner_id
    return None, None
