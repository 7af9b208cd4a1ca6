"""edgec.schedule: tensor lifetimes, arena planning, patch-based stages and the split search."""

from edgec.schedule.arena import ArenaPlan, PlanError, plan_arena, verify_plan
from edgec.schedule.patch import NotPatchable, Patch, PatchOp, PatchStage, Window, analyze_patches, run_patch_stage
from edgec.schedule.split_search import Candidate, choose_schedule, format_candidates, pareto, search_schedules

__all__ = [
    "ArenaPlan",
    "Candidate",
    "NotPatchable",
    "Patch",
    "PatchOp",
    "PatchStage",
    "PlanError",
    "Window",
    "analyze_patches",
    "choose_schedule",
    "format_candidates",
    "pareto",
    "plan_arena",
    "run_patch_stage",
    "search_schedules",
    "verify_plan",
]
