"""The case pages: a handler's phone page of their unit's cases (accept, return, dispose with a photo), and
staff's case board (dispatch, recheck, close or reopen). Each form calls one function of points/cases/workflow.py,
as the API does."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from points.areas import grids
from points.cases import extensions, outbox, rating, reading, units
from points.cases import workflow as cases
from points.errors import DomainError
from points.infra.photo_store import PhotoStore
from points.ops.dispatch import Dispatcher
from points.reports.intake import PhotoLimits
from points.vocabulary import CaseState, OutboxState
from rules import Rules
from web import flows
from web.auth import handlers_only, staff_only
from web.pages import act, back, field_errors, form_number, render
from web.photos import chosen_files
from web.schemas.base import IdPath, IdQuery


class HandlerPages(Controller):
    path = "/handler"
    include_in_schema = False
    guards = [handlers_only]

    @get("/")
    async def mine(self, request: Request, rules: NamedDependency[Rules]) -> Template:
        return await _handler_page(request, rules)

    @post("/cases/{case_id:int}/{action:str}", status_code=303)
    async def act_on(self, request: Request, case_id: IdPath,
                     action: FromPath[Literal["accept", "return", "dispose", "extension"]],
                     rules: NamedDependency[Rules], store: NamedDependency[PhotoStore],
                     limits: NamedDependency[PhotoLimits], dispatcher: NamedDependency[Dispatcher]) -> Redirect:
        data = await request.form()
        note = str(data.get("note", ""))
        if action == "accept":
            call = cases.accept(request.user, case_id)
        elif action == "return":
            call = cases.return_case(request.user, rules, case_id, note)
        elif action == "extension":
            try:
                until = datetime.combine(date.fromisoformat(str(data.get("until", ""))), time(23, 59), rules.tz)
            except ValueError:
                return back("/handler/", "error.invalid_input")
            call = extensions.ask_extension(request.user, case_id, until, note)
        else:
            try:
                await flows.move_case(dispatcher, cases.dispose(request.user, case_id, note,
                                                                await chosen_files(data, "photos"), store, limits))
            except DomainError as exc:
                if exc.status in (403, 404):
                    raise
                # the page again, the typed note kept and the refusal beside the case it is about
                return await _handler_page(request, rules, exc.status,
                                           {"case": case_id, "note": note, "errors": field_errors(request, exc)})
            return back("/handler/", "case_dispose")
        return await act(flows.move_case(dispatcher, call), "/handler/", f"case_{action}")


async def _handler_page(request: Request, rules: Rules, status: int = 200,
                        refused: dict[str, Any] | None = None) -> Template:
    rows = await reading.listing(request.user, limit=100)
    pins = [{"id": c["id"], "lat": c["report"]["lat"], "lng": c["report"]["lng"], "priority": c["priority"],
             "href": f"#case-{c['id']}"} for c in rows if c["report"]]
    return render(request, "handler_cases.html", status, rows=rows, rules=rules, refused=refused or {},
                  map=await grids.map_view(request.user.community_id, pins))


class StaffCasePages(Controller):
    path = "/staff/cases"
    include_in_schema = False
    guards = [staff_only]

    @get("/")
    async def board(self, request: Request, rules: NamedDependency[Rules],
                    in_state: Annotated[CaseState | None, QueryParameter(name="state")] = None, unit: IdQuery = None,
                    grid: Annotated[str | None, QueryParameter(max_length=32)] = None,
                    needs_look: FromQuery[bool] = False) -> Template:
        """The case board: by state, unit and grid, soonest deadline first; or what needs a look."""
        rows = await reading.listing(request.user, in_state, unit, 200, needs_look, grid or None)
        return render(request, "staff_cases.html", rows=rows, rules=rules,
                      units=await units.serving(request.user.community_id), states=tuple(CaseState),
                      grids=await grids.listing(request.user.community_id), state=in_state or "", unit=unit or "",
                      grid=grid or "", needs_look=needs_look)

    @get("/{case_id:int}")
    async def one(self, request: Request, case_id: IdPath, rules: NamedDependency[Rules]) -> Template:
        """One case as a recheck needs it: the report's photos beside the fix's, the handler's note, and the
        timeline with every reason (return, extension, reopen)."""
        case = await reading.view(request.user, case_id)
        return render(request, "staff_case.html", c=case, fix=reading.latest_fix(case), rules=rules,
                      units=await units.serving(case["community_id"]))

    @get("/forwarded")
    async def forwarded(self, request: Request,
                        in_state: Annotated[OutboxState | None, QueryParameter(name="state")] = None) -> Template:
        """What went to outside systems, and what waits for a person (parked)."""
        return render(request, "staff_outbox.html", rows=await outbox.listing(request.user, in_state, 200),
                      states=tuple(OutboxState), state=in_state or "")

    @post("/forwarded/{event_id:int}/retry", status_code=303)
    async def retry(self, request: Request, event_id: IdPath, dispatcher: NamedDependency[Dispatcher]) -> Redirect:
        return await act(flows.retry_forwarded(dispatcher, request.user, event_id), "/staff/cases/forwarded",
                         "outbox_retried")

    @post("/{case_id:int}/{action:str}", status_code=303)
    async def act_on(self, request: Request, case_id: IdPath,
                     action: FromPath[Literal["dispatch", "recheck", "close", "reopen", "grant", "refuse",
                                              "reopen_unsatisfied"]],
                     rules: NamedDependency[Rules], dispatcher: NamedDependency[Dispatcher],
                     store: NamedDependency[PhotoStore], limits: NamedDependency[PhotoLimits]) -> Redirect:
        data = await request.form()
        note = str(data.get("note", ""))
        if action == "dispatch":
            try:
                unit = form_number(data, "unit") or 0
            except DomainError:
                unit = 0
            call = cases.dispatch(request.user, rules, case_id, unit, note)
        elif action == "recheck":
            call = cases.recheck(request.user, case_id)
        elif action in ("grant", "refuse"):
            call = extensions.decide_extension(request.user, case_id, action == "grant", note)
        elif action == "reopen_unsatisfied":
            call = rating.reopen_unsatisfied(request.user, rules, case_id, note)
        else:  # the recheck's finding, with the checker's own photo when one was taken
            call = cases.conclude(request.user, rules, case_id, action == "close", note,
                                  await chosen_files(data, "photos"), store, limits)
        # dispatching is done from the board, a row at a time; the rest from the case's own page
        where = "/staff/cases/" if action == "dispatch" else f"/staff/cases/{case_id}"
        return await act(flows.move_case(dispatcher, call), where, f"case_{action}")
