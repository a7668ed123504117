"""The sales pipeline (商机阶段) as a sales team keeps it in Git: the open stages in order with their win
probabilities, which stages a deal may be won from, and the managed list of reasons a deal is lost.

Validated whole: a document with any error is refused with every error and its path, nothing applied.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from leadflow_opportunity.domain.model import Refusal
from leadflow_shared.documents import DocumentError, Problem, parse_yaml, pydantic_problems

WON = "won"
LOST = "lost"
CLOSED = (WON, LOST)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Stage(_Strict):
    id: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=50, description="Shown to people (中文).")
    name_en: str | None = Field(None, max_length=50)
    probability: float = Field(ge=0, le=1, description="Chance of winning a deal at this stage (赢率).")

    def label(self, language: str) -> str:
        return self.name_en or self.id if language == "en" else self.name


class LostReason(_Strict):
    id: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=100)
    name_en: str | None = Field(None, max_length=100)


class Pipeline(_Strict):
    """Open stages in order; `won` and `lost` close a deal and are not listed."""

    stages: tuple[Stage, ...] = Field(min_length=1)
    win_from: tuple[str, ...] = Field((), description="Stages a deal may be won from (empty: any open stage).")
    allow_skip: bool = Field(True, description="A deal may jump forward over stages (backwards always may).")
    lost_reasons: tuple[LostReason, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Pipeline:
        ids = [s.id for s in self.stages]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"stage ids repeat: {', '.join(repeated)}")
        if set(ids) & set(CLOSED):
            raise ValueError("won and lost close a deal: they are not open stages")
        unknown = [s for s in self.win_from if s not in ids]
        if unknown:
            raise ValueError(f"win_from names unknown stages: {', '.join(unknown)}")
        reasons = [r.id for r in self.lost_reasons]
        if len(set(reasons)) != len(reasons):
            raise ValueError("lost reason ids repeat")
        return self

    @property
    def first(self) -> Stage:
        return self.stages[0]

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def probability(self, stage_id: str) -> float:
        if stage_id == WON:
            return 1.0
        stage = self.stage(stage_id)
        return stage.probability if stage else 0.0

    def lost_reason(self, reason_id: str) -> LostReason | None:
        return next((r for r in self.lost_reasons if r.id == reason_id), None)

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


DEFAULT_PIPELINE = Pipeline(
    stages=(
        Stage(id="initial_contact", name="初步接洽", name_en="Initial contact", probability=0.1),
        Stage(id="needs_analysis", name="需求调研", name_en="Needs analysis", probability=0.2),
        Stage(id="proposal", name="方案呈现", name_en="Proposal", probability=0.4),
        Stage(id="technical_review", name="技术交流", name_en="Technical review", probability=0.5),
        Stage(id="negotiation", name="商务谈判", name_en="Negotiation", probability=0.7),
        Stage(id="contract", name="合同签署", name_en="Contract signing", probability=0.9),
    ),
    win_from=("negotiation", "contract"),
    lost_reasons=(
        LostReason(id="price", name="价格原因", name_en="Price"),
        LostReason(id="competitor", name="选择竞品", name_en="Chose a competitor"),
        LostReason(id="no_budget", name="无预算", name_en="No budget"),
        LostReason(id="no_decision", name="需求搁置", name_en="No decision"),
        LostReason(id="product_fit", name="产品不匹配", name_en="Product does not fit"),
        LostReason(id="unreachable", name="联系不上", name_en="Unreachable"),
        LostReason(id="other", name="其他", name_en="Other"),
    ),
)


def parse_pipeline(raw: Any) -> Pipeline:
    if isinstance(raw, str):
        raw = parse_yaml(raw)
    if not isinstance(raw, dict):
        raise DocumentError([Problem(path="", message="a pipeline document is a mapping (stages, lost_reasons)")])
    try:
        return Pipeline.model_validate(raw)
    except ValidationError as exc:
        raise DocumentError(pydantic_problems(exc)) from None


def dump_pipeline_yaml(pipeline: Pipeline) -> str:
    return yaml.safe_dump(pipeline.document(), allow_unicode=True, sort_keys=False)


# ---- moves ---------------------------------------------------------------------------------------------

def check_move(pipeline: Pipeline, current: str, status: str, to: str, *, lost_reason: str | None = None,
               contract_ref: str | None = None) -> Refusal | None:
    """Why a deal at `current` may not move to `to` (None: it may). Won and lost are final."""
    if status != "open":
        return Refusal(409, "closed", f"the opportunity is already {status}", f"商机已{_CLOSED_ZH.get(status, status)}，不能再变更阶段")
    if to == current:
        return Refusal(409, "same_stage", f"the opportunity is already at {to}", f"商机已处于阶段 {to}")
    if to == LOST:
        return _check_lost(pipeline, lost_reason)
    if to == WON:
        return _check_won(pipeline, current, contract_ref)
    if pipeline.stage(to) is None:
        known = ", ".join([*(s.id for s in pipeline.stages), WON, LOST])
        return Refusal(422, "unknown_stage", f"no stage {to!r}; stages: {known}", f"没有阶段 {to!r}；可选：{known}")
    if not pipeline.allow_skip and _index(pipeline, to) > _index(pipeline, current) + 1:
        return Refusal(409, "skipped_stage", f"move one stage at a time: {current} is followed by "
                       f"{pipeline.stages[_index(pipeline, current) + 1].id}", "阶段须逐级推进，不能跳过")
    return None


def _check_lost(pipeline: Pipeline, reason: str | None) -> Refusal | None:
    if not reason:
        return Refusal(422, "lost_reason_required", "a lost opportunity needs a reason (lost_reason)", "输单须填写原因（lost_reason）")
    if pipeline.lost_reason(reason) is None:
        known = ", ".join(r.id for r in pipeline.lost_reasons)
        return Refusal(422, "unknown_lost_reason", f"no lost reason {reason!r}; reasons: {known}",
                       f"没有输单原因 {reason!r}；可选：{known}")
    return None


def _check_won(pipeline: Pipeline, current: str, contract_ref: str | None) -> Refusal | None:
    if not contract_ref or not contract_ref.strip():
        return Refusal(422, "contract_required", "a won opportunity needs its contract reference (contract_ref)",
                       "赢单须填写合同编号（contract_ref）")
    if pipeline.win_from and current not in pipeline.win_from:
        allowed = ", ".join(pipeline.win_from)
        return Refusal(409, "not_winnable", f"a deal is won from {allowed}, not from {current}",
                       f"只有处于 {allowed} 阶段的商机可以赢单")
    return None


def _index(pipeline: Pipeline, stage_id: str) -> int:
    return next((i for i, s in enumerate(pipeline.stages) if s.id == stage_id), -1)


_CLOSED_ZH = {WON: "赢单", LOST: "输单"}
